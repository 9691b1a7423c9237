import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = resolve(BENCH_DIR, "..");
export const DEFAULT_RESULTS_DIR = join(BENCH_DIR, "results");

/** Where and how a benchmark ran: written beside every result (STYLE.md: commit, Node, CPU, command). */
export interface RunInfo {
  readonly date: string;
  readonly startedAt: string;
  /** `git rev-parse --short HEAD`, with `-dirty` when src/ has uncommitted changes. */
  readonly commit: string;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  /** 1-minute load average when the run started: other work on the machine skews the numbers. */
  readonly loadAverage1m: number;
  /** The command as run from the repository root. */
  readonly command: string;
  /** The kernel's `net.ipv4.tcp_pingpong_thresh` (see {@link tcpPingpongThresh}); null where unknown. */
  readonly tcpPingpongThresh: number | null;
  /** Receive steering on loopback (see {@link loopbackSteering}); null where unknown. */
  readonly loopbackSteering: string | null;
}

export function runInfo(): RunInfo {
  const now = new Date();
  return {
    date: now.toISOString().slice(0, 10),
    startedAt: now.toISOString(),
    commit: gitCommit(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    command: commandLine(),
    tcpPingpongThresh: tcpPingpongThresh(),
    loopbackSteering: loopbackSteering(),
  };
}

/**
 * The kernel's `net.ipv4.tcp_pingpong_thresh` (default 1), recorded with every run. A client socket that
 * answers pings (the lag probes) enters TCP's interactive ("pingpong") mode and leaves its ACKs to the
 * delayed-ACK timer, armed on the CPU that delivered the data: on loopback, the server's. Those ACKs are
 * then sent and processed (socket lookup, `tcp_ack`, freeing the acked buffers) as server CPU, which on a
 * network is the client host's. 255 keeps the clients' sockets out of that mode almost always (the count
 * of such exchanges stops at 255, so a socket reaches it after 255 pongs, and the next delayed ACK resets
 * it) (bench/results/2026-11-30-probe-cost-analysis.md). null where /proc does not have it.
 */
function tcpPingpongThresh(): number | null {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/tcp_pingpong_thresh", "utf8").trim());
  } catch {
    return null;
  }
}

/**
 * Receive steering on loopback, recorded with every run: `off`, or lo's `rps_cpus` mask and the flow
 * tables' sizes. Without it, a packet sent on loopback is received on the sending CPU, inside the
 * sender's `sendto`: the server's CPU does its clients' TCP receive work, which on a network is the
 * client hosts'. With RFS (`rps_sock_flow_entries` and lo's `rps_flow_cnt` set, `rps_cpus` covering the
 * CPUs) each socket's packets are received on the CPU that reads it, as on two hosts
 * (bench/README.md, "Where loopback puts the clients' kernel work").
 */
function loopbackSteering(): string | null {
  try {
    const read = (path: string): string => readFileSync(path, "utf8").trim();
    const cpus = read("/sys/class/net/lo/queues/rx-0/rps_cpus");
    const flows = Number(read("/proc/sys/net/core/rps_sock_flow_entries"));
    const queueFlows = Number(read("/sys/class/net/lo/queues/rx-0/rps_flow_cnt"));
    if (/^[0,]*$/.test(cpus)) return "off";
    return `rps_cpus ${cpus}, rps_sock_flow_entries ${flows}, rps_flow_cnt ${queueFlows}`;
  } catch {
    return null;
  }
}

function gitCommit(): string {
  try {
    const git = (...args: string[]): string =>
      execFileSync("git", args, {
        cwd: REPO_DIR,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    const commit = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--", "src").length > 0 ? `${commit}-dirty` : commit;
  } catch {
    return "unknown (not a git checkout)";
  }
}

function commandLine(): string {
  const script = relative(BENCH_DIR, process.argv[1] ?? "");
  const parts = ["node", ...process.execArgv, script, ...process.argv.slice(2)].map(quote);
  const direct = `(cd bench && ${parts.join(" ")})`;
  const npmScript = process.env["npm_lifecycle_event"];
  return npmScript !== undefined ? `npm --prefix bench run ${npmScript}  # ran: ${direct}` : direct;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

/**
 * Node flags for benchmark child processes: the parent's loader flags (tsx), without profiler,
 * perf or inspector flags (a `--cpu-prof` of the server should not also profile every client process).
 */
export function childExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (/^--(cpu-prof|heap-prof|prof|perf-|inspect)/.test(arg)) {
      if (/^--(cpu-prof|heap-prof)-(dir|name|interval)$/.test(arg)) i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}

export interface ResultFiles {
  readonly json: string;
  readonly markdown: string;
}

/**
 * Appends one run to `<dir>/<date>-<name>.json` (an array of runs) and a section to
 * `<dir>/<date>-<name>.md`, creating them on the first run of the day.
 */
export function writeResults(
  dir: string,
  name: string,
  title: string,
  record: { readonly info: RunInfo } & Record<string, unknown>,
  markdownSection: string,
): ResultFiles {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${record.info.date}-${name}`);
  const json = `${base}.json`;
  const runs: unknown[] = existsSync(json) ? (JSON.parse(readFileSync(json, "utf8")) as unknown[]) : [];
  runs.push(record);
  writeFileSync(json, JSON.stringify(runs, null, 2) + "\n");
  const markdown = `${base}.md`;
  if (!existsSync(markdown)) {
    writeFileSync(
      markdown,
      `# ${title} — ${record.info.date}\n\nOne section per run; the same runs are in ` +
        `\`${record.info.date}-${name}.json\`. How to read them: bench/README.md.\n`,
    );
  }
  appendFileSync(markdown, "\n" + markdownSection.trimEnd() + "\n");
  return { json, markdown };
}

/** The header every Markdown section starts with. */
export function infoMarkdown(info: RunInfo): string {
  return [
    `- commit: \`${info.commit}\`; Node ${info.node} (V8 ${info.v8}), ${info.platform}`,
    `- CPU: ${info.cpuModel}, ${info.cores} cores, ${info.memoryGiB} GiB; load average at start ${info.loadAverage1m}` +
      (info.tcpPingpongThresh !== null ? `; net.ipv4.tcp_pingpong_thresh ${info.tcpPingpongThresh}` : "") +
      (info.loopbackSteering !== null ? `; loopback receive steering ${info.loopbackSteering}` : ""),
    `- command: \`${info.command}\``,
  ].join("\n");
}

export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]): string => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** 1234567 → "1,234,567". */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** `n` rounded to `digits` decimals (for results files: 0.9617… → 0.962 with 3). */
export function rounded(n: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(n * scale) / scale;
}

/** The `p` quantile (0–1) of values sorted ascending, nearest rank below; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The kernel's TCP extension counters (`/proc/net/netstat`, the `TcpExt:` lines: `DelayedACKs`,
 * `TCPPureAcks`, …), machine-wide; only differences of two readings are meaningful. Empty where /proc
 * does not have them.
 */
export function tcpExtCounters(): ReadonlyMap<string, number> {
  const counters = new Map<string, number>();
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i]!.split(/\s+/);
      const values = lines[i + 1]!.split(/\s+/);
      if (names[0] !== "TcpExt:" || values[0] !== "TcpExt:") continue;
      for (let k = 1; k < names.length; k++) counters.set(names[k]!, Number(values[k]));
    }
  } catch {
    // No /proc: no counters.
  }
  return counters;
}

/** Machine-wide CPU time from /proc/stat (Linux), in clock ticks; `undefined` elsewhere. */
export function machineCpuTicks(): { readonly busy: number; readonly total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}
