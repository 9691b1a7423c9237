import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { MetricInfo, MetricSnapshot, MetricSource } from "./descriptor.ts";

/**
 * Turns metric sources (each stats class's descriptors and snapshot) into a prom-client registry. The
 * hot path keeps plain counters; values are read at scrape time (PERF-NOTES: no prom-client call per
 * message). metrics/ depends on no other module: the sources are structural.
 */
export function createMetrics(sources: readonly MetricSource[]): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  for (const source of sources) {
    const snapshot = oncePerScrape(source);
    for (const info of source.metrics) register(registry, info, () => snapshot()[info.name] ?? 0);
  }
  return registry;
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
      else for (const [labelValue, n] of Object.entries(value)) this.labels(labelValue).inc(n);
    },
  });
}
