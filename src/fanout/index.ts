export { Hub, type HistorySource, type HubLinks, type HubOptions, type Topic } from "./hub.ts";
export { BatchWriter, MAX_BATCH_BYTES, type BatchResult } from "./batch-writer.ts";
export { CacheBound, DEFAULT_MAX_TOPICS, EVICT_CHUNK, type InFlight } from "./cache-bound.ts";
export { LastValues } from "./last-values.ts";
export { EncodedEvent } from "./encoded-event.ts";
export { Session } from "./session.ts";
export { SendResult, type FrameSink } from "./sink.ts";
export {
  CloseReason,
  HUB_METRICS,
  HubStats,
  LAG_BUCKETS_MS,
  closeReasonOf,
  type HubGauges,
} from "./stats.ts";
export { ACCESS_SCAN_MS, MAX_FRAMES_WHILE_VERIFYING } from "./access.ts";
export type { AccessGrants, AccessIdentity, AuthOutcome, Authenticator } from "./access-state.ts";
