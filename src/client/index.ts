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
  AuthRefusedError,
  ClientClosedError,
  ConnectionLostError,
  InvalidArgumentError,
  NoWebSocketError,
  RequestRefusedError,
  UnrecoverableCloseError,
} from "./errors.ts";
export {
  CloseCode,
  ErrorCode,
  EventFlag,
  FeedStatus,
  STREAM_PATH,
  Subprotocol,
  patternMatches,
  type BarEvent,
  type Encoding,
  type FeedEvent,
  type HeartbeatEvent,
  type MarketEvent,
  type QuoteEvent,
  type SnapshotEndEvent,
  type TradeEvent,
} from "../wire/index.ts";
export { reconnectDelayMs, retryHintMs, type BackoffOptions } from "./backoff.ts";
export { SequenceTracker } from "./sequence.ts";
export type { AuthResult, TokenSource } from "./token-keeper.ts";
export type { WebSocketConstructor, WebSocketLike } from "./transport.ts";
export type {
  ClientStats,
  ConnectionState,
  Disconnect,
  GapNotice,
  StateChange,
  StreamItem,
  SubscribeResult,
  TopicError,
  UnsubscribeResult,
} from "./events.ts";
