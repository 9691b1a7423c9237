import { CloseCode } from "../wire/index.ts";

/**
 * Close codes that recur on every retry of the same connection (issue 10 §3): reconnecting with the
 * same token, origin and requests gets the same close, so the client stops and surfaces the error
 * instead of looping. 1009 is handled apart (see {@link lowerLimitFrom}).
 */
const UNRECOVERABLE: ReadonlySet<number> = new Set([
  1002, // protocol error: the client's frames are malformed
  1003, // unsupported data
  1007, // invalid payload data (e.g. a text frame that is not UTF-8)
  CloseCode.MESSAGE_TOO_BIG, // 1009, when the frame limit cannot be learnt or was already honoured
  1008, // policy violation (an origin or a rule the gateway enforces)
  4001, // unauthorised: the token was refused
  4003, // not entitled
]);

export function isUnrecoverableClose(code: number): boolean {
  return UNRECOVERABLE.has(code);
}

/** HTTP statuses of a refused upgrade that every retry gets again (PROTOCOL.md, "Connecting"). */
const REFUSED_FOR_GOOD: ReadonlySet<number> = new Set([
  400, // an unknown subprotocol, a token in the URL
  401, // a malformed Authorization header
  403, // an Origin outside --allowed-origins
  404, // not the WebSocket path
]);

/** A TLS certificate the client does not trust (Node's messages; the same on every retry). */
const UNTRUSTED_CERTIFICATE =
  /self[- ]signed certificate|unable to (get local issuer|verify the first) certificate|does not match certificate's altnames|certificate signature failure/i;

/**
 * Whether a connection that never opened failed in a way every retry meets again (issue 10 §3), from the
 * error the WebSocket reported: in Node, `ws` names a refused upgrade's status ("Unexpected server
 * response: 403") and TLS names an untrusted certificate. Browsers report neither, so there the client
 * keeps backing off. A 503 (at capacity or draining, with retry-after), 408, 429 and other 5xx pass.
 */
export function isUnrecoverableUpgrade(error: string): boolean {
  const status = /Unexpected server response: (\d{3})/.exec(error);
  if (status !== null) return REFUSED_FOR_GOOD.has(Number(status[1]));
  return UNTRUSTED_CERTIFICATE.test(error);
}

/**
 * The frame limit a 1009 close names (`message too big: N bytes, limit M`, PROTOCOL.md "Limits"),
 * when it is lower than `current`: the client then splits its requests under it and retries once.
 * Undefined when the reason names no lower limit (retrying would send the same frame again).
 */
export function lowerLimitFrom(reason: string, current: number): number | undefined {
  const match = /limit (\d+)/.exec(reason);
  if (match === null) return undefined;
  const limit = Number(match[1]);
  return limit > 0 && limit < current ? limit : undefined;
}
