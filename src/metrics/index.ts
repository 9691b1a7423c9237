export { createMetrics, type MetricsSources } from "./registry.ts";
