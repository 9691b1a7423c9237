export { ErrorCode, CloseCode, EventFlag, Subprotocol, type Encoding } from "./codes.ts";
export {
  EVENT_TYPES,
  MAX_TOPIC_LENGTH,
  checkPattern,
  isEventType,
  patternMatches,
  type MarketEventType,
  type PatternCheck,
} from "./topic.ts";
export {
  MAX_HZ_LIMIT,
  MAX_TOPICS_PER_REQUEST,
  FloatId,
  parseRequest,
  requestIdOf,
  isPlainMap,
  type OnSlow,
  type ParsedRequest,
  type Request,
  type RequestError,
  type RequestId,
} from "./request.ts";
export {
  PAYLOAD_KEYS,
  nowMicros,
  type BarEvent,
  type HeartbeatEvent,
  type MarketEvent,
  type QuoteEvent,
  type SnapshotEndEvent,
  type TradeEvent,
} from "./event.ts";
export { EventEncoder, encodeEventJson } from "./event-encoder.ts";
export {
  FEED_REJECT_REASONS,
  FeedRejectReason,
  checkFeedFields,
  decodeFeedPayload,
  encodeFeedPayload,
  toMarketEvent,
  topicOfSubject,
  type DecodedFeed,
  type FeedTopic,
} from "./feed.ts";
export {
  decodeClientFrame,
  encodeControl,
  type ControlMessage,
  type DecodedFrame,
  type Reply,
  type SnapshotEndMessage,
} from "./codec.ts";
export { CLIENT_FRAME_LIMITS, DecodeError, FEED_PAYLOAD_LIMITS, type DecodeLimits } from "./decode-limits.ts";
