import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Unpackr } from "msgpackr";
import { EventEncoder } from "./event-encoder.ts";
import type { BarEvent, MarketEvent, QuoteEvent, TradeEvent } from "../wire/index.ts";

// int64AsType "number": uint64 timestamps come back as numbers (they are below 2^53), as in any
// decoder that maps msgpack integers to its native integer type.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const decode = (bytes: Uint8Array): unknown => unpackr.unpack(bytes);

const TE = 1_800_000_000_123_456;
const TS = 1_800_000_000_654_321;

/** A trade with its keys in wire order (so its JSON has the wire key order too). */
const trade = ({ p = 96123.5, z = 3, ...header }: Partial<TradeEvent> = {}): TradeEvent => ({
  e: "trade",
  t: "binance.BTC-USDT.trade",
  q: 1,
  te: TE,
  ts: TS,
  ...header,
  p,
  z,
});

const quote: QuoteEvent = {
  e: "quote",
  t: "xnas.AAPL.quote",
  q: 42,
  te: TE,
  ts: TS,
  bp: 228.01,
  bz: 100,
  ap: 228.03,
  az: 300,
};

const bar: BarEvent = {
  e: "bar",
  t: "xlon.SHEL.bar",
  q: 7,
  te: TE,
  ts: TS,
  o: 2600,
  h: 2610.5,
  l: 2598,
  c: 2605,
  v: 123456,
};

/** The event with its keys in wire order: e, t, q, te, ts, f and n when set, then the payload. */
function wireOrder(event: MarketEvent): MarketEvent {
  const { e, t, q, te, ts, f, n, ...payload } = event;
  return {
    e,
    t,
    q,
    te,
    ts,
    ...(f === undefined ? {} : { f }),
    ...(n === undefined ? {} : { n }),
    ...payload,
  } as MarketEvent;
}

/** The bytes `key` is written as: a fixstr. */
function keyBytes(key: string): number[] {
  return [0xa0 | key.length, ...Buffer.from(key, "latin1")];
}

/** The bytes that follow `key` in the frame (the first occurrence of the key's encoding). */
function bytesAfterKey(frame: Uint8Array, key: string, count: number): number[] {
  const needle = Buffer.from(keyBytes(key));
  const at = Buffer.from(frame.buffer, frame.byteOffset, frame.length).indexOf(needle);
  assert.ok(at >= 0, `key ${key} not found`);
  return [...frame.subarray(at + needle.length, at + needle.length + count)];
}

function assertRoundTrip(encoder: EventEncoder, event: MarketEvent): Uint8Array {
  const frame = encoder.encode(event);
  const decoded = decode(frame);
  assert.deepEqual(decoded, event);
  assert.deepEqual(Object.keys(decoded as object), Object.keys(JSON.parse(JSON.stringify(event)) as object));
  return frame;
}

describe("EventEncoder: event types", () => {
  it("encodes a trade that decodes to the same event with the same key order as its JSON", () => {
    const frame = assertRoundTrip(new EventEncoder(), trade());
    assert.equal(frame[0], 0x80 | 7, "fixmap of 7 entries");
  });

  it("encodes a quote that decodes to the same event with the same key order as its JSON", () => {
    const frame = assertRoundTrip(new EventEncoder(), quote);
    assert.equal(frame[0], 0x80 | 9, "fixmap of 9 entries");
  });

  it("encodes a bar that decodes to the same event with the same key order as its JSON", () => {
    const frame = assertRoundTrip(new EventEncoder(), bar);
    assert.equal(frame[0], 0x80 | 10, "fixmap of 10 entries");
  });

  it("starts every frame with e then t, as the wire order requires", () => {
    const frame = new EventEncoder().encode(quote);
    assert.deepEqual(
      [...frame.subarray(1, 1 + 2 + 6 + 2)],
      [...keyBytes("e"), ...keyBytes("quote"), ...keyBytes("t")],
    );
  });

  it("round-trips every type with f and n set, keys in JSON order", () => {
    const encoder = new EventEncoder();
    for (const event of [
      trade({ f: 2, n: 5 }),
      { ...quote, f: 3, n: 17 } as QuoteEvent,
      { ...bar, f: 1 } as BarEvent,
    ]) {
      assertRoundTrip(encoder, wireOrder(event));
    }
  });
});

describe("EventEncoder: f and n", () => {
  const keysOf = (event: MarketEvent): string[] =>
    Object.keys(decode(new EventEncoder().encode(event)) as object);

  it("leaves out f and n when they are not set", () => {
    assert.deepEqual(keysOf(trade()), ["e", "t", "q", "te", "ts", "p", "z"]);
  });

  it("writes f after ts when set", () => {
    assert.deepEqual(keysOf(trade({ f: 1 })), ["e", "t", "q", "te", "ts", "f", "p", "z"]);
  });

  it("writes n after f when both are set", () => {
    assert.deepEqual(keysOf(trade({ f: 2, n: 9 })), ["e", "t", "q", "te", "ts", "f", "n", "p", "z"]);
  });

  it("writes n without f when only n is set", () => {
    assert.deepEqual(keysOf(trade({ n: 1 })), ["e", "t", "q", "te", "ts", "n", "p", "z"]);
  });

  it("leaves out f when it is 0 (absent f means 0)", () => {
    const decoded = decode(new EventEncoder().encode(trade({ f: 0 }))) as Record<string, unknown>;
    assert.equal("f" in decoded, false);
    assert.equal(decoded["z"], 3);
  });
});

describe("EventEncoder: numbers", () => {
  // Each value is written as `z`, the last field of a trade, so the frame ends with its bytes.
  const INTEGERS: readonly (readonly [number, readonly number[]])[] = [
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0xcc, 0x80]],
    [255, [0xcc, 0xff]],
    [256, [0xcd, 0x01, 0x00]],
    [65535, [0xcd, 0xff, 0xff]],
    [65536, [0xce, 0x00, 0x01, 0x00, 0x00]],
    [2 ** 32 - 1, [0xce, 0xff, 0xff, 0xff, 0xff]],
    [2 ** 32, [0xcf, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]],
    [Number.MAX_SAFE_INTEGER, [0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    [-1, [0xff]],
    [-32, [0xe0]],
    [-33, [0xd0, 0xdf]],
    [-128, [0xd0, 0x80]],
    [-129, [0xd1, 0xff, 0x7f]],
    [-32768, [0xd1, 0x80, 0x00]],
    [-32769, [0xd2, 0xff, 0xff, 0x7f, 0xff]],
    [-(2 ** 31), [0xd2, 0x80, 0x00, 0x00, 0x00]],
    [-(2 ** 31) - 1, [0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]],
    [-Number.MAX_SAFE_INTEGER, [0xd3, 0xff, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]],
  ];

  for (const [value, bytes] of INTEGERS) {
    void it(`writes the integer ${value} in its smallest msgpack form and reads back ${value}`, () => {
      const event = trade({ z: value });
      const frame = assertRoundTrip(new EventEncoder(), event);
      assert.deepEqual([...frame.subarray(frame.length - bytes.length)], [...bytes]);
      assert.deepEqual(
        [...frame.subarray(frame.length - bytes.length - 2, frame.length - bytes.length)],
        keyBytes("z"),
      );
    });
  }

  for (const value of [0.5, 228.01, -2.75, 0.0001, 1e-300, 1e300, 2 ** 53, -(2 ** 53), 1.8e15 + 0.5]) {
    void it(`writes the non-safe-integer ${value} as a float64 that reads back exactly`, () => {
      const frame = assertRoundTrip(new EventEncoder(), trade({ p: value }));
      const after = bytesAfterKey(frame, "p", 9);
      const expected = Buffer.alloc(9);
      expected[0] = 0xcb;
      expected.writeDoubleBE(value, 1);
      assert.deepEqual(after, [...expected]);
    });
  }

  it("writes NaN and Infinity as float64 (the feed never lets them through, but they stay msgpack)", () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const frame = new EventEncoder().encode(trade({ p: value }));
      assert.equal(bytesAfterKey(frame, "p", 1)[0], 0xcb);
      assert.deepEqual((decode(frame) as Record<string, unknown>)["p"], value);
    }
  });

  it("writes µs timestamps (~1.8e15) as exact uint64, not float", () => {
    const frame = assertRoundTrip(new EventEncoder(), trade());
    const te = bytesAfterKey(frame, "te", 9);
    const ts = bytesAfterKey(frame, "ts", 9);
    assert.equal(te[0], 0xcf);
    assert.equal(ts[0], 0xcf);
    assert.equal(Buffer.from(te.slice(1)).readBigUInt64BE(0), BigInt(TE));
    assert.equal(Buffer.from(ts.slice(1)).readBigUInt64BE(0), BigInt(TS));
  });

  it("writes the sequence number as an integer at every size", () => {
    for (const [q, marker] of [
      [1, 0x01],
      [200, 0xcc],
      [60_000, 0xcd],
      [4_000_000_000, 0xce],
      [5_000_000_000, 0xcf],
    ] as const) {
      const frame = assertRoundTrip(new EventEncoder(), trade({ q }));
      assert.equal(bytesAfterKey(frame, "q", 1)[0], marker, `q=${q}`);
    }
  });
});

describe("EventEncoder: topics", () => {
  const topicOfLength = (length: number): string => {
    const topic = `xnas.${"S".repeat(length - 11)}.quote`;
    assert.equal(topic.length, length);
    return topic;
  };

  it("writes a 31-character topic as a fixstr", () => {
    const t = topicOfLength(31);
    const frame = assertRoundTrip(new EventEncoder(), { ...quote, t });
    assert.deepEqual(bytesAfterKey(frame, "t", 2), [0xa0 | 31, 0x78]);
  });

  it("writes a 32-character topic as a str8", () => {
    const t = topicOfLength(32);
    const frame = assertRoundTrip(new EventEncoder(), { ...quote, t });
    assert.deepEqual(bytesAfterKey(frame, "t", 3), [0xd9, 32, 0x78]);
  });

  it("writes a 200-character topic as a str8", () => {
    const t = topicOfLength(200);
    const frame = assertRoundTrip(new EventEncoder(), wireOrder({ ...bar, t, f: 3, n: 2 ** 40 }));
    assert.deepEqual(bytesAfterKey(frame, "t", 2), [0xd9, 200]);
  });
});

describe("EventEncoder: slab", () => {
  it("keeps earlier frames intact when encoding runs past a slab (> 256 KiB of output)", () => {
    const encoder = new EventEncoder();
    const frames: Uint8Array[] = [];
    const copies: Buffer[] = [];
    const events: MarketEvent[] = [];
    let total = 0;
    for (let i = 0; total < 3 * 256 * 1024; i++) {
      const event: MarketEvent =
        i % 3 === 0
          ? trade({ t: `binance.S${i}-${"X".repeat(i % 150)}.trade`, q: i + 1, p: i + 0.25, z: i })
          : i % 3 === 1
            ? { ...quote, t: `xnas.Q${i}.quote`, q: i + 1, bp: i / 7, bz: i, ap: i / 3, az: 2 ** 33 + i }
            : { ...bar, q: i + 1, o: -i, h: i, l: -(2 ** 31) - i, c: 0.1 * i, v: i * 1000 };
      const frame = encoder.encode(event);
      frames.push(frame);
      copies.push(Buffer.from(frame));
      events.push(event);
      total += frame.length;
    }
    const buffers = new Set(frames.map((frame) => frame.buffer));
    assert.ok(buffers.size >= 3, `expected at least 3 slabs, got ${buffers.size}`);
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as Uint8Array;
      assert.deepEqual(Buffer.from(frame), copies[i], `frame ${i} changed`);
      assert.deepEqual(decode(frame), events[i]);
    }
  });

  it("returns frames that do not overlap within one slab", () => {
    const encoder = new EventEncoder();
    const a = encoder.encode(trade({ q: 1 }));
    const b = encoder.encode(trade({ q: 2 }));
    assert.equal(a.buffer, b.buffer);
    assert.ok(a.byteOffset + a.length <= b.byteOffset);
    assert.equal((decode(a) as TradeEvent).q, 1);
    assert.equal((decode(b) as TradeEvent).q, 2);
  });
});
