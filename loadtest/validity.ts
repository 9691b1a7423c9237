/**
 * Whether a run measured the target or the harness itself. A client worker that spends a core on
 * decoding, or a receive lag that keeps growing, turns "p99 52 s" into a statement about the load
 * generator: such a result is marked invalid, with the reasons, in the summary, the JSON and the report.
 */

/** A client worker above this mean CPU (% of one core) while publishing is the bottleneck itself. */
export const WORKER_CPU_LIMIT_PCT = 85;
/** Lag "grows" when the later half's median p50 is this many times the earlier half's … */
export const LAG_GROWTH_FACTOR = 2;
/** … and at least this much larger (µs): small latencies may double without meaning anything. */
export const LAG_GROWTH_MIN_US = 100_000;
/**
 * A worker that answers a sample request later than this (ms) while publishing has an event loop that is
 * behind the data it receives: what it timestamps as "received" is late by as much.
 */
export const WORKER_REPLY_LIMIT_MS = 500;
/** Fewer measured intervals than this say nothing about a trend. */
const LAG_MIN_INTERVALS = 4;

export interface Validity {
  /** False when the clients (or a backlog) set the figures: read them as the harness's limit. */
  readonly valid: boolean;
  /** Why the result is invalid, one sentence each (empty when valid). */
  readonly reasons: readonly string[];
  /** Mean CPU of each client worker while publishing, % of one core. */
  readonly workerCpuPct: readonly number[];
  /** The longest each client worker took to answer a sample request while publishing (ms). */
  readonly workerReplyMs: readonly number[];
  /** Median of the per-interval p50 latencies in the earlier and the later half of the measured window (µs). */
  readonly lagUs: { readonly first: number; readonly last: number } | null;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const ms = (us: number): string => `${(us / 1000).toFixed(us < 10_000 ? 1 : 0)} ms`;

/** What a run observed of its own clients. */
export interface HarnessObservations {
  /** Mean CPU of each worker while publishing, % of one core. */
  readonly workerCpuPct: readonly number[];
  /** The longest each worker took to answer a sample request while publishing (ms). */
  readonly workerReplyMs: readonly number[];
  /** The p50 latency of each measured interval, in time order (intervals without events left out). */
  readonly intervalP50Us: readonly number[];
}

/** Judges whether a run measured its target or its own clients. */
export function judgeValidity({ workerCpuPct, workerReplyMs, intervalP50Us }: HarnessObservations): Validity {
  const reasons: string[] = [];
  workerCpuPct.forEach((pct, i) => {
    if (pct >= WORKER_CPU_LIMIT_PCT)
      reasons.push(
        `client worker ${i} used ${pct.toFixed(0)}% of a core (limit ${WORKER_CPU_LIMIT_PCT}%): the clients, not the target, set the pace; ` +
          "give the harness more workers or cores (--workers), or lower --clients or --rate",
      );
  });
  workerReplyMs.forEach((replyMs, i) => {
    if (replyMs > WORKER_REPLY_LIMIT_MS)
      reasons.push(
        `client worker ${i} answered a sample request ${(replyMs / 1000).toFixed(1)} s late (limit ${WORKER_REPLY_LIMIT_MS} ms): ` +
          "its event loop lags the data it receives (saturated, or starved of CPU by other processes), so its receive times are late; " +
          "give the harness more workers or cores, or lower --clients or --rate",
      );
  });
  let lagUs: Validity["lagUs"] = null;
  if (intervalP50Us.length >= LAG_MIN_INTERVALS) {
    const half = Math.floor(intervalP50Us.length / 2);
    lagUs = { first: median(intervalP50Us.slice(0, half)), last: median(intervalP50Us.slice(-half)) };
    if (lagUs.last >= lagUs.first * LAG_GROWTH_FACTOR && lagUs.last - lagUs.first >= LAG_GROWTH_MIN_US)
      reasons.push(
        `the receive lag grew over the run (p50 ${ms(lagUs.first)} → ${ms(lagUs.last)}): a backlog builds up in the ` +
          "clients or the target, so latency figures measure the queue, not the path; lower --rate or --clients",
      );
  }
  return {
    valid: reasons.length === 0,
    reasons,
    workerCpuPct: workerCpuPct.map((pct) => Math.round(pct * 10) / 10),
    workerReplyMs: workerReplyMs.map((replyMs) => Math.round(replyMs)),
    lagUs,
  };
}

/**
 * Client worker processes for a run: one per core, less one for a target started on this machine (it
 * needs a core too), at least one per `perWorker` clients and never more than the clients.
 */
export function defaultWorkers(
  clients: number,
  cores: number,
  localTarget: boolean,
  perWorker: number,
): number {
  const byCores = Math.max(1, cores - (localTarget ? 1 : 0));
  return Math.max(Math.ceil(clients / perWorker), Math.min(byCores, clients));
}
