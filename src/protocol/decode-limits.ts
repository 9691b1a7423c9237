/**
 * Limits of the strict decoders (StrictMsgpackDecoder, decodeJson) that read untrusted input:
 * client frames and feed payloads. Every limit is checked before the work it guards is done: a declared
 * length or count is compared with the bytes that are left (each element takes at least one byte, each
 * map entry two) and with `maxElements` before anything is allocated, so a header declaring 2^32 entries
 * is refused in constant time. No extension types and no references are decoded (issue 11 item 1: a
 * 431-byte chain of msgpackr references froze the event loop for 4.9 s), so the decoded value is never
 * larger than a small multiple of the input: at most `maxElements` values, strings no longer than their
 * bytes.
 */
export interface DecodeLimits {
  /** Deepest nesting of arrays and maps; the top-level value is depth 1 if it is a container. */
  readonly maxDepth: number;
  /** Most values in total (container entries: an array element counts 1, a map entry 2). */
  readonly maxElements: number;
}

/**
 * Client frames: a request is at depth 3 (request → params → topics); a subscribe of 1,024 topics is
 * about 1,040 values. Documented in proto/PROTOCOL.md, Limits.
 */
export const CLIENT_FRAME_LIMITS: DecodeLimits = Object.freeze({ maxDepth: 16, maxElements: 4096 });

/** Feed payloads: a flat map of at most a dozen keys; unknown keys are allowed but ignored. */
export const FEED_PAYLOAD_LIMITS: DecodeLimits = Object.freeze({ maxDepth: 8, maxElements: 256 });

export { DecodeError } from "../errors/index.ts";
