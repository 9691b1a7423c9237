import type { HttpRequest } from "uWebSockets.js";

/**
 * Edges of the WebSocket layer the gateway can see (issue 10 §6; what uWS decides alone is in
 * PROTOCOL.md "Close codes", recorded by test/websocket-edges.test.ts).
 */

/**
 * Every `Sec-WebSocket-Protocol` line of the upgrade request as one comma-separated list: RFC 6455
 * §11.3.4 (and RFC 9110 §5.3) make repeated header lines one list, and uWS's `getHeader` returns only
 * the first line (`foo`, then `tickwire.v1.json` got HTTP 400 before).
 */
export function offeredSubprotocols(req: HttpRequest): string {
  return joinedHeader(req, "sec-websocket-protocol");
}

/**
 * Every line of a list-valued request header (`name` in lower case), joined with ", " as one list
 * (RFC 9110 §5.3). uWS's `getHeader` returns only the first line: for `X-Forwarded-For`, that would be
 * a line the client wrote itself when a proxy adds its own line instead of appending to the client's.
 */
export function joinedHeader(req: HttpRequest, name: string): string {
  let joined = "";
  req.forEach((key, value) => {
    if (key === name) joined = joined === "" ? value : `${joined}, ${value}`;
  });
  return joined;
}

/** Client protocol faults the gateway can tell apart from a dropped connection. */
export const PROTOCOL_FAULTS = ["invalid_utf8"] as const;
export type ProtocolFault = (typeof PROTOCOL_FAULTS)[number];

/**
 * The protocol fault behind a close, when uWS says: a text frame with invalid UTF-8 makes uWS drop the
 * TCP connection (no close frame: the client sees 1006, not RFC 6455's 1007) and call the close handler
 * with 1006 and the message "Received invalid UTF-8". Other faults (invalid close codes, oversized or
 * fragmented control frames, reserved opcodes, RSV bits) reach the handler as a bare 1006, the same as
 * a network drop, so they cannot be counted apart.
 */
export function protocolFaultOf(code: number, message: ArrayBuffer): ProtocolFault | undefined {
  if (code !== 1006 || message.byteLength === 0) return undefined;
  return Buffer.from(message).toString("latin1") === "Received invalid UTF-8" ? "invalid_utf8" : undefined;
}
