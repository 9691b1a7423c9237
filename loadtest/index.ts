/** The load harness as a library: bench/ and the smoke test drive it in-process. */
export {
  tickwireAdapter,
  loadAdapter,
  type AdapterModule,
  type AdapterSink,
  type ClientAdapter,
  type ConnectionHandler,
} from "./adapter.ts";
export { Feed, type FeedOptions } from "./publisher.ts";
export { LatencyHistogram, type LatencySummary, type SerializedHistogram } from "./histogram.ts";
export { LocalTarget, sampleProcess, type ProcessSample } from "./local-target.ts";
export {
  modelOf,
  planOf,
  subscribersPerTopic,
  topicNames,
  type ClientPlan,
  type WorkloadModel,
} from "./model.ts";
export {
  DEFAULTS,
  LoadTestOptionsError,
  parseOptions,
  validateOptions,
  type LoadTestOptions,
} from "./options.ts";
export { summaryText, writeReport, type ReportFiles } from "./report.ts";
export { renderHtml } from "./report-html.ts";
export type { LoadTestResult, SeriesPoint, Fairness, ServerFigures } from "./result.ts";
export { runLoadTest, CLIENTS_PER_WORKER, type RunHooks } from "./run.ts";
export { nowUs } from "./clock.ts";
