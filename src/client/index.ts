/**
 * tickwire client SDK, for Node 20 and browsers: `import { connect } from "tickwire/client"`, or in a
 * page served by a gateway, `import { connect } from "/client.js"`. See README "Client SDK".
 */
export { connect, TickwireClient, type ClientEvents, type ClientOptions } from "./client.ts";
export {
  Subscription,
  IteratorOverflowError,
  type SubscribeOptions,
  type SubscriptionEvents,
} from "./subscription.ts";
export {
  ClientClosedError,
  ConnectionLostError,
  InvalidArgumentError,
  NoWebSocketError,
  RequestRefusedError,
} from "./errors.ts";
export { CloseCode, ErrorCode, EventFlag, STREAM_PATH, Subprotocol } from "./codes.ts";
export { reconnectDelayMs, retryHintMs, type BackoffOptions } from "./backoff.ts";
export { SequenceTracker } from "./sequence.ts";
export { patternMatches } from "./pattern.ts";
export type { Encoding, WebSocketConstructor, WebSocketLike } from "./transport.ts";
export type {
  BarEvent,
  ClientStats,
  ConnectionState,
  Disconnect,
  GapNotice,
  HeartbeatEvent,
  MarketEvent,
  QuoteEvent,
  SnapshotEndEvent,
  StateChange,
  StreamItem,
  SubscribeResult,
  TopicError,
  TradeEvent,
  UnsubscribeResult,
} from "./events.ts";
