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
