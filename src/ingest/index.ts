export { NatsIngest, type IngestOptions, type IngestSink } from "./nats-ingest.ts";
export {
  NatsLink,
  connectionName,
  natsConnectOptions,
  type NatsCredentials,
  type NatsLinkOptions,
  type NatsTlsFiles,
} from "./nats-link.ts";
export { FeedPublisher } from "./feed-publisher.ts";
export { INGEST_METRICS, IngestStats, NatsLinkStats, NatsState, type IngestGauges } from "./stats.ts";
export { JetStreamHistory, type HistoryOptions } from "./history.ts";
export {
  createHistoryStream,
  historyStreamInfo,
  type HistoryStreamCreated,
  type HistoryStreamSpec,
  type HistoryStreamSummary,
} from "./history-stream.ts";
