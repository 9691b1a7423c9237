import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from "prom-client";
import { processOpenFds } from "./open-fds.ts";
import { isHistogram, type MetricInfo, type MetricSnapshot, type MetricSource } from "./descriptor.ts";

/**
 * Turns metric sources (each stats class's descriptors and snapshot) into a prom-client registry. The
 * hot path keeps plain counters; values are read at scrape time (PERF-NOTES: no prom-client call per
 * message). metrics/ depends on no other module: the sources are structural.
 */
export function createMetrics(sources: readonly MetricSource[]): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  replaceOpenFds(registry);
  for (const source of sources) {
    const snapshot = oncePerScrape(source);
    for (const info of source.metrics) register(registry, info, () => snapshot()[info.name] ?? 0);
  }
  return registry;
}

/**
 * prom-client's `process_open_fds` lists /proc/self/fd on the event loop at every scrape (30 ms at 19,000
 * descriptors): the same series, counted off the loop by {@link OpenFds}, one scrape old at most.
 */
function replaceOpenFds(registry: Registry): void {
  if (registry.getSingleMetric("process_open_fds") === undefined) return; // not Linux: prom-client has none
  registry.removeSingleMetric("process_open_fds");
  const fds = processOpenFds();
  new Gauge({
    name: "process_open_fds",
    help: "Number of open file descriptors (counted off the event loop; at most one scrape old).",
    registers: [registry],
    collect() {
      const { openFds } = fds.read();
      if (openFds >= 0) this.set(openFds);
    },
  });
}

/** One snapshot of a source serves every metric of one scrape (all collect() calls run in one turn). */
function oncePerScrape(source: MetricSource): () => MetricSnapshot {
  let cached: MetricSnapshot | undefined;
  return () => {
    if (cached === undefined) {
      cached = source.snapshot();
      setImmediate(() => (cached = undefined));
    }
    return cached;
  };
}

function register(registry: Registry, info: MetricInfo, read: () => MetricSnapshot[string]): void {
  const { name, help, label } = info;
  if (info.type === "histogram") {
    registry.registerMetric(pulledHistogram(name, help, info.buckets ?? [], read));
    return;
  }
  if (info.type === "gauge") {
    new Gauge({
      name,
      help,
      labelNames: label === undefined ? [] : [label.name],
      registers: [registry],
      collect() {
        const value = read();
        if (typeof value === "number") {
          this.set(value);
          return;
        }
        if (isHistogram(value)) return;
        // Only this scrape's label values: a `worker` that did not answer must not keep its last value.
        this.reset();
        for (const [labelValue, n] of Object.entries(value)) this.labels(labelValue).set(n);
      },
    });
    return;
  }
  new Counter({
    name,
    help,
    labelNames: label === undefined ? [] : [label.name],
    registers: [registry],
    collect() {
      this.reset();
      const value = read();
      if (typeof value === "number") this.inc(value);
      else if (!isHistogram(value))
        for (const [labelValue, n] of Object.entries(value)) this.labels(labelValue).inc(n);
    },
  });
}

/**
 * A histogram whose bucket counts are plain numbers kept by the hot path and read at scrape time
 * (prom-client's Histogram only takes `observe()` calls, which PERF-NOTES keeps off the hot path).
 */
function pulledHistogram(
  name: string,
  help: string,
  bounds: readonly number[],
  read: () => MetricSnapshot[string],
): Metric {
  const get = () => {
    const value = read();
    const { counts, sum, count } = isHistogram(value) ? value : { counts: [], sum: 0, count: 0 };
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    let cumulative = 0;
    bounds.forEach((le, i) => {
      cumulative += counts[i] ?? 0;
      values.push({ value: cumulative, labels: { le }, metricName: `${name}_bucket` });
    });
    values.push({ value: count, labels: { le: "+Inf" }, metricName: `${name}_bucket` });
    values.push({ value: sum, labels: {}, metricName: `${name}_sum` });
    values.push({ value: count, labels: {}, metricName: `${name}_count` });
    return Promise.resolve({ name, help, type: "histogram", aggregator: "sum", values });
  };
  // The registry needs only name, help, type, aggregator and get() (prom-client 15 registry.js); its
  // Histogram class cannot be given counts.
  return { name, help, type: "histogram", aggregator: "sum", get } as unknown as Metric;
}
