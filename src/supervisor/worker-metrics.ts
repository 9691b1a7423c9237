import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import {
  processOpenFds,
  sumSnapshots,
  type MetricInfo,
  type MetricSnapshot,
  type MetricSource,
} from "../metrics/index.ts";
import type { FleetScrape, WorkerSnapshot } from "./messages.ts";

const PER_WORKER = { name: "worker", values: [] } as const;

/**
 * The metrics that only make sense per worker process, labelled `worker` (its index, stable across
 * restarts): a sum of event-loop lags or of per-process connections would hide the one worker in trouble.
 */
export const WORKER_METRICS: readonly MetricInfo[] = [
  {
    name: "tickwire_worker_connections",
    type: "gauge",
    help: "Open WebSocket connections of each worker process.",
    label: PER_WORKER,
  },
  {
    name: "tickwire_worker_event_loop_lag_p99_seconds",
    type: "gauge",
    help: "Event-loop delay p99 of each worker process since the previous scrape.",
    label: PER_WORKER,
  },
  {
    name: "tickwire_worker_resident_memory_bytes",
    type: "gauge",
    help: "Resident memory of each worker process.",
    label: PER_WORKER,
  },
  {
    name: "tickwire_worker_cpu_seconds_total",
    type: "counter",
    help: "User plus system CPU time of each worker process.",
    label: PER_WORKER,
  },
  {
    name: "tickwire_worker_open_fds",
    type: "gauge",
    help: "Open file descriptors of each worker process (one per WebSocket connection, among others).",
    label: PER_WORKER,
  },
  {
    name: "tickwire_worker_max_fds",
    type: "gauge",
    help: "Limit on open file descriptors of each worker process: past it, new connections fail.",
    label: PER_WORKER,
  },
  {
    name: "tickwire_workers",
    type: "gauge",
    help: "Worker processes the supervisor runs.",
  },
  {
    name: "tickwire_workers_answering",
    type: "gauge",
    help: "Workers whose numbers are in this scrape (the others did not answer within a second).",
  },
  {
    name: "tickwire_worker_restarts_total",
    type: "counter",
    help: "Worker processes restarted by the supervisor after they exited.",
  },
  {
    name: "tickwire_worker_messages_undelivered_total",
    type: "counter",
    help: "Supervisor-to-worker messages that could not be delivered because the worker was exiting.",
  },
];

/** The per-worker numbers of a fleet scrape as one snapshot of {@link WORKER_METRICS}. */
export function workerSnapshot(scrape: FleetScrape): MetricSnapshot {
  const by = (read: (w: WorkerSnapshot) => number): Record<string, number> =>
    Object.fromEntries(scrape.workers.map((w) => [String(w.worker), read(w)]));
  // -1: not measurable on this platform (no /proc); the series is left out rather than reported wrong.
  const known = (values: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(values).filter(([, v]) => v >= 0));
  return {
    tickwire_worker_connections: by((w) => w.connections),
    tickwire_worker_event_loop_lag_p99_seconds: by((w) => w.eventLoopLagP99Seconds),
    tickwire_worker_resident_memory_bytes: by((w) => w.residentMemoryBytes),
    tickwire_worker_cpu_seconds_total: by((w) => w.cpuSeconds),
    tickwire_worker_open_fds: known(by((w) => w.openFds)),
    tickwire_worker_max_fds: known(by((w) => w.maxFds)),
    tickwire_workers: scrape.expected,
    tickwire_workers_answering: scrape.workers.length,
    tickwire_worker_restarts_total: scrape.restarts,
    tickwire_worker_messages_undelivered_total: scrape.undelivered,
  };
}

/**
 * The metric sources of a fleet-wide scrape: each of the node's sources with the sum over workers (the
 * stats snapshots are plain numbers, summable by design: metrics/descriptor.ts), plus
 * {@link WORKER_METRICS}. `current` is read at collect time: the scrape being rendered.
 */
export function fleetSources(
  nodeSources: readonly MetricSource[],
  current: () => FleetScrape,
): MetricSource[] {
  return [
    ...nodeSources.map((source, i) => ({
      metrics: source.metrics,
      snapshot: () =>
        sumSnapshots(
          current().workers.flatMap((w) => {
            const s = w.sources[i];
            return s === undefined ? [] : [s];
          }),
        ),
    })),
    { metrics: WORKER_METRICS, snapshot: () => workerSnapshot(current()) },
  ];
}

/** The process-level numbers of this worker (event-loop delay measured from creation). */
export class ProcessProbe {
  readonly #delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  /** Counted off the event loop: the previous scrape's count (see OpenFds). */
  readonly #fds = processOpenFds();
  constructor() {
    this.#delay.enable();
  }

  /** Event-loop delay p99 since the previous call (seconds), RSS, CPU time and file descriptors. */
  read(): Omit<WorkerSnapshot, "worker" | "sources" | "connections"> {
    const p99 = this.#delay.count > 0 ? this.#delay.percentile(99) / 1e9 : 0;
    this.#delay.reset();
    const cpu = process.cpuUsage();
    return {
      eventLoopLagP99Seconds: p99,
      residentMemoryBytes: process.memoryUsage.rss(),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      ...this.#fds.read(),
    };
  }

  stop(): void {
    this.#delay.disable();
  }
}
