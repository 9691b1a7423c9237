/**
 * The kernel and process limits that decide how many loopback connections one machine can hold, read
 * from /proc, and a check of a connection plan against them: what is needed, what there is, and which
 * limit stops the plan (bench/connections-100k.ts prints it before anything starts).
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { openFileLimit, resolveMaxConnections } from "../../src/gateway/index.ts";

export interface KernelLimits {
  /** `ulimit -n` of this process (its children inherit it): descriptors per process. */
  readonly openFilesPerProcess: number | undefined;
  /** fs.file-max: descriptors over the whole machine. */
  readonly fileMax: number | undefined;
  /** Descriptors allocated now (fs.file-nr, first field). */
  readonly filesAllocated: number | undefined;
  /** net.core.somaxconn: the cap on each listen socket's backlog. */
  readonly somaxconn: number | undefined;
  /** net.ipv4.ip_local_port_range: ephemeral ports per source address. */
  readonly ephemeralPorts: number | undefined;
  readonly ephemeralRange: string | undefined;
  /** nf_conntrack_max and its current count, when the module is loaded (loopback may be tracked). */
  readonly conntrackMax: number | undefined;
  readonly conntrackCount: number | undefined;
  /** net.ipv4.tcp_mem third field, in bytes: past it the kernel refuses TCP buffer memory. */
  readonly tcpMemMaxBytes: number | undefined;
  readonly memAvailableBytes: number | undefined;
  readonly cores: number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function readNumber(path: string, field = 0): number | undefined {
  const text = readText(path);
  const value = text?.split(/\s+/)[field];
  return value === undefined || !/^\d+$/.test(value) ? undefined : Number(value);
}

export function readKernelLimits(): KernelLimits {
  const range = readText("/proc/sys/net/ipv4/ip_local_port_range")?.split(/\s+/).map(Number);
  const memAvailable = /^MemAvailable:\s+(\d+) kB/m.exec(readText("/proc/meminfo") ?? "")?.[1];
  const tcpMemPages = readNumber("/proc/sys/net/ipv4/tcp_mem", 2);
  return {
    openFilesPerProcess: openFileLimit(),
    fileMax: readNumber("/proc/sys/fs/file-max"),
    filesAllocated: readNumber("/proc/sys/fs/file-nr"),
    somaxconn: readNumber("/proc/sys/net/core/somaxconn"),
    ephemeralPorts:
      range !== undefined && range.length === 2 ? (range[1] as number) - (range[0] as number) + 1 : undefined,
    ephemeralRange: range?.join("–"),
    conntrackMax: readNumber("/proc/sys/net/netfilter/nf_conntrack_max"),
    conntrackCount: readNumber("/proc/sys/net/netfilter/nf_conntrack_count"),
    tcpMemMaxBytes: tcpMemPages === undefined ? undefined : tcpMemPages * 4096,
    memAvailableBytes: memAvailable === undefined ? undefined : Number(memAvailable) * 1024,
    cores: availableParallelism(),
  };
}

/** Connections a gateway worker accepts by default (`--max-connections 0`): its descriptors less a reserve. */
export function connectionsPerWorker(limits: KernelLimits): number {
  return resolveMaxConnections(0, limits.openFilesPerProcess);
}

/** Descriptors a client process keeps for itself (node, IPC, stdio) beside its sockets. */
const CLIENT_PROCESS_RESERVE = 200;
/**
 * SO_REUSEPORT spreads connections by a hash of the 4-tuple, not evenly: plan this much headroom over
 * the mean per worker (at 100,000 over 6 workers the spread is about ±1%, so 10% is ample).
 */
export const WORKER_HEADROOM = 1.1;
/** Rough memory per loopback connection, both ends: server + client process + kernel socket structures. */
const MEMORY_PER_CONNECTION_BYTES = 24 * 1024;

export interface ConnectionPlan {
  readonly connections: number;
  readonly workers: number;
  readonly clientProcesses: number;
  readonly sourceAddresses: number;
  /** Handshakes in flight over all client processes. */
  readonly concurrency: number;
}

/** One line of the check: a limit, what the plan needs of it, what there is. */
export interface LimitCheck {
  readonly limit: string;
  readonly needed: string;
  readonly available: string;
  /** "ok", "WARN" (slows or risks the run) or "STOP" (the plan cannot work). */
  readonly verdict: "ok" | "WARN" | "STOP" | "unknown";
  readonly note: string;
}

const n = (value: number): string => Math.round(value).toLocaleString("en-US");

/** Checks a plan against the limits; any STOP means the run would fail, and says which limit. */
export function checkPlan(limits: KernelLimits, plan: ConnectionPlan): LimitCheck[] {
  const checks: LimitCheck[] = [];
  const perWorkerCap = connectionsPerWorker(limits);
  const perWorker = plan.connections / plan.workers;
  checks.push({
    limit: "connections per worker (open files less max(64, 5%))",
    needed: `${n(perWorker)} mean (${n(perWorker * WORKER_HEADROOM)} with ${Math.round((WORKER_HEADROOM - 1) * 100)}% headroom)`,
    available: `${n(perWorkerCap)} (ulimit -n ${limits.openFilesPerProcess ?? "unknown"})`,
    verdict: perWorker > perWorkerCap ? "STOP" : perWorker * WORKER_HEADROOM > perWorkerCap ? "WARN" : "ok",
    note: `--workers ${plan.workers}: at least ${Math.ceil((plan.connections * WORKER_HEADROOM) / perWorkerCap)} needed; a worker past its cap refuses upgrades with 503`,
  });
  const perClientProcess = Math.ceil(plan.connections / plan.clientProcesses) + CLIENT_PROCESS_RESERVE;
  checks.push({
    limit: "descriptors per client process (ulimit -n)",
    needed: n(perClientProcess),
    available: limits.openFilesPerProcess === undefined ? "unknown" : n(limits.openFilesPerProcess),
    verdict:
      limits.openFilesPerProcess === undefined
        ? "unknown"
        : perClientProcess > limits.openFilesPerProcess
          ? "STOP"
          : "ok",
    note: `--client-processes ${plan.clientProcesses}`,
  });
  const perAddress = Math.ceil(plan.connections / plan.sourceAddresses);
  checks.push({
    limit: `ephemeral ports per source address (${limits.ephemeralRange ?? "?"})`,
    needed: `${n(perAddress)} × ${plan.sourceAddresses} addresses`,
    available: limits.ephemeralPorts === undefined ? "unknown" : n(limits.ephemeralPorts),
    verdict:
      limits.ephemeralPorts === undefined
        ? "unknown"
        : perAddress > limits.ephemeralPorts
          ? "STOP"
          : perAddress > limits.ephemeralPorts / 2
            ? "WARN"
            : "ok",
    note:
      "each client binds a 127.0.0.x source address with port 0: one port per connection per address. " +
      "Past half the range bind() slows down (it searches the odd half first, seen here: connects fell to " +
      "~300/s and the machine to 100% sys past ~13,000 per address): raise --source-addresses",
  });
  const files = 2 * plan.connections + 1000 * (plan.workers + plan.clientProcesses + 2);
  const freeFiles = limits.fileMax === undefined ? undefined : limits.fileMax - (limits.filesAllocated ?? 0);
  checks.push({
    limit: "descriptors machine-wide (fs.file-max less allocated)",
    needed: n(files),
    available: freeFiles === undefined ? "unknown" : n(freeFiles),
    verdict: freeFiles === undefined ? "unknown" : files > freeFiles ? "STOP" : "ok",
    note: "both ends of every loopback connection are on this machine",
  });
  if (limits.conntrackMax !== undefined) {
    const free = limits.conntrackMax - (limits.conntrackCount ?? 0);
    checks.push({
      limit: "nf_conntrack_max less entries in use",
      needed: n(plan.connections),
      available: n(free),
      verdict: plan.connections > free ? "WARN" : "ok",
      note: "only if netfilter tracks loopback (a full table drops new SYNs: connects stall)",
    });
  }
  const backlog = (limits.somaxconn ?? 0) * plan.workers;
  checks.push({
    limit: "listen backlog (somaxconn × workers: one listen socket per worker)",
    needed: `${n(plan.concurrency)} handshakes in flight`,
    available: limits.somaxconn === undefined ? "unknown" : n(backlog),
    verdict: limits.somaxconn === undefined ? "unknown" : plan.concurrency > backlog ? "WARN" : "ok",
    note: "past it SYNs are dropped and retried after 1 s: slower connects, not failures",
  });
  const memory = plan.connections * MEMORY_PER_CONNECTION_BYTES;
  checks.push({
    limit: "memory available (MemAvailable)",
    needed: `~${n(memory / 2 ** 20)} MiB (rough: ${MEMORY_PER_CONNECTION_BYTES / 1024} KiB per connection, both ends)`,
    available:
      limits.memAvailableBytes === undefined ? "unknown" : `${n(limits.memAvailableBytes / 2 ** 20)} MiB`,
    verdict:
      limits.memAvailableBytes === undefined ? "unknown" : memory > limits.memAvailableBytes ? "WARN" : "ok",
    note: "",
  });
  checks.push({
    limit: "TCP buffer memory (tcp_mem max)",
    needed: "idle sockets hold ~0; a burst queued to every socket holds more",
    available: limits.tcpMemMaxBytes === undefined ? "unknown" : `${n(limits.tcpMemMaxBytes / 2 ** 20)} MiB`,
    verdict: limits.tcpMemMaxBytes === undefined ? "unknown" : "ok",
    note: "past it the kernel drops segments (retransmits): a stalled fan-out, not refused connections",
  });
  const processes = plan.workers + plan.clientProcesses + 3;
  checks.push({
    limit: "cores",
    needed: `${processes} busy processes (workers, client processes, supervisor, nats-server, this one)`,
    available: String(limits.cores),
    verdict: "ok",
    note: "they share the cores: CPU figures are what each process got, not what it would take alone",
  });
  return checks;
}
