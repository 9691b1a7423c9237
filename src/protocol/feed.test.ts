import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { Packr } from "msgpackr";
import {
  FEED_REJECT_REASONS,
  FeedRejectReason,
  checkFeedFields,
  decodeFeedPayload,
  encodeFeedPayload,
  feedFieldProblem,
  toMarketEvent,
  topicOfSubject,
} from "./feed.ts";
import { PAYLOAD_KEYS, type MarketEventType } from "../wire/index.ts";

const packr = new Packr({ useRecords: false });
const TE = 1_800_000_000_123_456;
const MAX = 4096;

const VALID: Readonly<Record<MarketEventType, Readonly<Record<string, number>>>> = {
  trade: { te: TE, p: 228.5, z: 100 },
  quote: { te: TE, bp: 228.01, bz: 100, ap: 228.03, az: 300 },
  bar: { te: TE, o: 228, h: 229, l: 227.5, c: 228.7, v: 10_000 },
};
const TYPES = Object.keys(VALID) as MarketEventType[];

function decoded(payload: Uint8Array, maxBytes = MAX): Readonly<Record<string, unknown>> {
  const result = decodeFeedPayload(payload, maxBytes);
  assert.ok(result.ok, `expected the payload to decode, got ${JSON.stringify(result)}`);
  return result.fields;
}

function rejected(payload: Uint8Array, maxBytes = MAX): FeedRejectReason {
  const result = decodeFeedPayload(payload, maxBytes);
  assert.ok(!result.ok, `expected the payload to be rejected, got ${JSON.stringify(result)}`);
  return result.reason;
}

describe("topicOfSubject", () => {
  it("strips the prefix and returns the topic and its type", () => {
    assert.deepEqual(topicOfSubject("md.xnas.AAPL.quote", 3), {
      ok: true,
      topic: "xnas.AAPL.quote",
      type: "quote",
    });
    assert.deepEqual(topicOfSubject("md.binance.BTC-USDT.trade", 3), {
      ok: true,
      topic: "binance.BTC-USDT.trade",
      type: "trade",
    });
    assert.deepEqual(topicOfSubject("md.xlon.SHEL.bar", 3), {
      ok: true,
      topic: "xlon.SHEL.bar",
      type: "bar",
    });
  });

  it("works with any prefix length", () => {
    assert.deepEqual(topicOfSubject("feed_eu-1.xlon.VOD.trade", "feed_eu-1.".length), {
      ok: true,
      topic: "xlon.VOD.trade",
      type: "trade",
    });
  });

  it("rejects subjects without exactly venue, symbol and type after the prefix", () => {
    for (const subject of ["md.xnas.AAPL", "md.xnas", "md.", "md.xnas.AAPL.quote.extra", "md.a.b.c.trade"]) {
      assert.deepEqual(
        topicOfSubject(subject, 3),
        { ok: false, reason: FeedRejectReason.BAD_SUBJECT },
        subject,
      );
    }
  });

  it("rejects an unknown event type", () => {
    for (const subject of ["md.xnas.AAPL.book", "md.xnas.AAPL.Quote", "md.xnas.AAPL.*", "md.xnas.AAPL.>"]) {
      assert.deepEqual(
        topicOfSubject(subject, 3),
        { ok: false, reason: FeedRejectReason.BAD_SUBJECT },
        subject,
      );
    }
  });

  it("rejects empty tokens, wildcards and characters outside the token set", () => {
    for (const subject of [
      "md..AAPL.quote",
      "md.xnas..quote",
      "md.*.AAPL.quote",
      "md.xnas.>.quote",
      "md.xn as.AAPL.quote",
      "md.xnas.AAPL/B.quote",
      "md.xnas.ÄPFEL.quote",
      `md.xnas.${"A".repeat(65)}.quote`,
    ]) {
      assert.deepEqual(
        topicOfSubject(subject, 3),
        { ok: false, reason: FeedRejectReason.BAD_SUBJECT },
        subject,
      );
    }
  });

  it("accepts tokens of 64 characters", () => {
    const result = topicOfSubject(`md.${"V".repeat(64)}.${"S".repeat(64)}.bar`, 3);
    assert.equal(result.ok, true);
  });
});

describe("decodeFeedPayload", () => {
  it("decodes a msgpack map", () => {
    assert.deepEqual(decoded(packr.pack(VALID.quote)), VALID.quote);
  });

  it("decodes uint64 and int64 msgpack integers as exact numbers", () => {
    // te as uint64 (0xcf), a negative price as int64 (0xd3): what other encoders write.
    const payload = Buffer.from([
      0x82,
      ...[0xa2, 0x74, 0x65],
      0xcf,
      ...[0x00, 0x06, 0x65, 0x14, 0x0e, 0x2b, 0xa4, 0x40],
      ...[0xa1, 0x70],
      0xd3,
      ...[0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00],
    ]);
    assert.deepEqual(decoded(payload), { te: 0x0006_6514_0e2b_a440, p: -(2 ** 32) });
  });

  it("decodes a JSON object", () => {
    assert.deepEqual(decoded(Buffer.from(JSON.stringify(VALID.trade))), VALID.trade);
  });

  it("decodes a JSON object after leading white space", () => {
    assert.deepEqual(decoded(Buffer.from(' \n\r\t {"te":1800000000123456,"p":1.5,"z":2}')), {
      te: TE,
      p: 1.5,
      z: 2,
    });
  });

  it("decodes a JSON object that is a view into a larger buffer", () => {
    const whole = Buffer.from('garbage{"te":1,"p":2}garbage');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 7, 14);
    assert.deepEqual(decoded(view), { te: 1, p: 2 });
  });

  it("rejects invalid JSON as decode_error", () => {
    for (const text of ["{te:1}", '{"te":1', '{"te":1} trailing', "{"]) {
      assert.equal(rejected(Buffer.from(text)), FeedRejectReason.DECODE_ERROR, text);
    }
  });

  it("rejects truncated or garbage msgpack as decode_error", () => {
    for (const bytes of [[0x82, 0xa2], [0x93, 0x01], [0xd9], [0xde, 0x00], [0x81, 0xa1, 0x70, 0x01, 0x02]]) {
      assert.equal(rejected(Buffer.from(bytes)), FeedRejectReason.DECODE_ERROR, JSON.stringify(bytes));
    }
  });

  it("rejects an empty or white-space-only payload as decode_error", () => {
    assert.equal(rejected(new Uint8Array(0)), FeedRejectReason.DECODE_ERROR);
    assert.equal(rejected(Buffer.from("  \n ")), FeedRejectReason.DECODE_ERROR);
  });

  it("rejects the never-used msgpack byte 0xc1 as decode_error", () => {
    // msgpack spec: 0xc1 is "never used". msgpackr decodes it to a C1Type object instead of throwing.
    assert.equal(rejected(Buffer.from([0xc1])), FeedRejectReason.DECODE_ERROR);
  });

  it("rejects msgpack that is not a map as not_a_map", () => {
    for (const value of [[1, 2], "text", null, true, 3.5, Buffer.from([1, 2])]) {
      assert.equal(rejected(packr.pack(value)), FeedRejectReason.NOT_A_MAP, JSON.stringify(value));
    }
  });

  it("rejects a JSON array as not_a_map", () => {
    assert.equal(rejected(Buffer.from('[{"te":1800000000123456}]')), FeedRejectReason.NOT_A_MAP);
  });

  it("rejects a payload over maxBytes as too_large before decoding it", () => {
    const payload = packr.pack(VALID.bar);
    assert.deepEqual(decoded(payload, payload.length), VALID.bar);
    assert.equal(rejected(payload, payload.length - 1), FeedRejectReason.TOO_LARGE);
    assert.equal(rejected(new Uint8Array(MAX + 1).fill(0xc1)), FeedRejectReason.TOO_LARGE);
  });
});

describe("checkFeedFields", () => {
  it("accepts valid fields of every type, ignoring unknown keys", () => {
    for (const type of TYPES) {
      assert.equal(checkFeedFields(type, VALID[type]), undefined, type);
      assert.equal(checkFeedFields(type, { ...VALID[type], venueSeq: 9, note: "x" }), undefined, type);
    }
  });

  it("reports missing_field when te is absent", () => {
    for (const type of TYPES) {
      const fields: Record<string, unknown> = { ...VALID[type] };
      delete fields["te"];
      assert.equal(checkFeedFields(type, fields), FeedRejectReason.MISSING_FIELD, type);
    }
  });

  it("reports missing_field when any payload key of the type is absent", () => {
    for (const type of TYPES) {
      for (const key of PAYLOAD_KEYS[type]) {
        const fields: Record<string, unknown> = { ...VALID[type] };
        delete fields[key];
        assert.equal(checkFeedFields(type, fields), FeedRejectReason.MISSING_FIELD, `${type}.${key}`);
      }
    }
  });

  it("checks the payload keys of the given type, not of another", () => {
    assert.equal(checkFeedFields("quote", VALID.trade), FeedRejectReason.MISSING_FIELD);
    assert.equal(checkFeedFields("bar", VALID.quote), FeedRejectReason.MISSING_FIELD);
  });

  it("accepts te from year 2000 to year 2200 in µs", () => {
    assert.equal(checkFeedFields("trade", { ...VALID.trade, te: 946_684_800_000_000 }), undefined);
    assert.equal(checkFeedFields("trade", { ...VALID.trade, te: 7_258_118_400_000_000 }), undefined);
  });

  it("rejects te in seconds, milliseconds or nanoseconds as bad_te_unit, naming the unit", () => {
    for (const [te, unit] of [
      [1_800_000_000, "seconds"],
      [1_800_000_000.5, "seconds"],
      [1_800_000_000_123, "milliseconds"],
      [1_800_000_000_123_456_789, "nanoseconds"],
    ] as const) {
      const problem = feedFieldProblem("trade", { ...VALID.trade, te });
      assert.equal(problem?.reason, FeedRejectReason.BAD_TE_UNIT, String(te));
      assert.equal(problem.field, "te");
      assert.equal(problem.detail, `te ${te} looks like ${unit} since the epoch; te is integer microseconds`);
    }
  });

  it("rejects a te just outside years 2000 to 2200 in µs as bad_te", () => {
    for (const te of [946_684_799_999_999, 7_258_118_400_000_001]) {
      assert.equal(checkFeedFields("trade", { ...VALID.trade, te }), FeedRejectReason.BAD_TE, String(te));
    }
  });

  it("rejects a te that is not an integer number as bad_te", () => {
    for (const te of [TE + 0.5, String(TE), null, Number.NaN, Number.POSITIVE_INFINITY, BigInt(TE), [TE]]) {
      assert.equal(checkFeedFields("quote", { ...VALID.quote, te }), FeedRejectReason.BAD_TE, String(te));
    }
    assert.equal(
      feedFieldProblem("quote", { ...VALID.quote, te: "1795530600123456" })?.detail,
      "te is a string: must be integer microseconds since the epoch, years 2000 to 2200",
    );
  });

  it("names the payload field and why", () => {
    assert.deepEqual(feedFieldProblem("quote", { ...VALID.quote, az: undefined }), {
      reason: FeedRejectReason.MISSING_FIELD,
      field: "az",
      detail: "az is absent (a quote has bp, bz, ap, az)",
    });
    assert.deepEqual(feedFieldProblem("trade", { ...VALID.trade, p: "228.1" }), {
      reason: FeedRejectReason.BAD_VALUE,
      field: "p",
      detail: "p is a string: must be a finite number",
    });
    assert.deepEqual(feedFieldProblem("bar", { ...VALID.bar, v: -3 }), {
      reason: FeedRejectReason.NEGATIVE_VALUE,
      field: "v",
      detail: "v is -3: must not be negative",
    });
  });

  it("rejects payload values that are not finite numbers as bad_value", () => {
    for (const type of TYPES) {
      for (const key of PAYLOAD_KEYS[type]) {
        for (const value of [
          "1.5",
          "NaN",
          "Infinity",
          null,
          true,
          {},
          Number.NaN,
          Number.POSITIVE_INFINITY,
          -Infinity,
        ]) {
          assert.equal(
            checkFeedFields(type, { ...VALID[type], [key]: value }),
            FeedRejectReason.BAD_VALUE,
            `${type}.${key}=${inspect(value)}`,
          );
        }
      }
    }
  });

  it("rejects negative sizes and volumes as negative_value", () => {
    for (const [type, key] of [
      ["trade", "z"],
      ["quote", "bz"],
      ["quote", "az"],
      ["bar", "v"],
    ] as const) {
      assert.equal(
        checkFeedFields(type, { ...VALID[type], [key]: -1 }),
        FeedRejectReason.NEGATIVE_VALUE,
        key,
      );
      assert.equal(
        checkFeedFields(type, { ...VALID[type], [key]: -0.001 }),
        FeedRejectReason.NEGATIVE_VALUE,
        key,
      );
      assert.equal(checkFeedFields(type, { ...VALID[type], [key]: 0 }), undefined, key);
    }
  });

  it("accepts negative prices (spreads and some futures trade below zero)", () => {
    for (const [type, key] of [
      ["trade", "p"],
      ["quote", "bp"],
      ["quote", "ap"],
      ["bar", "o"],
      ["bar", "h"],
      ["bar", "l"],
      ["bar", "c"],
    ] as const) {
      assert.equal(checkFeedFields(type, { ...VALID[type], [key]: -37.63 }), undefined, key);
    }
  });

  it("reports the first problem: te before payload keys", () => {
    assert.equal(checkFeedFields("trade", { p: "x" }), FeedRejectReason.MISSING_FIELD);
    assert.equal(checkFeedFields("trade", { te: "x" }), FeedRejectReason.BAD_TE);
  });

  it("lists every reject reason once", () => {
    assert.deepEqual([...FEED_REJECT_REASONS].sort(), [
      "bad_subject",
      "bad_te",
      "bad_te_unit",
      "bad_value",
      "decode_error",
      "missing_field",
      "negative_value",
      "not_a_map",
      "too_large",
    ]);
  });
});

describe("toMarketEvent", () => {
  it("builds a trade with keys in wire order, dropping unknown fields", () => {
    const event = toMarketEvent("trade", "xnas.AAPL.trade", 5, TE + 10, { z: 100, x: 1, p: 228.5, te: TE });
    assert.deepEqual(event, {
      e: "trade",
      t: "xnas.AAPL.trade",
      q: 5,
      te: TE,
      ts: TE + 10,
      p: 228.5,
      z: 100,
    });
    assert.deepEqual(Object.keys(event), ["e", "t", "q", "te", "ts", "p", "z"]);
  });

  it("builds a quote with keys in wire order", () => {
    const event = toMarketEvent("quote", "xnas.AAPL.quote", 1, TE + 1, {
      az: 300,
      ap: 228.03,
      bz: 100,
      bp: 228.01,
      te: TE,
    });
    assert.deepEqual(event, {
      e: "quote",
      t: "xnas.AAPL.quote",
      q: 1,
      te: TE,
      ts: TE + 1,
      bp: 228.01,
      bz: 100,
      ap: 228.03,
      az: 300,
    });
    assert.deepEqual(Object.keys(event), ["e", "t", "q", "te", "ts", "bp", "bz", "ap", "az"]);
  });

  it("builds a bar with keys in wire order", () => {
    const event = toMarketEvent("bar", "xlon.SHEL.bar", 9, TE + 2, { v: 1, c: 2, l: 3, h: 4, o: 5, te: TE });
    assert.deepEqual(event, {
      e: "bar",
      t: "xlon.SHEL.bar",
      q: 9,
      te: TE,
      ts: TE + 2,
      o: 5,
      h: 4,
      l: 3,
      c: 2,
      v: 1,
    });
    assert.deepEqual(Object.keys(event), ["e", "t", "q", "te", "ts", "o", "h", "l", "c", "v"]);
  });
});

describe("encodeFeedPayload", () => {
  it("round-trips through decodeFeedPayload and passes checkFeedFields for every type", () => {
    for (const type of TYPES) {
      const fields = decoded(encodeFeedPayload(VALID[type]));
      assert.deepEqual(fields, VALID[type]);
      assert.equal(checkFeedFields(type, fields), undefined);
    }
  });

  it("keeps µs timestamps, negative and fractional numbers exact", () => {
    const fields = { te: 7_258_118_400_000_000, p: -123.456, z: 2 ** 40, n: -(2 ** 40) - 1, x: 0.1 };
    assert.deepEqual(decoded(encodeFeedPayload(fields)), fields);
  });
});
