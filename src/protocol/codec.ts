import { Packr, Unpackr } from "msgpackr";
import type { Encoding } from "./codes.ts";
import type { RequestId } from "./request.ts";
import type { SnapshotEndEvent } from "./event.ts";

/**
 * Control-plane codec: replies and control events, decoded requests. Not on the per-update path, so
 * msgpackr is used as is (`useRecords: false`: plain msgpack any decoder reads).
 */
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

export type Reply =
  | { readonly id: RequestId; readonly result: Readonly<Record<string, unknown>> }
  | { readonly id: RequestId | null; readonly error: { readonly code: number; readonly msg: string } };

export type ControlMessage = Reply | SnapshotEndEvent;

/** Encodes a control message for a connection: a binary msgpack frame or a JSON text. */
export function encodeControl(message: ControlMessage, encoding: Encoding): Uint8Array | string {
  return encoding === "msgpack" ? packr.pack(message) : JSON.stringify(message);
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
