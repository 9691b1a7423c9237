/**
 * The result of a run, as written to the JSON file and rendered into the HTML report, and the pure
 * arithmetic that builds it (expected deliveries, fairness), kept apart from the I/O for the tests.
 */
import type { LatencySummary, SerializedHistogram } from "./histogram.ts";
import type { LoadTestOptions } from "./options.ts";
import type { Validity } from "./validity.ts";

/** One point of the per-interval series (about one a second). */
export interface SeriesPoint {
  /** Seconds since publishing started (negative during connection ramp-up). */
  readonly tS: number;
  readonly publishedPerS: number;
  readonly deliveredPerS: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly open: number;
  readonly gaps: number;
  readonly serverCpuPct: number | null;
  readonly serverRssBytes: number | null;
}

export interface Fairness {
  /** Per client: events received ÷ events published on its topics. */
  readonly deliveryRatio: {
    readonly min: number;
    readonly p1: number;
    readonly p50: number;
    readonly max: number;
  };
  /** Jain's index over the delivery ratios: 1 = every client got the same share. */
  readonly jainIndex: number;
  /** Per client mean latency (µs): median client, 99th-percentile client, worst client. */
  readonly meanLatencyUs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Per client max latency (µs): median client and worst client. */
  readonly maxLatencyUs: { readonly p50: number; readonly max: number };
  /** Clients that received nothing although their topics were published. */
  readonly starved: number;
}

export interface ServerFigures {
  readonly pid: number;
  readonly rssBeforeBytes: number;
  readonly rssConnectedBytes: number;
  readonly rssAnonBeforeBytes: number;
  readonly rssAnonConnectedBytes: number;
  readonly rssPeakBytes: number;
  /** (RSS with every client connected and subscribed − RSS before) ÷ connected clients. */
  readonly rssPerConnectionBytes: number;
  readonly rssAnonPerConnectionBytes: number;
  /** Mean CPU of the server process over the measured window, % of one core. */
  readonly cpuPct: number;
}

export interface LoadTestResult {
  readonly tool: "tickwire-loadtest";
  readonly version: 1;
  readonly startedAt: string;
  readonly options: LoadTestOptions;
  readonly target: { readonly url: string; readonly local: boolean; readonly adapter: string };
  readonly environment: {
    readonly node: string;
    readonly cpu: string;
    readonly cores: number;
    readonly host: string;
  };
  readonly clients: {
    readonly requested: number;
    readonly subscribed: number;
    readonly failed: number;
    readonly workers: number;
    readonly connectUs: LatencySummary;
    readonly openAtEnd: number;
    readonly reconnects: number;
    readonly churned: number;
    readonly clientCpuPct: number;
  };
  readonly feed: {
    readonly published: number;
    readonly publishedPerS: number;
    readonly messageBytes: { readonly min: number; readonly max: number };
    readonly topics: number;
    readonly subscribersPerTopic: { readonly min: number; readonly mean: number; readonly max: number };
  };
  readonly delivery: {
    /** Live data events received over the whole run (snapshots not included). */
    readonly delivered: number;
    /** Σ over topics of published × subscribers: what a lossless target delivers. */
    readonly expected: number;
    readonly measuredS: number;
    /** Events per second in the measured window. */
    readonly deliveredPerS: number;
    readonly frames: number;
    readonly meanEventBytes: number;
    readonly eventsPerFrame: number;
    readonly snapshots: number;
    readonly snapshotEnds: number;
    readonly heartbeats: number;
    readonly gaps: number;
    readonly missedUpdates: number;
    readonly conflatedEvents: number;
    readonly conflatedUpdates: number;
    readonly duplicates: number;
    readonly unstamped: number;
  };
  /** End-to-end latency (NATS publish → client receive) over the measured window. */
  readonly latencyUs: LatencySummary & { readonly negative: number };
  readonly latencyHistogram: SerializedHistogram;
  readonly errorsByCode: Readonly<Record<string, number>>;
  readonly closesByCode: Readonly<Record<string, number>>;
  readonly fairness: Fairness;
  readonly server: ServerFigures | null;
  /** Whether the figures measure the target or the harness (client CPU, growing lag). */
  readonly validity: Validity;
  readonly series: readonly SeriesPoint[];
  readonly durationS: number;
}

/** Σ over topics of published[t] × subscribers[t]. */
export function expectedDeliveries(published: readonly number[], subscribers: readonly number[]): number {
  let sum = 0;
  for (let t = 0; t < published.length; t++) sum += published[t]! * (subscribers[t] ?? 0);
  return sum;
}

/** The value at quantile q (0–1) of already sorted values (nearest rank). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/** Jain's fairness index (Σx)² ÷ (n·Σx²): 1 when all equal, 1/n when one gets everything. */
export function jainIndex(values: readonly number[]): number {
  let sum = 0;
  let squares = 0;
  for (const v of values) {
    sum += v;
    squares += v * v;
  }
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

/**
 * Fairness from per-client figures: `expected[i]` is what client i should have received (events
 * published on its topics); clients expecting nothing are left out of the ratios.
 */
export function fairness(
  events: readonly number[],
  expected: readonly number[],
  latencySumUs: readonly number[],
  latencyMaxUs: readonly number[],
): Fairness {
  const ratios: number[] = [];
  const means: number[] = [];
  const maxes: number[] = [];
  let starved = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const x = expected[i] ?? 0;
    if (x > 0) {
      ratios.push(e / x);
      if (e === 0) starved++;
    }
    if (e > 0) {
      means.push(latencySumUs[i]! / e);
      maxes.push(latencyMaxUs[i]!);
    }
  }
  ratios.sort((a, b) => a - b);
  means.sort((a, b) => a - b);
  maxes.sort((a, b) => a - b);
  return {
    deliveryRatio: {
      min: ratios[0] ?? 0,
      p1: quantileSorted(ratios, 0.01),
      p50: quantileSorted(ratios, 0.5),
      max: ratios[ratios.length - 1] ?? 0,
    },
    jainIndex: jainIndex(ratios),
    meanLatencyUs: {
      p50: quantileSorted(means, 0.5),
      p99: quantileSorted(means, 0.99),
      max: means[means.length - 1] ?? 0,
    },
    maxLatencyUs: { p50: quantileSorted(maxes, 0.5), max: maxes[maxes.length - 1] ?? 0 },
    starved,
  };
}

/** Adds `from` into `into` key by key. */
export function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}
