import { Packr } from "msgpackr";
import {
  NON_NEGATIVE_KEYS,
  PAYLOAD_KEYS,
  TOPIC_TOKEN,
  isEventType,
  type MarketEvent,
  type MarketEventType,
} from "../wire/index.ts";
import { FEED_PAYLOAD_LIMITS } from "./decode-limits.ts";
import { decodeJsonBytes } from "./strict-json.ts";
import { StrictMsgpackDecoder } from "./strict-msgpack.ts";
import { isPlainMap } from "./request.ts";

/**
 * Feed input (what feed handlers publish to NATS): subject `<prefix>.<venue>.<symbol>.<type>`, payload a
 * msgpack map or a JSON object with `te` (integer µs since the epoch) and the payload keys of the type.
 * Unknown keys are ignored; nothing malformed is ever forwarded.
 */
export const FeedRejectReason = {
  TOO_LARGE: "too_large",
  DECODE_ERROR: "decode_error",
  NOT_A_MAP: "not_a_map",
  BAD_SUBJECT: "bad_subject",
  MISSING_FIELD: "missing_field",
  /** `te` is not an integer, or outside years 2000 to 2200 in any unit. */
  BAD_TE: "bad_te",
  /** `te` is in seconds, milliseconds or nanoseconds: feeds send integer microseconds. */
  BAD_TE_UNIT: "bad_te_unit",
  /** A payload value is not a finite number. */
  BAD_VALUE: "bad_value",
  /** A size or volume is negative. */
  NEGATIVE_VALUE: "negative_value",
} as const;
export type FeedRejectReason = (typeof FeedRejectReason)[keyof typeof FeedRejectReason];
export const FEED_REJECT_REASONS: readonly FeedRejectReason[] = Object.values(FeedRejectReason);

/**
 * Feed payloads are untrusted: read by the strict decoder (no extension types, bounded depth and size;
 * issue 11 item 1), not msgpackr. It is also cheaper per message than msgpackr's `unpack` (see
 * strict-msgpack.ts for the measurement).
 */
const decoder = new StrictMsgpackDecoder(FEED_PAYLOAD_LIMITS);
/** Earliest and latest accepted `te`: years 2000 and 2200, in µs. Catches ms or ns sent as µs. */
const MIN_TE_US = 946_684_800_000_000;
const MAX_TE_US = 7_258_118_400_000_000;

export type FeedTopic =
  | { readonly ok: true; readonly topic: string; readonly type: MarketEventType }
  | { readonly ok: false; readonly reason: FeedRejectReason };

/** Turns a NATS subject (prefix already checked by the subscription) into a topic and its type. */
export function topicOfSubject(subject: string, prefixLength: number): FeedTopic {
  const topic = subject.slice(prefixLength);
  const tokens = topic.split(".");
  if (tokens.length !== 3) return { ok: false, reason: FeedRejectReason.BAD_SUBJECT };
  const type = tokens[2] as string;
  if (
    !isEventType(type) ||
    !TOPIC_TOKEN.test(tokens[0] as string) ||
    !TOPIC_TOKEN.test(tokens[1] as string)
  ) {
    return { ok: false, reason: FeedRejectReason.BAD_SUBJECT };
  }
  return { ok: true, topic, type };
}

export type DecodedFeed =
  | { readonly ok: true; readonly fields: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly reason: FeedRejectReason };

/**
 * Decodes a feed payload: JSON when it starts with `{` or `[` (optionally after white space), else
 * msgpack. (As msgpack those bytes would be a bare integer, never a valid feed message.)
 */
export function decodeFeedPayload(payload: Uint8Array, maxBytes: number): DecodedFeed {
  if (payload.length > maxBytes) return { ok: false, reason: FeedRejectReason.TOO_LARGE };
  let value: unknown;
  try {
    value = looksLikeJson(payload) ? decodeJsonBytes(payload, FEED_PAYLOAD_LIMITS) : decoder.decode(payload);
  } catch {
    // The reason is counted and logged by the caller; the exception text adds nothing actionable.
    return { ok: false, reason: FeedRejectReason.DECODE_ERROR };
  }
  if (!isPlainMap(value)) return { ok: false, reason: FeedRejectReason.NOT_A_MAP };
  return { ok: true, fields: value };
}

function looksLikeJson(payload: Uint8Array): boolean {
  for (let i = 0; i < payload.length; i++) {
    const byte = payload[i];
    if (byte === 0x7b || byte === 0x5b) return true; // "{" or "["
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return false;
  }
  return false;
}

/** Why a feed message's fields were rejected: the counted reason, the field, and words for the log. */
export interface FeedFieldProblem {
  readonly reason: FeedRejectReason;
  /** `te` or a payload key of the type (a fixed name, never the sender's text). */
  readonly field: string;
  readonly detail: string;
}

/** The units `te` is sometimes sent in by mistake, with their range for years 2000 to 2200. */
const TE_WRONG_UNITS = [
  { unit: "seconds", factor: 1e-6 },
  { unit: "milliseconds", factor: 1e-3 },
  { unit: "nanoseconds", factor: 1e3 },
] as const;

/** A value for a log line: numbers as they are, anything else by type (the sender's text is not echoed). */
function shown(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return "an integer beyond ±(2^53 − 1)";
  return `a ${value === null ? "null" : typeof value}`;
}

/**
 * Checks `te` and the payload keys of `type`; the first problem, if any, with its field and why. An integer
 * beyond ±(2^53 − 1) (msgpack uint64/int64, or a JSON integer literal) decodes to a `bigint` and is
 * refused (`bad_te` / `bad_value`): the gateway's events carry JavaScript numbers, and delivering it would
 * round it silently (issue 10 item 6). A feed that means an approximate value sends a float.
 */
export function feedFieldProblem(
  type: MarketEventType,
  fields: Readonly<Record<string, unknown>>,
): FeedFieldProblem | undefined {
  const te = fields["te"];
  if (te === undefined) {
    return { reason: FeedRejectReason.MISSING_FIELD, field: "te", detail: "te is absent" };
  }
  if (typeof te === "number" && Number.isFinite(te)) {
    for (const { unit, factor } of TE_WRONG_UNITS) {
      if (te >= MIN_TE_US * factor && te <= MAX_TE_US * factor) {
        return {
          reason: FeedRejectReason.BAD_TE_UNIT,
          field: "te",
          detail: `te ${te} looks like ${unit} since the epoch; te is integer microseconds`,
        };
      }
    }
  }
  if (typeof te !== "number" || !Number.isSafeInteger(te) || te < MIN_TE_US || te > MAX_TE_US) {
    return {
      reason: FeedRejectReason.BAD_TE,
      field: "te",
      detail: `te is ${shown(te)}: must be integer microseconds since the epoch, years 2000 to 2200`,
    };
  }
  for (const key of PAYLOAD_KEYS[type]) {
    const value = fields[key];
    if (value === undefined) {
      return {
        reason: FeedRejectReason.MISSING_FIELD,
        field: key,
        detail: `${key} is absent (a ${type} has ${PAYLOAD_KEYS[type].join(", ")})`,
      };
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return {
        reason: FeedRejectReason.BAD_VALUE,
        field: key,
        detail: `${key} is ${shown(value)}: must be a finite number`,
      };
    }
    if (value < 0 && NON_NEGATIVE_KEYS.has(key)) {
      return {
        reason: FeedRejectReason.NEGATIVE_VALUE,
        field: key,
        detail: `${key} is ${value}: must not be negative`,
      };
    }
  }
  return undefined;
}

/** Checks `te` and the payload keys of `type`; returns the reason of the first problem, if any. */
export function checkFeedFields(
  type: MarketEventType,
  fields: Readonly<Record<string, unknown>>,
): FeedRejectReason | undefined {
  return feedFieldProblem(type, fields)?.reason;
}

/** Builds the normalised event from fields that passed {@link checkFeedFields}. */
export function toMarketEvent(
  type: MarketEventType,
  topic: string,
  seq: number,
  sentMicros: number,
  fields: Readonly<Record<string, unknown>>,
): MarketEvent {
  const te = fields["te"] as number;
  switch (type) {
    case "trade":
      return {
        e: type,
        t: topic,
        q: seq,
        te,
        ts: sentMicros,
        p: fields["p"] as number,
        z: fields["z"] as number,
      };
    case "quote":
      return {
        e: type,
        t: topic,
        q: seq,
        te,
        ts: sentMicros,
        bp: fields["bp"] as number,
        bz: fields["bz"] as number,
        ap: fields["ap"] as number,
        az: fields["az"] as number,
      };
    case "bar":
      return {
        e: type,
        t: topic,
        q: seq,
        te,
        ts: sentMicros,
        o: fields["o"] as number,
        h: fields["h"] as number,
        l: fields["l"] as number,
        c: fields["c"] as number,
        v: fields["v"] as number,
      };
  }
}

const feedPackr = new Packr({ useRecords: false });

/** Encodes feed fields as a msgpack map: what a feed handler publishes (demo feed, load harness). */
export function encodeFeedPayload(fields: Readonly<Record<string, number>>): Uint8Array {
  return feedPackr.pack(fields);
}
