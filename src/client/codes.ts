/**
 * Protocol constants the SDK needs, kept here rather than imported from `src/protocol/` so that the
 * browser bundle carries no server code (protocol/ pulls in the feed codec and Buffer). codes.test.ts
 * fails when these drift from `src/protocol/codes.ts`, the source of truth with proto/PROTOCOL.md.
 */

/** Error codes of `{"id", "error": {"code", "msg"}}` replies and of per-topic `errors` entries. */
export const ErrorCode = {
  BAD_REQUEST: 4000,
  UNAUTHORISED: 4001,
  BAD_TOPIC: 4002,
  NOT_ENTITLED: 4003,
  UNKNOWN_TOPIC: 4004,
  UNKNOWN_METHOD: 4005,
  LIMIT: 4006,
  RATE_LIMITED: 4008,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes the gateway sends. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SLOW_CONSUMER: 4007,
  RATE_LIMITED: 4008,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Bits of the `f` field of a data event; absent `f` means 0. */
export const EventFlag = {
  SNAPSHOT: 1,
  CONFLATED: 2,
} as const;

/** `Sec-WebSocket-Protocol` names; the name picks the encoding of server frames. */
export const Subprotocol = {
  MSGPACK: "tickwire.v1.msgpack",
  JSON: "tickwire.v1.json",
} as const;
export type Subprotocol = (typeof Subprotocol)[keyof typeof Subprotocol];

/** Endpoint path of the stream on a gateway. */
export const STREAM_PATH = "/v1/stream";
