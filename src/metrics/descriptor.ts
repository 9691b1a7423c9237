/**
 * The vocabulary of metric descriptors, pure (no prom-client): the stats classes (fanout/stats.ts,
 * ingest/stats.ts, gateway/stats.ts) declare their metrics beside their counters with it, and
 * registry.ts turns any list of them into Prometheus metrics in one loop. A snapshot is plain numbers,
 * so snapshots of several worker processes can be summed ({@link sumSnapshots}).
 */

/** What a scrape shows of one metric. */
export interface MetricInfo {
  /** Prometheus name, `tickwire_…` (`_total` for counters). */
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** A labelled metric (counter or gauge): its one label, and the values always exported (0 until counted). */
  readonly label?: { readonly name: string; readonly values: readonly string[] };
  /** A histogram's bucket upper bounds, ascending, in the exported unit (the +Inf bucket is implied). */
  readonly buckets?: readonly number[];
}

/**
 * A histogram kept as plain numbers by the hot path (no prom-client `observe()` per event): the count
 * per bucket (not cumulative; one more than the bounds, the last is +Inf), the sum of the observed
 * values (in the exported unit) and their count.
 */
export interface HistogramValue {
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** A metric and where its value comes from in a source `S` (a stats object). */
export interface MetricDescriptor<S> extends MetricInfo {
  /** The value now: a number, a number per label value, or a histogram's counts. */
  read(source: S): number | ReadonlyMap<string | number, number> | HistogramValue;
}

/** One metric's value in a snapshot: a number, a number per label value, or a histogram's counts. */
export type MetricValue = number | Readonly<Record<string, number>> | HistogramValue;

/** One source's metrics at one instant, by metric name. */
export type MetricSnapshot = Readonly<Record<string, MetricValue>>;

/** Whether a snapshot value is a histogram's (a labelled value's entries are all numbers). */
export function isHistogram(
  value: MetricValue | ReadonlyMap<string | number, number>,
): value is HistogramValue {
  return typeof value === "object" && Array.isArray((value as { counts?: unknown }).counts);
}

/** What the registry reads at scrape time: the metrics' descriptions and a snapshot of their values. */
export interface MetricSource {
  readonly metrics: readonly MetricInfo[];
  snapshot(): MetricSnapshot;
}

/** Reads every descriptor of `source` into plain numbers (a label's declared values are always present). */
export function snapshotOf<S>(descriptors: readonly MetricDescriptor<S>[], source: S): MetricSnapshot {
  const out: Record<string, MetricValue> = {};
  for (const d of descriptors) {
    const value = d.read(source);
    if (typeof value === "number") {
      out[d.name] = value;
      continue;
    }
    if (isHistogram(value)) {
      // A copy: the stats object keeps counting after the snapshot.
      out[d.name] = { counts: [...value.counts], sum: value.sum, count: value.count };
      continue;
    }
    const labelled: Record<string, number> = {};
    for (const known of d.label?.values ?? []) labelled[known] = 0;
    for (const [label, n] of value) labelled[String(label)] = n;
    out[d.name] = labelled;
  }
  return out;
}

/**
 * Adds snapshots metric by metric, label by label and bucket by bucket (several worker processes into
 * one view; histograms of one metric share their bounds).
 */
export function sumSnapshots(snapshots: readonly MetricSnapshot[]): MetricSnapshot {
  const out: Record<string, number | Record<string, number> | HistogramValue> = {};
  for (const snapshot of snapshots) {
    for (const [name, value] of Object.entries(snapshot)) {
      const sum = out[name];
      if (typeof value === "number") {
        out[name] = (typeof sum === "number" ? sum : 0) + value;
        continue;
      }
      if (isHistogram(value)) {
        const before = sum !== undefined && isHistogram(sum) ? sum : { counts: [], sum: 0, count: 0 };
        out[name] = {
          counts: value.counts.map((n, i) => n + (before.counts[i] ?? 0)),
          sum: before.sum + value.sum,
          count: before.count + value.count,
        };
        continue;
      }
      const labelled = typeof sum === "object" && !isHistogram(sum) ? sum : (out[name] = {});
      for (const [label, n] of Object.entries(value)) labelled[label] = (labelled[label] ?? 0) + n;
    }
  }
  return out;
}
