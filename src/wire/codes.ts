/**
 * Numbered error and close codes of protocol v1. proto/PROTOCOL.md documents every entry here;
 * test/protocol-doc.test.ts fails when the two disagree.
 *
 * Error codes travel in `{"id":…, "error":{"code":N,"msg":"…"}}` replies. Close codes are WebSocket
 * close codes; the 4xxx ones share their number with the error code of the same meaning.
 */
export const ErrorCode = {
  /** The frame is not a valid request: undecodable, not a map, missing or bad `id`, bad params. */
  BAD_REQUEST: 4000,
  /** Authentication required (`--auth jwt`, before a valid token) or token rejected (with a `reason`). */
  UNAUTHORISED: 4001,
  /** A topic or pattern is not valid syntax (per topic, in `errors` of a subscribe result). */
  BAD_TOPIC: 4002,
  /** The connection's grants do not cover every topic of the pattern (per topic, in `errors`). */
  NOT_ENTITLED: 4003,
  /** The topic names an event type this gateway does not carry, or is not subscribed (unsubscribe). */
  UNKNOWN_TOPIC: 4004,
  /** The method is not one of the v1 methods. */
  UNKNOWN_METHOD: 4005,
  /** The request would break a limit (topics per connection, topics per request); refused whole, nothing changed. */
  LIMIT: 4006,
  /** Too many control messages; the request was not processed. */
  RATE_LIMITED: 4008,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes the gateway sends. */
export const CloseCode = {
  /** The client closed, or the server closed without error. */
  NORMAL: 1000,
  /** Server shutting down or draining; reason carries `retryAfterMs`. */
  GOING_AWAY: 1001,
  /** A client frame exceeded `maxMessageBytes` (sent by the WebSocket layer). */
  MESSAGE_TOO_BIG: 1009,
  /** A bug in the gateway while handling this connection's frame; the process keeps running. */
  INTERNAL_ERROR: 1011,
  /** No valid token within --auth-timeout-ms, or the token expired without a refresh; reason JSON has `reason`. */
  UNAUTHORISED: 4001,
  /** An `Authorization: Bearer` connection whose `sub` already has `tw.maxConnections` connections on this node. */
  LIMIT: 4006,
  /** Slow consumer: over the soft watermark past --slow-close-ms, over the hard watermark, or onSlow "disconnect". */
  SLOW_CONSUMER: 4007,
  /** The client kept sending control messages after being rate limited. */
  RATE_LIMITED: 4008,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Bits of the `f` field of a data event. Absent `f` means 0. */
export const EventFlag = {
  SNAPSHOT: 1,
  CONFLATED: 2,
  /**
   * On a SNAPSHOT: the gateway cannot vouch that this is still the topic's current value, because its
   * feed is down now or the value was received before the feed's last outage (protocol v1.9).
   */
  STALE: 4,
  /**
   * On a live event: updates of this topic may have been lost before this one (the gateway's NATS
   * connection was replaced since the topic's previous event); `q` stays consecutive.
   */
  RESYNC: 8,
} as const;

/** State of the gateway's feed (its NATS connection), in `feed` events and heartbeats. */
export const FeedStatus = {
  UP: "up",
  DOWN: "down",
} as const;
export type FeedStatus = (typeof FeedStatus)[keyof typeof FeedStatus];

/** `Sec-WebSocket-Protocol` names; the one a connection agrees on picks the encoding of server frames. */
export const Subprotocol = {
  MSGPACK: "tickwire.v1.msgpack",
  JSON: "tickwire.v1.json",
} as const;
export type Subprotocol = (typeof Subprotocol)[keyof typeof Subprotocol];

/** Wire encoding of one connection: msgpack (binary frames, the default) or JSON (text frames, for debugging). */
export type Encoding = "msgpack" | "json";

/** Endpoint path of the stream on a gateway: `ws://HOST:PORT/v1/stream`. */
export const STREAM_PATH = "/v1/stream";
