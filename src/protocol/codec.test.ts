import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Packr, Unpackr } from "msgpackr";
import { decodeClientFrame, encodeControl, type ControlMessage } from "./codec.ts";
import { parseRequest } from "./request.ts";

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
      const decoded = decodeClientFrame(arrayBufferOf(Buffer.from(bytes)), true);
      assert.equal(decoded.ok, false);
      assert.match((decoded as { msg: string }).msg, /^binary frame is not valid msgpack: /);
    }
  });

  it("reports a text frame that is not JSON", () => {
    for (const s of ["", "{", "{method:'ping'}", "ping", '{"id":1} {"id":2}']) {
      const decoded = decodeClientFrame(text(s), false);
      assert.equal(decoded.ok, false);
      assert.match((decoded as { msg: string }).msg, /^text frame is not valid JSON: /);
    }
  });

  it("reads the frame type from isBinary, not from the bytes", () => {
    const json = text(JSON.stringify({ method: "ping", id: 1 }));
    assert.match(
      JSON.stringify(decodeClientFrame(json, true)),
      /"ok":false,"msg":"binary frame is not valid msgpack: /,
    );
    const msgpack = arrayBufferOf(packr.pack({ method: "ping", id: 1 }));
    assert.match(
      JSON.stringify(decodeClientFrame(msgpack, false)),
      /"ok":false,"msg":"text frame is not valid JSON: /,
    );
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

describe("request ids come back exactly (issue 10 item 1)", () => {
  /** The reply's msgpack bytes of `id` for a ping frame, decoded the way the hub does. */
  function echoedId(
    frame: ArrayBuffer,
    isBinary: boolean,
    encoding: "msgpack" | "json",
  ): Uint8Array | string {
    const decoded = decodeClientFrame(frame, isBinary);
    assert.ok(decoded.ok);
    const parsed = parseRequest(decoded.value);
    assert.ok(parsed.ok);
    return encodeControl({ id: parsed.request.id, result: {} }, encoding);
  }
  const ping = (idBytes: number[]): ArrayBuffer =>
    arrayBufferOf(
      Buffer.from([
        0x82,
        0xa6,
        ...Buffer.from("method"),
        0xa4,
        ...Buffer.from("ping"),
        0xa2,
        0x69,
        0x64,
        ...idBytes,
      ]),
    );
  const msgpackReply = (idBytes: number[]): string =>
    Buffer.from([
      0xde,
      0x00,
      0x02,
      0xa2,
      0x69,
      0x64,
      ...idBytes,
      0xa6,
      ...Buffer.from("result"),
      0xde,
      0,
      0,
    ]).toString("hex");

  it("echoes a msgpack uint64 id as the same uint64, in msgpack and as exact digits in JSON", () => {
    const cases: [number[], string][] = [
      [[0xcf, 0, 0, 0, 0x01, 0x2a, 0x05, 0xf2, 0], "5000000000"],
      [[0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0x01], "9007199254740993"],
      [[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], "18446744073709551615"],
      [[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], "-9223372036854775808"],
      [[0xd3, 0xff, 0xff, 0xff, 0xfe, 0xd5, 0xfa, 0x0e, 0], "-5000000000"],
    ];
    for (const [idBytes, digits] of cases) {
      assert.equal(
        Buffer.from(echoedId(ping(idBytes), true, "msgpack") as Uint8Array).toString("hex"),
        msgpackReply(idBytes),
      );
      assert.equal(echoedId(ping(idBytes), true, "json"), `{"id":${digits},"result":{}}`);
    }
  });

  it("echoes a JSON integer id of up to 64 bits exactly, in JSON and as a 64-bit msgpack integer", () => {
    for (const [digits, idBytes] of [
      ["5000000000", [0xcf, 0, 0, 0, 0x01, 0x2a, 0x05, 0xf2, 0]],
      ["18446744073709551615", [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
      ["-9223372036854775808", [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]],
      ["42", [0x2a]],
    ] as const) {
      const frame = text(`{"method":"ping","id":${digits}}`);
      assert.equal(echoedId(frame, false, "json"), `{"id":${digits},"result":{}}`);
      assert.equal(
        Buffer.from(echoedId(frame, false, "msgpack") as Uint8Array).toString("hex"),
        msgpackReply([...idBytes]),
      );
    }
  });

  it("refuses a JSON integer id wider than 64 bits with 4000 and id null", () => {
    const decoded = decodeClientFrame(text('{"method":"ping","id":18446744073709551616}'), false);
    assert.ok(decoded.ok);
    const parsed = parseRequest(decoded.value);
    assert.equal(parsed.ok, false);
    assert.equal((parsed as { id: unknown }).id, null);
  });

  it("echoes a float id as a float of its width, also when its value is integral", () => {
    for (const idBytes of [
      [0xcb, 0x41, 0xf2, 0xa0, 0x5f, 0x20, 0, 0, 0], // 5e9 as msgpackr packs it
      [0xca, 0x3f, 0xc0, 0, 0], // 1.5 as float32
      [0xca, 0x40, 0x80, 0, 0], // 4 as float32
      [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], // 1.5 as float64
    ]) {
      assert.equal(
        Buffer.from(echoedId(ping(idBytes), true, "msgpack") as Uint8Array).toString("hex"),
        msgpackReply(idBytes),
      );
    }
    assert.equal(
      echoedId(ping([0xcb, 0x41, 0xf2, 0xa0, 0x5f, 0x20, 0, 0, 0]), true, "json"),
      '{"id":5000000000,"result":{}}',
    );
  });

  it("echoes the id of snapshot_end the same way", () => {
    const decoded = decodeClientFrame(ping([0xcf, 0, 0, 0, 0x01, 0x2a, 0x05, 0xf2, 0]), true);
    assert.ok(decoded.ok);
    const parsed = parseRequest(decoded.value);
    assert.ok(parsed.ok);
    const end = encodeControl(
      { e: "snapshot_end", id: parsed.request.id, missing: ["a.b.quote"] },
      "msgpack",
    );
    assert.match(Buffer.from(end as Uint8Array).toString("hex"), /a26964cf000000012a05f200/);
    assert.equal(
      encodeControl({ e: "snapshot_end", id: parsed.request.id, missing: ["a.b.quote"] }, "json"),
      '{"e":"snapshot_end","id":5000000000,"missing":["a.b.quote"]}',
    );
  });
});
