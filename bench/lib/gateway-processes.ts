/**
 * The processes of a `tickwire serve` child (the supervisor and its workers, or one process with
 * `--workers 1`), found and measured from /proc, and its `/metrics` read per worker.
 */
import { readdirSync, readFileSync } from "node:fs";
import { sampleProcess, type ProcessSample } from "../../loadtest/index.ts";

/** Process ids whose parent is `pid` (a scan of /proc: works without CONFIG_PROC_CHILDREN). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised command name: state, then ppid.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process exited between readdir and read.
    }
  }
  return out.sort((a, b) => a - b);
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** The gateway's processes: with workers, the supervisor and its node children; else the one process. */
export interface GatewayPids {
  /** The supervisor (undefined with `--workers 1`: the gateway is then a single process). */
  readonly supervisor: number | undefined;
  /** The processes holding connections: the workers, or the single process. */
  readonly workers: readonly number[];
}

/** What the process `pid` (the `tickwire serve` child) runs now; its nats-server child is left out. */
export function gatewayPids(pid: number): GatewayPids {
  const workers = childPids(pid).filter((child) => commandName(child) === "node");
  return workers.length === 0 ? { supervisor: undefined, workers: [pid] } : { supervisor: pid, workers };
}

export interface GatewaySample {
  readonly atMs: number;
  readonly supervisor: ProcessSample | undefined;
  /** By worker pid, in the order of {@link GatewayPids.workers}. */
  readonly workers: readonly { readonly pid: number; readonly sample: ProcessSample | undefined }[];
}

export function sampleGateway(pids: GatewayPids): GatewaySample {
  return {
    atMs: performance.now(),
    supervisor: pids.supervisor === undefined ? undefined : sampleProcess(pids.supervisor),
    workers: pids.workers.map((pid) => ({ pid, sample: sampleProcess(pid) })),
  };
}

/** Sum over the workers of a figure (VmRSS, RssAnon); throws if a worker could not be read (it exited). */
export function sumWorkers(sample: GatewaySample, read: (s: ProcessSample) => number): number {
  let total = 0;
  for (const w of sample.workers) {
    if (w.sample === undefined) throw new Error(`gateway worker ${w.pid} is gone (crashed or restarted)`);
    total += read(w.sample);
  }
  return total;
}

/** CPU seconds of workers and supervisor between two samples (the same pids: a restart throws). */
export function gatewayCpuS(
  from: GatewaySample,
  to: GatewaySample,
): { workers: number[]; supervisor: number } {
  const workers = to.workers.map((w, i) => {
    const before = from.workers[i];
    if (w.sample === undefined || before?.sample === undefined || before.pid !== w.pid)
      throw new Error(`gateway worker ${w.pid} is gone (crashed or restarted) during the window`);
    return w.sample.cpuS - before.sample.cpuS;
  });
  const supervisor =
    to.supervisor !== undefined && from.supervisor !== undefined
      ? to.supervisor.cpuS - from.supervisor.cpuS
      : 0;
  return { workers, supervisor };
}

/** CPU seconds of any processes between two samples of each (a process gone counts 0). */
export function cpuBetween(
  from: readonly (ProcessSample | undefined)[],
  to: readonly (ProcessSample | undefined)[],
): number[] {
  return to.map((s, i) =>
    s === undefined || from[i] === undefined ? 0 : s.cpuS - (from[i] as ProcessSample).cpuS,
  );
}

/** `GET /metrics` of the gateway (answered by whichever worker gets the connection, with fleet totals). */
export async function scrapeMetrics(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

/** The value of an unlabelled sample `name value`. */
export function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split("\n"))
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  return undefined;
}

/** The values of `name{label="x"} value` (one label), by that label's value; other label sets are skipped. */
export function metricByLabel(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const pattern = new RegExp(`^${name}\\{${label}="([^"]*)"\\} (\\S+)$`);
  for (const line of text.split("\n")) {
    const match = pattern.exec(line);
    if (match !== null) out.set(match[1] as string, Number(match[2]));
  }
  return out;
}

/** The values of `name{worker="i"} value`, by worker index. */
export function metricByWorker(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  const pattern = new RegExp(`^${name}\\{worker="(\\d+)"\\} (\\S+)$`);
  for (const line of text.split("\n")) {
    const match = pattern.exec(line);
    if (match !== null) out.set(Number(match[1]), Number(match[2]));
  }
  return out;
}

/**
 * Event-loop lag p99 (seconds) per worker since the previous scrape: `tickwire_worker_event_loop_lag_p99_seconds`
 * with workers; with `--workers 1`, prom-client's `nodejs_eventloop_lag_p99_seconds` (since the process
 * started) as worker 0.
 */
export function eventLoopLagByWorker(text: string): Map<number, number> {
  const perWorker = metricByWorker(text, "tickwire_worker_event_loop_lag_p99_seconds");
  if (perWorker.size > 0) return perWorker;
  const single = metricValue(text, "nodejs_eventloop_lag_p99_seconds");
  return single === undefined ? new Map() : new Map([[0, single]]);
}

/** Open connections per worker (`tickwire_worker_connections`; `tickwire_connections` as worker 0 without workers). */
export function connectionsByWorker(text: string): Map<number, number> {
  const perWorker = metricByWorker(text, "tickwire_worker_connections");
  if (perWorker.size > 0) return perWorker;
  const single = metricValue(text, "tickwire_connections");
  return single === undefined ? new Map() : new Map([[0, single]]);
}

/** Waits until `/readyz` answers 200 (every worker listening and connected to NATS); bounded. */
export async function waitReady(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (performance.now() > deadline) throw new Error(`the gateway was not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the gateway runs `workers` worker processes (with workers > 1), bounded. */
export async function waitForWorkers(pid: number, workers: number, timeoutMs: number): Promise<GatewayPids> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const pids = gatewayPids(pid);
    if (workers <= 1 || (pids.supervisor !== undefined && pids.workers.length === workers)) return pids;
    if (performance.now() > deadline)
      throw new Error(`the gateway runs ${pids.workers.length} worker processes, expected ${workers}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
