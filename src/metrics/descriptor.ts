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
  readonly type: "counter" | "gauge";
  /** A labelled metric: its one label, and the values always exported (0 until counted). */
  readonly label?: { readonly name: string; readonly values: readonly string[] };
}

/** A metric and where its value comes from in a source `S` (a stats object). */
export interface MetricDescriptor<S> extends MetricInfo {
  /** The value now: a number, or a number per label value. */
  read(source: S): number | ReadonlyMap<string | number, number>;
}

/** One source's metrics at one instant, by metric name: a number, or a number per label value. */
export type MetricSnapshot = Readonly<Record<string, number | Readonly<Record<string, number>>>>;

/** What the registry reads at scrape time: the metrics' descriptions and a snapshot of their values. */
export interface MetricSource {
  readonly metrics: readonly MetricInfo[];
  snapshot(): MetricSnapshot;
}

/** Reads every descriptor of `source` into plain numbers (a label's declared values are always present). */
export function snapshotOf<S>(descriptors: readonly MetricDescriptor<S>[], source: S): MetricSnapshot {
  const out: Record<string, number | Record<string, number>> = {};
  for (const d of descriptors) {
    const value = d.read(source);
    if (typeof value === "number") {
      out[d.name] = value;
      continue;
    }
    const labelled: Record<string, number> = {};
    for (const known of d.label?.values ?? []) labelled[known] = 0;
    for (const [label, n] of value) labelled[String(label)] = n;
    out[d.name] = labelled;
  }
  return out;
}

/** Adds snapshots metric by metric and label by label (several worker processes into one view). */
export function sumSnapshots(snapshots: readonly MetricSnapshot[]): MetricSnapshot {
  const out: Record<string, number | Record<string, number>> = {};
  for (const snapshot of snapshots) {
    for (const [name, value] of Object.entries(snapshot)) {
      const sum = out[name];
      if (typeof value === "number") {
        out[name] = (typeof sum === "number" ? sum : 0) + value;
        continue;
      }
      const labelled = typeof sum === "object" ? sum : (out[name] = {});
      for (const [label, n] of Object.entries(value)) labelled[label] = (labelled[label] ?? 0) + n;
    }
  }
  return out;
}
