// The wire vocabulary lives in src/wire/ (shared with the browser SDK); the server reaches it through here.
export * from "../wire/index.ts";
export {
  MAX_HZ_LIMIT,
  MIN_HZ,
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
export { EventEncoder, encodeEventJson } from "./event-encoder.ts";
export {
  FEED_REJECT_REASONS,
  FeedRejectReason,
  checkFeedFields,
  decodeFeedPayload,
  encodeFeedPayload,
  feedFieldProblem,
  type FeedFieldProblem,
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
