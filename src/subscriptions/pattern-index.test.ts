import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { patternMatches } from "../protocol/index.ts";
import { PatternIndex } from "./pattern-index.ts";
import { Random, randomPattern, randomSubject } from "./patterns.test-support.ts";

const split = (text: string): string[] => (text === "" ? [] : text.split("."));

/** The index holding each pattern under its own text as value. */
function indexOf(...patterns: string[]): PatternIndex<string> {
  const index = new PatternIndex<string>();
  for (const pattern of patterns) assert.equal(index.add(split(pattern), pattern), true, pattern);
  return index;
}

const matching = (index: PatternIndex<string>, subject: string): string[] =>
  index.match(split(subject)).sort();

describe("PatternIndex: NATS semantics", () => {
  it("matches a literal pattern only against the same subject", () => {
    const index = indexOf("xnas.AAPL.quote", "xnas.AAPL.trade", "xlon.AAPL.quote");
    assert.deepEqual(matching(index, "xnas.AAPL.quote"), ["xnas.AAPL.quote"]);
    assert.deepEqual(matching(index, "xnas.AAPL.bar"), []);
    assert.deepEqual(matching(index, "xnas.AAPL"), []);
    assert.deepEqual(matching(index, "xnas.AAPL.quote.x"), []);
  });

  it("lets * match exactly one token, at any position", () => {
    const index = indexOf("xnas.*.quote", "*.AAPL.quote", "*.*.*", "xnas.*");
    assert.deepEqual(matching(index, "xnas.AAPL.quote"), ["*.*.*", "*.AAPL.quote", "xnas.*.quote"]);
    assert.deepEqual(matching(index, "xnas.MSFT.quote"), ["*.*.*", "xnas.*.quote"]);
    assert.deepEqual(matching(index, "xnas.MSFT"), ["xnas.*"]);
    assert.deepEqual(matching(index, "xnas"), []);
    assert.deepEqual(matching(index, "xnas.AAPL.quote.x"), []);
  });

  it("lets > match one or more trailing tokens, never zero", () => {
    const index = indexOf(">", "xnas.>", "xnas.AAPL.>", "*.>");
    assert.deepEqual(matching(index, "xnas.AAPL.quote"), ["*.>", ">", "xnas.>", "xnas.AAPL.>"]);
    assert.deepEqual(matching(index, "xnas.AAPL"), ["*.>", ">", "xnas.>"]);
    assert.deepEqual(matching(index, "xnas"), [">"]);
    assert.deepEqual(matching(index, ""), []);
    assert.deepEqual(matching(index, "xlon.AAPL.quote"), ["*.>", ">"]);
  });

  it("matches the empty pattern against the empty subject only", () => {
    const index = indexOf("");
    assert.deepEqual(matching(index, ""), [""]);
    assert.deepEqual(matching(index, "x"), []);
  });

  it("treats a * token in a subject as a literal that only wildcards match", () => {
    const index = indexOf("xnas.*.quote", "xnas.AAPL.quote", "xnas.>");
    assert.deepEqual(matching(index, "xnas.*.quote"), ["xnas.*.quote", "xnas.>"]);
  });

  it("ignores tokens after >, as patternMatches does", () => {
    const index = indexOf("xnas.>.quote");
    assert.deepEqual(matching(index, "xnas.AAPL.trade"), ["xnas.>.quote"]);
    assert.equal(patternMatches(split("xnas.>.quote"), split("xnas.AAPL.trade")), true);
  });
});

describe("PatternIndex: values", () => {
  it("visits a value once per matching pattern that holds it, and every value a pattern holds", () => {
    const index = new PatternIndex<string>();
    index.add(split("xnas.*.quote"), "a");
    index.add(split("xnas.AAPL.quote"), "a");
    index.add(split("xnas.AAPL.quote"), "b");
    index.add(split("xnas.>"), "c");
    assert.deepEqual(index.match(split("xnas.AAPL.quote")).sort(), ["a", "a", "b", "c"]);
    assert.deepEqual(index.match(split("xnas.MSFT.quote")).sort(), ["a", "c"]);
    assert.equal(index.size, 4);
  });

  it("holds a (pattern, value) pair once", () => {
    const index = new PatternIndex<string>();
    assert.equal(index.add(split("xnas.*.quote"), "a"), true);
    assert.equal(index.add(split("xnas.*.quote"), "a"), false);
    assert.equal(index.size, 1);
    assert.deepEqual(index.match(split("xnas.AAPL.quote")), ["a"]);
  });

  it("removes one pair and keeps the overlapping ones", () => {
    const index = indexOf("xnas.*.quote", "xnas.AAPL.quote", "xnas.>", ">");
    assert.equal(index.delete(split("xnas.AAPL.quote"), "xnas.AAPL.quote"), true);
    assert.deepEqual(matching(index, "xnas.AAPL.quote"), [">", "xnas.*.quote", "xnas.>"]);
    assert.equal(index.delete(split("xnas.>"), "xnas.>"), true);
    assert.deepEqual(matching(index, "xnas.AAPL.quote"), [">", "xnas.*.quote"]);
    assert.equal(index.size, 2);
  });

  it("reports a pair it does not hold as not deleted and changes nothing", () => {
    const index = indexOf("xnas.*.quote");
    assert.equal(index.delete(split("xnas.*.quote"), "other"), false);
    assert.equal(index.delete(split("xnas.AAPL.quote"), "xnas.*.quote"), false);
    assert.equal(index.delete(split("xnas.>"), "xnas.*.quote"), false);
    assert.equal(index.delete(split("xnas.*"), "xnas.*.quote"), false);
    assert.equal(index.delete(split("*.*.*.*"), "xnas.*.quote"), false);
    assert.equal(index.size, 1);
    assert.deepEqual(matching(index, "xnas.AAPL.quote"), ["xnas.*.quote"]);
  });

  it("prunes every node once the last pattern is removed", () => {
    const patterns = ["xnas.*.quote", "xnas.AAPL.quote", "xnas.>", ">", "*.*.*", "", "a.b.c.d"];
    const index = indexOf(...patterns);
    assert.equal(index.empty, false);
    for (const pattern of patterns) assert.equal(index.delete(split(pattern), pattern), true);
    assert.equal(index.size, 0);
    assert.equal(index.empty, true);
  });

  it("some() answers whether a matching pattern holds a value passing the test, stopping at the first", () => {
    const index = new PatternIndex<number>();
    index.add(split("xnas.*.quote"), 1);
    index.add(split("xnas.AAPL.quote"), 2);
    index.add(split("xnas.>"), 3);
    const asked: number[] = [];
    assert.equal(
      index.some(split("xnas.AAPL.quote"), (v) => (asked.push(v), v === 3)),
      true,
    );
    assert.equal(asked.at(-1), 3);
    assert.equal(
      index.some(split("xnas.AAPL.quote"), (v) => v === 4),
      false,
    );
    assert.equal(
      index.some(split("xlon.AAPL.quote"), () => true),
      false,
    );
  });
});

describe("PatternIndex: against a scan of every pattern (seeded random operations)", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`agrees with patternMatches after every add and delete (seed ${seed})`, () => {
      const random = new Random(seed);
      const index = new PatternIndex<number>();
      /** What the index should hold; a value may sit under several patterns. */
      const held: { readonly pattern: string[]; readonly value: number }[] = [];
      const subjects = Array.from({ length: 60 }, () => randomSubject(random));
      let nextValue = 1;
      for (let step = 0; step < 400; step++) {
        if (random.next() < 0.55 || held.length === 0) {
          const pattern = randomPattern(random);
          const value = held.length > 0 && random.next() < 0.3 ? random.pick(held).value : nextValue++;
          const key = pattern.join(".");
          const had = held.some((h) => h.value === value && h.pattern.join(".") === key);
          assert.equal(index.add(pattern, value), !had, `seed ${seed} step ${step}: add "${key}" ${value}`);
          if (!had) held.push({ pattern, value });
        } else {
          const at = random.below(held.length);
          const { pattern, value } = held[at] as (typeof held)[number];
          assert.equal(index.delete(pattern, value), true);
          assert.equal(index.delete(pattern, value), false, "a second delete of the same pair");
          held.splice(at, 1);
        }
        assert.equal(index.size, held.length);
        for (const subject of subjects) {
          const expected = held
            .filter((h) => patternMatches(h.pattern, subject))
            .map((h) => h.value)
            .sort((a, b) => a - b);
          const actual = index.match(subject).sort((a, b) => a - b);
          assert.deepEqual(actual, expected, `seed ${seed} step ${step} subject "${subject.join(".")}"`);
          assert.equal(
            index.some(subject, () => true),
            expected.length > 0,
          );
        }
      }
      for (const { pattern, value } of held) assert.equal(index.delete(pattern, value), true);
      assert.equal(index.empty, true, `seed ${seed}: nodes left after removing every pattern`);
    });
  }
});
