export { NatsIngest, type IngestOptions } from "./nats-ingest.ts";
export { FeedPublisher } from "./feed-publisher.ts";
export { IngestStats, NatsState } from "./stats.ts";
export { JetStreamHistory, type HistoryOptions } from "./history.ts";
