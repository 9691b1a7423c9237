import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Packr, Unpackr } from "msgpackr";
import { decodeClientFrame, encodeControl, type ControlMessage } from "./codec.ts";

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

/** A standalone ArrayBuffer holding exactly `bytes`, as the WebSocket layer hands frames over. */
function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

const text = (s: string): ArrayBuffer => arrayBufferOf(Buffer.from(s, "utf8"));

const SUBSCRIBE = { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote", "binance.>"] } };

describe("decodeClientFrame", () => {
  it("decodes a binary frame as msgpack", () => {
    assert.deepEqual(decodeClientFrame(arrayBufferOf(packr.pack(SUBSCRIBE)), true), {
      ok: true,
      value: SUBSCRIBE,
    });
  });

  it("decodes a text frame as JSON", () => {
    assert.deepEqual(decodeClientFrame(text(JSON.stringify(SUBSCRIBE)), false), {
      ok: true,
      value: SUBSCRIBE,
    });
  });

  it("decodes UTF-8 text frames", () => {
    assert.deepEqual(decodeClientFrame(text('{"id":"zürich-€-🙂"}'), false), {
      ok: true,
      value: { id: "zürich-€-🙂" },
    });
  });

  it("decodes 64-bit msgpack integers as numbers", () => {
    // {"id": 2^40} with id as uint64 (0xcf), as a Python or Go client may write it.
    const frame = Buffer.from([0x81, 0xa2, 0x69, 0x64, 0xcf, 0, 0, 0x01, 0, 0, 0, 0, 0]);
    assert.deepEqual(decodeClientFrame(arrayBufferOf(frame), true), { ok: true, value: { id: 2 ** 40 } });
  });

  it("decodes whatever the value is; checking the request shape is parseRequest's job", () => {
    assert.deepEqual(decodeClientFrame(text("[1,2]"), false), { ok: true, value: [1, 2] });
    assert.deepEqual(decodeClientFrame(arrayBufferOf(packr.pack("ping")), true), { ok: true, value: "ping" });
  });

  it("reports a binary frame that is not msgpack", () => {
    for (const bytes of [[], [0x82, 0xa2], [0x93, 0x01], [0xd9, 0x05, 0x61], [0x01, 0x02]]) {
      assert.deepEqual(decodeClientFrame(arrayBufferOf(Buffer.from(bytes)), true), {
        ok: false,
        msg: "binary frame is not valid msgpack",
      });
    }
  });

  it("reports a text frame that is not JSON", () => {
    for (const s of ["", "{", "{method:'ping'}", "ping", '{"id":1} {"id":2}']) {
      assert.deepEqual(decodeClientFrame(text(s), false), { ok: false, msg: "text frame is not valid JSON" });
    }
  });

  it("reads the frame type from isBinary, not from the bytes", () => {
    const json = text(JSON.stringify({ method: "ping", id: 1 }));
    assert.deepEqual(decodeClientFrame(json, true), { ok: false, msg: "binary frame is not valid msgpack" });
    const msgpack = arrayBufferOf(packr.pack({ method: "ping", id: 1 }));
    assert.deepEqual(decodeClientFrame(msgpack, false), { ok: false, msg: "text frame is not valid JSON" });
  });
});

describe("encodeControl", () => {
  const MESSAGES: readonly ControlMessage[] = [
    { id: 1, result: { subscribed: ["xnas.AAPL.quote"], errors: [] } },
    { id: "req-7", result: { ts: 1_800_000_000_123_456 } },
    { id: null, error: { code: 4000, msg: "text frame is not valid JSON" } },
    { id: 3, error: { code: 4006, msg: "subscription limit 2 per connection would be exceeded" } },
    { e: "snapshot_end", id: 1 },
    { e: "snapshot_end", id: "s" },
    { e: "snapshot_end", id: 2, missing: ["xnas.NEW.quote"] },
    { e: "heartbeat", ts: 1_800_000_000_123_456, sent: 12, conflated: 3, dropped: 0 },
  ];

  it("encodes msgpack replies as bytes that decode to the same message", () => {
    for (const message of MESSAGES) {
      const frame = encodeControl(message, "msgpack");
      assert.ok(frame instanceof Uint8Array);
      assert.deepEqual(unpackr.unpack(frame), message);
    }
  });

  it("encodes JSON replies as the JSON text of the message", () => {
    for (const message of MESSAGES) {
      const frame = encodeControl(message, "json");
      assert.equal(typeof frame, "string");
      assert.equal(frame, JSON.stringify(message));
      assert.deepEqual(JSON.parse(frame), message);
    }
  });

  it("keeps key order in msgpack (id before result or error, e before id)", () => {
    for (const message of MESSAGES) {
      const decoded = unpackr.unpack(encodeControl(message, "msgpack") as Uint8Array) as object;
      assert.deepEqual(Object.keys(decoded), Object.keys(message));
    }
  });

  it("packs the heartbeat's µs timestamp as a 64-bit integer, not a float", () => {
    const frame = encodeControl(
      { e: "heartbeat", ts: 1_800_000_000_123_456, sent: 0, conflated: 0, dropped: 0 },
      "msgpack",
    ) as Uint8Array;
    // "ts" key (a2 74 73) then uint64 (cf) or int64 (d3), never float64 (cb).
    const at = Buffer.from(frame).indexOf(Buffer.from([0xa2, 0x74, 0x73]));
    assert.ok(at > 0);
    assert.ok([0xcf, 0xd3].includes(frame[at + 3] as number), `type byte 0x${frame[at + 3]?.toString(16)}`);
  });

  it("encodes plain msgpack maps, without msgpackr records extension", () => {
    const frame = encodeControl({ id: 1, result: {} }, "msgpack") as Uint8Array;
    const first = frame[0] as number;
    // fixmap (0x80-0x8f) or map16/map32 (0xde/0xdf): never the 0xd4-0xd8 ext types records use.
    assert.ok(
      (first & 0xf0) === 0x80 || first === 0xde || first === 0xdf,
      `first byte 0x${first.toString(16)}`,
    );
  });

  it("round-trips a msgpack control message through decodeClientFrame", () => {
    const message: ControlMessage = { id: 9, result: { topics: ["xnas.*.quote"] } };
    const frame = encodeControl(message, "msgpack") as Uint8Array;
    assert.deepEqual(decodeClientFrame(arrayBufferOf(frame), true), { ok: true, value: message });
  });
});
