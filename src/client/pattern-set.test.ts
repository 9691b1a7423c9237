import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PatternSet } from "./pattern-set.ts";

void describe("PatternSet", () => {
  void it("routes a topic to the patterns that match it, in insertion order", () => {
    const set = new PatternSet(["xnas.*.quote", "binance.>", "xnas.AAPL.quote", "xnas.*.quote"]);
    assert.equal(set.size, 3, "a pattern added twice is held once");
    assert.deepEqual(set.list(), ["xnas.*.quote", "binance.>", "xnas.AAPL.quote"]);
    assert.deepEqual(set.matching("xnas.AAPL.quote"), ["xnas.*.quote", "xnas.AAPL.quote"]);
    assert.deepEqual(set.matching("binance.BTC-USDT.trade"), ["binance.>"]);
    assert.deepEqual(set.matching("xlon.BP.quote"), []);
  });

  void it("a cached answer follows adds and deletes", () => {
    const set = new PatternSet(["xnas.AAPL.quote"]);
    assert.equal(set.matches("xnas.MSFT.quote"), false);
    set.add("xnas.*.quote");
    assert.equal(set.matches("xnas.MSFT.quote"), true, "an add clears the cached miss");
    assert.equal(set.delete("xnas.*.quote"), true);
    assert.equal(set.matches("xnas.MSFT.quote"), false, "a delete clears the cached hit");
    assert.equal(set.delete("xnas.*.quote"), false, "deleting what is not held says so");
    assert.equal(set.has("xnas.AAPL.quote"), true);
  });
});
