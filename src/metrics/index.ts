export { createMetrics } from "./registry.ts";
export {
  snapshotOf,
  sumSnapshots,
  type MetricDescriptor,
  type MetricInfo,
  type MetricSnapshot,
  type MetricSource,
} from "./descriptor.ts";
export { OpenFds, processOpenFds } from "./open-fds.ts";
export { ScrapeCache } from "./scrape-cache.ts";
