import { Packr, Unpackr } from "msgpackr";
import type { Encoding, FeedEvent, HeartbeatEvent, SnapshotEndEvent } from "../wire/index.ts";
import type { RequestId } from "./request.ts";

/**
 * Control-plane codec: replies and control events, decoded requests. Not on the per-update path, so
 * msgpackr is used as is (`useRecords: false`: plain msgpack any decoder reads).
 */
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

export type Reply =
  | { readonly id: RequestId; readonly result: Readonly<Record<string, unknown>> }
  | { readonly id: RequestId | null; readonly error: { readonly code: number; readonly msg: string } };

export type ControlMessage = Reply | SnapshotEndEvent | HeartbeatEvent | FeedEvent;

/** Encodes a control message for a connection: a binary msgpack frame or a JSON text. */
export function encodeControl(message: ControlMessage, encoding: Encoding): Uint8Array | string {
  return encoding === "msgpack" ? packr.pack(withIntegerTimestamp(message)) : JSON.stringify(message);
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

export type DecodedFrame =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly msg: string };

/** Decodes a client frame: binary frames are msgpack, text frames JSON, whatever the connection's encoding. */
export function decodeClientFrame(data: ArrayBuffer, isBinary: boolean): DecodedFrame {
  try {
    if (isBinary) return { ok: true, value: unpackr.unpack(new Uint8Array(data)) };
    return { ok: true, value: JSON.parse(Buffer.from(data).toString("utf8")) };
  } catch {
    return {
      ok: false,
      msg: isBinary ? "binary frame is not valid msgpack" : "text frame is not valid JSON",
    };
  }
}
