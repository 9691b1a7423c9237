import type { MetricSnapshot } from "../metrics/index.ts";

/**
 * The IPC messages between the supervisor and its worker processes (node:child_process `fork`, JSON
 * over the IPC channel). Plain data only: a config is never sent (secrets stay out of the channel); a
 * worker reads its own from the same argv and environment.
 */

/** One worker's numbers at one instant, for a fleet-wide scrape. */
export interface WorkerSnapshot {
  readonly worker: number;
  /** The node's metric sources' snapshots, in the order of `TickwireNode.metricSources()`. */
  readonly sources: readonly MetricSnapshot[];
  readonly connections: number;
  /** Event-loop delay p99 since the previous snapshot, in seconds. */
  readonly eventLoopLagP99Seconds: number;
  readonly residentMemoryBytes: number;
  /** User plus system CPU time of the process, in seconds. */
  readonly cpuSeconds: number;
  /** Open file descriptors of the process (one per WebSocket, among others); -1 where /proc is missing. */
  readonly openFds: number;
  /** The process's soft limit on open file descriptors; -1 where /proc is missing. */
  readonly maxFds: number;
}

/** A fleet-wide scrape's numbers: the snapshots of every worker that answered in time. */
export interface FleetScrape {
  readonly workers: readonly WorkerSnapshot[];
  /** Workers the supervisor runs (answering or not). */
  readonly expected: number;
  /** Worker restarts since the supervisor started. */
  readonly restarts: number;
  /** Supervisor-to-worker messages that could not be delivered (the worker was exiting). */
  readonly undelivered: number;
}

export type ToWorker =
  | {
      readonly t: "start";
      readonly worker: number;
      readonly argv: readonly string[];
      readonly port: number;
      readonly natsUrls: readonly string[];
    }
  | { readonly t: "collect"; readonly id: number }
  | { readonly t: "scrape-result"; readonly id: number; readonly scrape: FleetScrape }
  | { readonly t: "fleet"; readonly ready: boolean; readonly workersReady: number; readonly workers: number }
  | { readonly t: "stop" };

export type FromWorker =
  | { readonly t: "listening"; readonly port: number }
  | { readonly t: "failed"; readonly message: string; readonly code?: string }
  | { readonly t: "ready"; readonly ready: boolean }
  | { readonly t: "scrape"; readonly id: number }
  | { readonly t: "snapshot"; readonly id: number; readonly snapshot: WorkerSnapshot };
