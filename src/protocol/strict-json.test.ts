import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CLIENT_FRAME_LIMITS, DecodeError } from "./decode-limits.ts";
import { decodeJson, decodeJsonBytes } from "./strict-json.ts";

const parse = (text: string): unknown => decodeJson(text, CLIENT_FRAME_LIMITS);

function refused(text: string, why: RegExp): void {
  assert.throws(
    () => parse(text),
    (error: unknown) => error instanceof DecodeError && why.test(error.message),
  );
}

describe("decodeJson", () => {
  it("reads what JSON.parse reads", () => {
    for (const text of [
      '{"method":"subscribe","id":1,"params":{"topics":["xnas.AAPL.quote"],"snapshot":false,"maxHz":0.5}}',
      ' [1, -2.5e3, 0.001, "a\\"b\\\\c\\u00e9\\n", true, false, null, {}, []] ',
      '"zürich-€-🙂"',
      "-0",
      '{"a":1,"a":2}',
    ]) {
      assert.deepEqual(parse(text), JSON.parse(text), text);
    }
  });

  it("keeps integer literals beyond 2^53 exact as bigints; fractions and exponents are numbers", () => {
    assert.deepEqual(parse('{"id":5000000000,"v":9007199254740993}'), {
      id: 5_000_000_000,
      v: 9007199254740993n,
    });
    assert.equal(parse("18446744073709551615"), 18446744073709551615n);
    assert.equal(parse("-9223372036854775808"), -9223372036854775808n);
    assert.equal(parse("9007199254740993.0"), 9007199254740992);
    assert.equal(parse("1e20"), 1e20);
  });

  it("makes __proto__ an own key, never the prototype", () => {
    const value = parse('{"__proto__":{"polluted":1}}') as object;
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value), ["__proto__"]);
  });

  it("refuses what JSON.parse refuses", () => {
    for (const text of [
      "",
      "{",
      "{method:'ping'}",
      "ping",
      '{"id":1} {"id":2}',
      "[1,]",
      '{"a":1,}',
      "01",
      "1.",
      '"\u0001"',
      '"\\x"',
      "NaN",
    ]) {
      assert.throws(() => JSON.parse(text), SyntaxError, text);
      assert.throws(() => parse(text), DecodeError, text);
    }
  });

  it("refuses nesting deeper than the limit and more elements than the limit", () => {
    refused("[".repeat(10_000) + "]".repeat(10_000), /nesting deeper than 16/);
    refused(`[${new Array(5000).fill(0).join(",")}]`, /more than 4096 elements/);
  });

  it("refuses invalid UTF-8 bytes", () => {
    assert.throws(
      () => decodeJsonBytes(Uint8Array.of(0x22, 0xc3, 0x28, 0x22), CLIENT_FRAME_LIMITS),
      /not valid UTF-8/,
    );
  });
});
