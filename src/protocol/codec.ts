import { Packr } from "msgpackr";
import type { Encoding, FeedEvent, HeartbeatEvent, SnapshotEndEvent } from "../wire/index.ts";
import { CLIENT_FRAME_LIMITS } from "./decode-limits.ts";
import { FloatId, isPlainMap, type RequestId } from "./request.ts";
import { decodeJsonBytes } from "./strict-json.ts";
import { StrictMsgpackDecoder } from "./strict-msgpack.ts";

/**
 * Control-plane codec: replies and control events, decoded requests. Not on the per-update path.
 * Replies are packed by msgpackr (`useRecords: false`: plain msgpack any decoder reads), except the `id`,
 * which is written here so that it comes back exactly as sent ({@link encodeId}). Client frames are
 * untrusted: they are read by the strict decoders (no extension types, bounded depth and size; issue 11).
 */
const packr = new Packr({ useRecords: false });
const msgpackDecoder = new StrictMsgpackDecoder(CLIENT_FRAME_LIMITS);

export type Reply =
  | { readonly id: RequestId; readonly result: Readonly<Record<string, unknown>> }
  | {
      readonly id: RequestId | null;
      /** `reason`: only on 4001 (a fixed word a client acts on, PROTOCOL.md "auth"). */
      readonly error: { readonly code: number; readonly msg: string; readonly reason?: string };
    };

/** `snapshot_end` as the gateway sends it: its `id` is the subscribe's {@link RequestId}, echoed exactly. */
export type SnapshotEndMessage = Omit<SnapshotEndEvent, "id"> & { readonly id: RequestId };

export type ControlMessage = Reply | SnapshotEndMessage | HeartbeatEvent | FeedEvent;

/** Encodes a control message for a connection: a binary msgpack frame or a JSON text. */
export function encodeControl(message: ControlMessage, encoding: Encoding): Uint8Array | string {
  const id = "id" in message ? message.id : null;
  if (encoding === "msgpack") {
    const value = withIntegerTimestamp(message);
    return needsOwnMsgpack(id) ? packWithId(value as Record<string, unknown>) : packr.pack(value);
  }
  return typeof id === "bigint" || id instanceof FloatId ? stringifyWithId(message) : JSON.stringify(message);
}

/**
 * msgpackr writes integers of 2^32 and above as float64; a µs timestamp (`result.ts` of ping, `ts` of a
 * heartbeat) must reach msgpack clients as an integer (BRIEF: integer microseconds), so it is packed as a
 * BigInt (int64).
 */
function withIntegerTimestamp(message: ControlMessage): unknown {
  if ("e" in message) return "ts" in message ? { ...message, ts: BigInt(message.ts) } : message;
  if (!("result" in message)) return message;
  const ts = message.result["ts"];
  if (typeof ts !== "number" || !Number.isSafeInteger(ts)) return message;
  return { ...message, result: { ...message.result, ts: BigInt(ts) } };
}

/**
 * Whether msgpackr would change the id's type: it writes an integer `number` outside [−2^31, 2^32) as
 * float64, a positive `bigint` below 2^63 as int64 (a uint64 id must come back as uint64), and knows no
 * {@link FloatId}. Small integers, fractions and strings it writes exactly as {@link encodeId} would.
 */
function needsOwnMsgpack(id: RequestId | null): boolean {
  if (typeof id === "number") return Number.isInteger(id) && (id < -0x80000000 || id >= 0x100000000);
  return typeof id === "bigint" || id instanceof FloatId;
}

/** A control map packed entry by entry by msgpackr, with `id` from {@link encodeId}, in key order. */
function packWithId(message: Record<string, unknown>): Uint8Array {
  const keys = Object.keys(message);
  const parts: Uint8Array[] = [Uint8Array.of(0xde, keys.length >> 8, keys.length & 0xff)];
  for (const key of keys) {
    parts.push(packr.pack(key));
    parts.push(key === "id" ? encodeId(message[key] as RequestId) : packr.pack(message[key]));
  }
  return Buffer.concat(parts);
}

/**
 * msgpack bytes of an id: an integer in the smallest msgpack integer format that holds it (what the
 * msgpack spec asks of every writer; a uint64 id of 2^32 or more comes back as uint64 `cf`, a negative one
 * below −2^31 as int64 `d3`); a {@link FloatId} as float32 or float64; other values as msgpackr packs them.
 */
export function encodeId(id: RequestId): Uint8Array {
  if (id instanceof FloatId) {
    const out = Buffer.alloc(id.bits === 32 ? 5 : 9);
    out[0] = id.bits === 32 ? 0xca : 0xcb;
    if (id.bits === 32) out.writeFloatBE(id.value, 1);
    else out.writeDoubleBE(id.value, 1);
    return out;
  }
  const integer = typeof id === "bigint" ? id : Number.isInteger(id) ? BigInt(id) : undefined;
  if (integer === undefined || (integer >= -0x80000000n && integer < 0x100000000n)) {
    return packr.pack(typeof id === "bigint" ? Number(id) : id);
  }
  const out = Buffer.alloc(9);
  if (integer >= 0n) {
    out[0] = 0xcf;
    out.writeBigUInt64BE(integer, 1);
  } else {
    out[0] = 0xd3;
    out.writeBigInt64BE(integer, 1);
  }
  return out;
}

/** JSON text of an id: an integer's exact digits at any size, a float's shortest round-trip text. */
function idJson(id: RequestId | null): string {
  if (id instanceof FloatId) return JSON.stringify(id.value);
  return typeof id === "bigint" ? id.toString() : JSON.stringify(id);
}

/** JSON.stringify's text, with `id` written by {@link idJson} (JSON.stringify refuses a bigint). */
function stringifyWithId(message: ControlMessage): string {
  const entries = Object.entries(message).map(
    ([key, value]) =>
      `${JSON.stringify(key)}:${key === "id" ? idJson(value as RequestId) : JSON.stringify(value)}`,
  );
  return `{${entries.join(",")}}`;
}

export type DecodedFrame =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly msg: string };

/**
 * Decodes a client frame: binary frames are msgpack, text frames JSON, whatever the connection's
 * encoding, each by a strict decoder within {@link CLIENT_FRAME_LIMITS}. The reason a frame was refused is
 * in `msg` (e.g. `binary frame is not valid msgpack: msgpack extension type 0xd4 is not accepted`).
 */
export function decodeClientFrame(data: ArrayBuffer, isBinary: boolean): DecodedFrame {
  try {
    if (!isBinary) return { ok: true, value: decodeJsonBytes(new Uint8Array(data), CLIENT_FRAME_LIMITS) };
    const value = msgpackDecoder.decode(new Uint8Array(data));
    // A float id stays a float of its width: 5e9 sent as float64 is not echoed as uint64.
    const format = msgpackDecoder.idFormat;
    if ((format === 0xca || format === 0xcb) && isPlainMap(value) && typeof value["id"] === "number") {
      value["id"] = new FloatId(value["id"], format === 0xca ? 32 : 64);
    }
    return { ok: true, value };
  } catch (error) {
    const why = error instanceof Error ? `: ${error.message}` : "";
    return {
      ok: false,
      msg: (isBinary ? "binary frame is not valid msgpack" : "text frame is not valid JSON") + why,
    };
  }
}
