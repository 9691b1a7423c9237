import { ErrorCode } from "../wire/index.ts";

/**
 * Request id, echoed in every reply to the request and in its `snapshot_end`, with the same type and value
 * (proto/PROTOCOL.md, Requests and replies): a string of at most 64 characters; an integer from −2^63 to
 * 2^64 − 1 (a `number` when safe, else an exact `bigint`); a fractional number; or a {@link FloatId}.
 * `null` only in replies to requests whose id could not be read.
 */
export type RequestId = string | number | bigint | FloatId;

/**
 * An id sent as a msgpack float whose value is integral (msgpackr, for one, packs integers of 2^32 and
 * above as float64): echoed as a float of the same width, not as the integer a `number` would become.
 */
export class FloatId {
  constructor(
    readonly value: number,
    readonly bits: 32 | 64,
  ) {}
}

const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

/** Most topics accepted in one subscribe or unsubscribe request. */
export const MAX_TOPICS_PER_REQUEST = 1024;
const MAX_ID_LENGTH = 64;

export type Request =
  | {
      readonly method: "subscribe";
      readonly id: RequestId;
      readonly topics: readonly unknown[];
      readonly snapshot: boolean;
      /** Most events per second per topic; 0 = every update (the default). */
      readonly maxHz: number;
      readonly onSlow: OnSlow;
    }
  | { readonly method: "unsubscribe"; readonly id: RequestId; readonly topics: readonly unknown[] }
  | { readonly method: "list"; readonly id: RequestId }
  | { readonly method: "ping"; readonly id: RequestId }
  /** `token` is a string; the verifier judges the rest (length, form, signature, claims). */
  | { readonly method: "auth"; readonly id: RequestId; readonly token: string }
  /** Discovery: the known topics matching `pattern` (unchecked here), at most `limit` (0 = the maximum). */
  | { readonly method: "topics"; readonly id: RequestId; readonly pattern: unknown; readonly limit: number };

export interface RequestError {
  readonly id: RequestId | null;
  readonly code: ErrorCode;
  readonly msg: string;
}

export type ParsedRequest =
  { readonly ok: true; readonly request: Request } | ({ readonly ok: false } & RequestError);

const METHODS = "subscribe, unsubscribe, list, ping, topics, auth";

/**
 * What a subscription asks for when its connection cannot keep up: `conflate` (the default) keeps the
 * latest value per topic and flags what was merged; `disconnect` closes the connection with 4007 instead,
 * for scripts that want a hard failure rather than a gap.
 */
export type OnSlow = "conflate" | "disconnect";

/** Highest `maxHz` a subscribe may ask for; a gateway may cap it lower (`--max-hz`). */
export const MAX_HZ_LIMIT = 1000;

/**
 * Lowest non-zero `maxHz` (one event per 100 s). A rate of 1e-9 held each connection's rate state in
 * the timer wheel for 31 years after it closed (issue 11 §4: 7,500 such connections, heap 12 → 110 MB,
 * never returned), and 5e-324 (an interval of Infinity ms) meant "every update".
 */
export const MIN_HZ = 0.01;

/**
 * Validates a decoded control message (`{"method", "id", "params"}`). Topics are returned unchecked:
 * each is validated on its own so that a subscribe succeeds for the good ones.
 */
export function parseRequest(value: unknown): ParsedRequest {
  if (!isPlainMap(value))
    return fail(null, ErrorCode.BAD_REQUEST, `request must be a map, got ${describe(value)}`);
  const rawId = value["id"];
  const id = asRequestId(rawId);
  const method = value["method"];
  if (id === null) {
    const why =
      rawId === undefined
        ? "request has no id"
        : `id must be an integer of at most 64 bits, a number or a string of at most ${MAX_ID_LENGTH} characters`;
    return fail(null, ErrorCode.BAD_REQUEST, why);
  }
  if (typeof method !== "string") return fail(id, ErrorCode.BAD_REQUEST, "request has no method string");
  const params = value["params"] ?? {};
  if (!isPlainMap(params))
    return fail(id, ErrorCode.BAD_REQUEST, `params must be a map, got ${describe(params)}`);

  switch (method) {
    case "subscribe": {
      const topics = readTopics(id, params);
      if (!Array.isArray(topics)) return topics;
      const extra = unknownKeys(params, ["topics", "snapshot", "maxHz", "onSlow"]);
      if (extra !== undefined) return fail(id, ErrorCode.BAD_REQUEST, `subscribe: unknown param "${extra}"`);
      const snapshot = params["snapshot"] ?? true;
      if (typeof snapshot !== "boolean")
        return fail(id, ErrorCode.BAD_REQUEST, "subscribe: snapshot must be a boolean");
      const maxHz = params["maxHz"] ?? 0;
      if (typeof maxHz !== "number" || !(maxHz === 0 || (maxHz >= MIN_HZ && maxHz <= MAX_HZ_LIMIT))) {
        return fail(
          id,
          ErrorCode.BAD_REQUEST,
          `subscribe: maxHz must be 0 (every update) or a number from ${MIN_HZ} to ${MAX_HZ_LIMIT}`,
        );
      }
      const onSlow = params["onSlow"] ?? "conflate";
      if (onSlow !== "conflate" && onSlow !== "disconnect")
        return fail(id, ErrorCode.BAD_REQUEST, 'subscribe: onSlow must be "conflate" or "disconnect"');
      return { ok: true, request: { method, id, topics, snapshot, maxHz, onSlow } };
    }
    case "unsubscribe": {
      const topics = readTopics(id, params);
      if (!Array.isArray(topics)) return topics;
      const extra = unknownKeys(params, ["topics"]);
      if (extra !== undefined)
        return fail(id, ErrorCode.BAD_REQUEST, `unsubscribe: unknown param "${extra}"`);
      return { ok: true, request: { method, id, topics } };
    }
    case "list":
    case "ping":
      return { ok: true, request: { method, id } };
    case "auth": {
      const extra = unknownKeys(params, ["token"]);
      if (extra !== undefined) return fail(id, ErrorCode.BAD_REQUEST, `auth: unknown param "${extra}"`);
      if (typeof params["token"] !== "string")
        return fail(id, ErrorCode.BAD_REQUEST, "auth: token must be a string");
      return { ok: true, request: { method, id, token: params["token"] } };
    }
    case "topics": {
      const extra = unknownKeys(params, ["pattern", "limit"]);
      if (extra !== undefined) return fail(id, ErrorCode.BAD_REQUEST, `topics: unknown param "${extra}"`);
      if (params["pattern"] === undefined)
        return fail(id, ErrorCode.BAD_REQUEST, "topics: params.pattern must be a topic pattern");
      const limit = params["limit"] ?? 0;
      if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0)
        return fail(id, ErrorCode.BAD_REQUEST, "topics: limit must be a whole number (0 = the maximum)");
      return { ok: true, request: { method, id, pattern: params["pattern"], limit } };
    }
    default:
      return fail(
        id,
        ErrorCode.UNKNOWN_METHOD,
        `unknown method "${method.slice(0, 64)}" (known: ${METHODS})`,
      );
  }
}

function readTopics(id: RequestId, params: Record<string, unknown>): unknown[] | ParsedRequest {
  const topics = params["topics"];
  if (!Array.isArray(topics) || topics.length === 0) {
    return fail(id, ErrorCode.BAD_REQUEST, "params.topics must be a non-empty array of topic strings");
  }
  if (topics.length > MAX_TOPICS_PER_REQUEST) {
    return fail(
      id,
      ErrorCode.LIMIT,
      `params.topics has ${topics.length} entries; at most ${MAX_TOPICS_PER_REQUEST} per request`,
    );
  }
  return topics as unknown[];
}

function unknownKeys(map: Record<string, unknown>, known: readonly string[]): string | undefined {
  for (const key of Object.keys(map)) if (!known.includes(key)) return key.slice(0, 64);
  return undefined;
}

function fail(id: RequestId | null, code: ErrorCode, msg: string): ParsedRequest {
  return { ok: false, id, code, msg };
}

/** The request id of a decoded frame, or null when it has none usable (also for error replies). */
export function requestIdOf(value: unknown): RequestId | null {
  return isPlainMap(value) ? asRequestId(value["id"]) : null;
}

function asRequestId(raw: unknown): RequestId | null {
  if (typeof raw === "number" && Number.isFinite(raw)) return raw;
  if (typeof raw === "string" && raw.length <= MAX_ID_LENGTH) return raw;
  // Wider than 64 bits (only JSON can say so): no msgpack integer could echo it, so it is refused.
  if (typeof raw === "bigint" && raw >= MIN_INT64 && raw <= MAX_UINT64) return raw;
  if (raw instanceof FloatId) return raw;
  return null;
}

/** A map decoded from JSON or msgpack: a plain object, not an array, binary or class instance. */
export function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (ArrayBuffer.isView(value)) return "binary";
  return typeof value;
}
