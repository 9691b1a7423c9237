/**
 * The wire vocabulary of protocol v1 (proto/PROTOCOL.md): error and close codes, subprotocol names, event
 * types and flag bits, the topic grammar and NATS-style pattern matching. Pure and browser-safe: no Node
 * built-in, no dependency, nothing else from src/. The gateway (through src/protocol/) and the SDK
 * (src/client/, bundled for browsers) both import it, so there is one copy to keep true.
 */
export {
  CloseCode,
  ErrorCode,
  EventFlag,
  FeedStatus,
  STREAM_PATH,
  Subprotocol,
  type Encoding,
} from "./codes.ts";
export { nowMicros, reanchorClock } from "./clock.ts";
export {
  EVENT_TYPES,
  MAX_TOPIC_LENGTH,
  TOPIC_TOKEN,
  checkPattern,
  isEventType,
  patternMatches,
  type MarketEventType,
  type PatternCheck,
} from "./topic.ts";
export {
  NON_NEGATIVE_KEYS,
  PAYLOAD_KEYS,
  type BarEvent,
  type FeedEvent,
  type HeartbeatEvent,
  type MarketEvent,
  type QuoteEvent,
  type SnapshotEndEvent,
  type TradeEvent,
} from "./event.ts";
