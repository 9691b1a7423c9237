import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode } from "./codes.ts";
import { EVENT_TYPES, MAX_TOPIC_LENGTH, checkPattern, isEventType, patternMatches } from "./topic.ts";

function accepted(pattern: unknown): { tokens: readonly string[]; wildcard: boolean } {
  const check = checkPattern(pattern);
  assert.ok(check.ok, `expected ${JSON.stringify(pattern)} to be accepted, got ${JSON.stringify(check)}`);
  return { tokens: check.tokens, wildcard: check.wildcard };
}

function refused(pattern: unknown): { code: number; msg: string } {
  const check = checkPattern(pattern);
  assert.ok(!check.ok, `expected ${JSON.stringify(pattern)} to be refused`);
  return { code: check.code, msg: check.msg };
}

function matches(pattern: string, topic: string): boolean {
  return patternMatches(pattern.split("."), topic.split("."));
}

describe("checkPattern", () => {
  it("accepts a concrete topic of each event type and splits it into its tokens", () => {
    for (const type of EVENT_TYPES) {
      assert.deepEqual(accepted(`xnas.AAPL.${type}`), { tokens: ["xnas", "AAPL", type], wildcard: false });
    }
  });

  it("accepts every allowed token character", () => {
    assert.deepEqual(accepted("binance.BTC-USDT.trade").tokens, ["binance", "BTC-USDT", "trade"]);
    assert.equal(accepted("v_1.a+b=c:d@e~f^g.quote").wildcard, false);
    assert.equal(accepted("0.9.bar").wildcard, false);
  });

  it("accepts tokens of 64 characters and refuses 65", () => {
    assert.equal(accepted(`xnas.${"A".repeat(64)}.quote`).wildcard, false);
    assert.equal(refused(`xnas.${"A".repeat(65)}.quote`).code, ErrorCode.BAD_TOPIC);
  });

  it("accepts * in any position as a wildcard", () => {
    assert.deepEqual(accepted("xnas.*.quote"), { tokens: ["xnas", "*", "quote"], wildcard: true });
    assert.deepEqual(accepted("*.AAPL.trade"), { tokens: ["*", "AAPL", "trade"], wildcard: true });
    assert.deepEqual(accepted("xnas.AAPL.*"), { tokens: ["xnas", "AAPL", "*"], wildcard: true });
    assert.deepEqual(accepted("*.*.*"), { tokens: ["*", "*", "*"], wildcard: true });
  });

  it("accepts > as the last token with one, two or three tokens", () => {
    assert.deepEqual(accepted(">"), { tokens: [">"], wildcard: true });
    assert.deepEqual(accepted("xnas.>"), { tokens: ["xnas", ">"], wildcard: true });
    assert.deepEqual(accepted("*.>"), { tokens: ["*", ">"], wildcard: true });
    assert.deepEqual(accepted("binance.BTC-USDT.>"), {
      tokens: ["binance", "BTC-USDT", ">"],
      wildcard: true,
    });
  });

  it("refuses > anywhere but the last token with 4002", () => {
    for (const pattern of [">.AAPL.quote", "xnas.>.quote", ">.>"]) {
      const { code, msg } = refused(pattern);
      assert.equal(code, ErrorCode.BAD_TOPIC, pattern);
      assert.match(msg, /">" must be the last token/);
    }
  });

  it("refuses more than 3 tokens with 4002, even when the last is >", () => {
    for (const pattern of ["xnas.AAPL.quote.x", "a.b.c.>", "xnas.AAPL.quote."]) {
      const { code, msg } = refused(pattern);
      assert.equal(code, ErrorCode.BAD_TOPIC, pattern);
      assert.match(msg, /more than 3 tokens/);
    }
  });

  it("refuses fewer than 3 tokens without a trailing > with 4002", () => {
    for (const pattern of ["xnas", "xnas.AAPL", "*", "xnas.*", "*.*"]) {
      const { code, msg } = refused(pattern);
      assert.equal(code, ErrorCode.BAD_TOPIC, pattern);
      assert.match(msg, /needs 3 tokens/);
    }
  });

  it("refuses empty tokens and characters outside the token set with 4002", () => {
    for (const pattern of [
      "xnas..quote",
      ".AAPL.quote",
      "xnas.AA PL.quote",
      "xnas.AAPL/X.quote",
      "xnas.AAPL$.quote",
      "xnas.ÄPFEL.quote",
      "xnas.AAPL.quote\n",
      "xnas.A*.quote",
      "xnas.A>.quote",
    ]) {
      const { code, msg } = refused(pattern);
      assert.equal(code, ErrorCode.BAD_TOPIC, JSON.stringify(pattern));
      assert.match(msg, /empty or has a character outside/);
    }
  });

  it("refuses the empty string with 4002", () => {
    assert.deepEqual(refused(""), { code: ErrorCode.BAD_TOPIC, msg: "topic is empty" });
  });

  it(`refuses a topic longer than ${MAX_TOPIC_LENGTH} characters with 4002 before reading its tokens`, () => {
    const tooLong = `xnas.${"S".repeat(MAX_TOPIC_LENGTH - 10)}.quote`;
    assert.equal(tooLong.length, MAX_TOPIC_LENGTH + 1);
    assert.deepEqual(refused(tooLong), {
      code: ErrorCode.BAD_TOPIC,
      msg: `topic is longer than ${MAX_TOPIC_LENGTH} characters`,
    });
    // Exactly at the limit the length rule does not fire (the token rule does, for this one).
    const atLimit = `xnas.${"S".repeat(MAX_TOPIC_LENGTH - 11)}.quote`;
    assert.equal(atLimit.length, MAX_TOPIC_LENGTH);
    assert.doesNotMatch(refused(atLimit).msg, /longer than/);
  });

  it("accepts the longest topic three legal tokens can make", () => {
    const longest = `${"V".repeat(64)}.${"S".repeat(64)}.quote`;
    assert.equal(accepted(longest).tokens.length, 3);
  });

  it("refuses a non-string with 4002 naming its type", () => {
    for (const [value, type] of [
      [42, "number"],
      [null, "object"],
      [undefined, "undefined"],
      [["xnas.AAPL.quote"], "object"],
      [{ topic: "xnas.AAPL.quote" }, "object"],
      [true, "boolean"],
    ] as const) {
      assert.deepEqual(refused(value), {
        code: ErrorCode.BAD_TOPIC,
        msg: `topic must be a string, got ${type}`,
      });
    }
  });

  it("refuses an unknown event type with 4004, not 4002", () => {
    for (const pattern of ["xnas.AAPL.quotes", "xnas.*.book", "*.*.Trade", "xnas.AAPL.tradee"]) {
      const { code, msg } = refused(pattern);
      assert.equal(code, ErrorCode.UNKNOWN_TOPIC, pattern);
      assert.match(msg, /unknown event type/);
      assert.match(msg, /trade, quote, bar/);
    }
  });

  it("reports a syntax error as 4002 even when the type is also unknown", () => {
    assert.equal(refused("xnas.AA PL.book").code, ErrorCode.BAD_TOPIC);
    assert.equal(refused("xnas..book").code, ErrorCode.BAD_TOPIC);
    assert.equal(refused("a.b.book.x").code, ErrorCode.BAD_TOPIC);
  });
});

describe("isEventType", () => {
  it("knows exactly trade, quote and bar", () => {
    assert.deepEqual([...EVENT_TYPES], ["trade", "quote", "bar"]);
    for (const type of EVENT_TYPES) assert.equal(isEventType(type), true);
    for (const type of ["", "Trade", "quotes", "*", ">", "snapshot_end", "heartbeat"]) {
      assert.equal(isEventType(type), false, type);
    }
  });
});

describe("patternMatches", () => {
  it("matches a literal pattern only against the same topic", () => {
    assert.equal(matches("xnas.AAPL.quote", "xnas.AAPL.quote"), true);
    assert.equal(matches("xnas.AAPL.quote", "xnas.AAPL.trade"), false);
    assert.equal(matches("xnas.AAPL.quote", "xnas.MSFT.quote"), false);
    assert.equal(matches("xnas.AAPL.quote", "xlon.AAPL.quote"), false);
  });

  it("is case sensitive", () => {
    assert.equal(matches("xnas.aapl.quote", "xnas.AAPL.quote"), false);
  });

  it("lets * match exactly one token", () => {
    assert.equal(matches("xnas.*.quote", "xnas.AAPL.quote"), true);
    assert.equal(matches("xnas.*.quote", "xnas.MSFT.quote"), true);
    assert.equal(matches("xnas.*.quote", "xnas.AAPL.trade"), false);
    assert.equal(matches("xnas.*.quote", "xlon.AAPL.quote"), false);
    assert.equal(matches("*.*.*", "xnas.AAPL.quote"), true);
    assert.equal(matches("*.*.*", "xnas.AAPL"), false);
    assert.equal(matches("*.*.*", "xnas.AAPL.quote.x"), false);
    assert.equal(matches("xnas.*", "xnas.AAPL.quote"), false);
  });

  it("lets > match one or more remaining tokens", () => {
    assert.equal(matches("binance.BTC-USDT.>", "binance.BTC-USDT.trade"), true);
    assert.equal(matches("binance.>", "binance.BTC-USDT.trade"), true);
    assert.equal(matches("binance.>", "binance.ETH-USDT.quote"), true);
    assert.equal(matches(">", "xnas.AAPL.quote"), true);
    assert.equal(matches(">", "x"), true);
    assert.equal(matches("*.>", "xnas.AAPL.bar"), true);
    assert.equal(matches("binance.>", "xnas.AAPL.trade"), false);
  });

  it("does not let > match zero tokens", () => {
    assert.equal(matches("xnas.AAPL.>", "xnas.AAPL"), false);
    assert.equal(matches("xnas.>", "xnas"), false);
    assert.equal(patternMatches([">"], []), false);
    assert.equal(matches("*.>", "xnas"), false);
  });

  it("does not match a topic with fewer or more tokens than a pattern without >", () => {
    assert.equal(matches("xnas.AAPL.quote", "xnas.AAPL"), false);
    assert.equal(matches("xnas.AAPL", "xnas.AAPL.quote"), false);
    assert.equal(patternMatches([], ["xnas"]), false);
    assert.equal(patternMatches([], []), true);
  });
});
