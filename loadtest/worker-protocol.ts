/** Messages between the coordinator and its worker processes (Node IPC, JSON). */
import type { SerializedHistogram } from "./histogram.ts";
import type { LoadTestOptions } from "./options.ts";
import { emptySequenceCounts, type SequenceCounts } from "./sequence.ts";

export interface StartCommand {
  readonly type: "start";
  readonly options: LoadTestOptions;
  /** Global index of this worker's first client, and how many it holds. */
  readonly from: number;
  readonly count: number;
  /** Wall-clock ms (Date.now()) when client 0 starts; client i starts rampS·i/clients later. */
  readonly startAtMs: number;
  readonly sourceAddresses: readonly string[];
}

export type ToWorker =
  | StartCommand
  | { readonly type: "publishing"; readonly atMs: number }
  | { readonly type: "sample" }
  | { readonly type: "finish" };

/** Cumulative counters of a worker (the coordinator takes differences). */
export interface WorkerCounters extends SequenceCounts {
  frames: number;
  bytes: number;
  heartbeats: number;
  snapshotEnds: number;
  /** Successful WebSocket opens (first connects and reconnects). */
  opens: number;
  reconnects: number;
  /** Clients closed and reopened on purpose (churn, storm). */
  churned: number;
  /** Data events that carried no usable publish stamp `te`. */
  unstamped: number;
  /** Closes by WebSocket close code, the client's own (churn, end of run) excluded. */
  closesByCode: Record<string, number>;
  /** Error replies and refused topics by code, and connection errors by kind (`ECONNREFUSED`, `http 503`). */
  errorsByCode: Record<string, number>;
}

export interface SampleReport {
  readonly type: "sample";
  readonly counters: WorkerCounters;
  /** Latency of the events received since the previous sample. */
  readonly latency: SerializedHistogram;
  readonly open: number;
  readonly cpuUs: number;
}

/** Per-client figures for fairness, as parallel arrays (index = client index − from). */
export interface FinalReport {
  readonly type: "final";
  readonly events: readonly number[];
  readonly latencySumUs: readonly number[];
  readonly latencyMaxUs: readonly number[];
  readonly missedUpdates: readonly number[];
}

export type FromWorker =
  | {
      readonly type: "ready";
      readonly subscribed: number;
      readonly failed: number;
      readonly connect: SerializedHistogram;
    }
  | SampleReport
  | FinalReport
  | { readonly type: "closed"; readonly destroyed: number }
  | { readonly type: "error"; readonly message: string };

/** A worker's counters before anything happened. */
export function emptyCounters(): WorkerCounters {
  return {
    ...emptySequenceCounts(),
    frames: 0,
    bytes: 0,
    heartbeats: 0,
    snapshotEnds: 0,
    opens: 0,
    reconnects: 0,
    churned: 0,
    unstamped: 0,
    closesByCode: {},
    errorsByCode: {},
  };
}
