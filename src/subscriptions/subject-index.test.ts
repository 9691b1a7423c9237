import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { patternMatches } from "../protocol/index.ts";
import { SubjectIndex } from "./subject-index.ts";
import { Random, randomPattern, randomSubject } from "./patterns.test-support.ts";

const split = (text: string): string[] => (text === "" ? [] : text.split("."));

/** The index holding each subject under its own text as value. */
function indexOf(...subjects: string[]): SubjectIndex<string> {
  const index = new SubjectIndex<string>();
  for (const subject of subjects) index.set(split(subject), subject);
  return index;
}

function matching(index: SubjectIndex<string>, pattern: string): string[] {
  const out: string[] = [];
  index.forEachMatching(split(pattern), (value) => out.push(value));
  return out.sort();
}

const SUBJECTS = [
  "xnas.AAPL.quote",
  "xnas.AAPL.trade",
  "xnas.MSFT.quote",
  "xlon.AAPL.quote",
  "xnas.AAPL",
  "xnas",
  "xnas.AAPL.quote.x",
];

describe("SubjectIndex: which held subjects a pattern matches", () => {
  it("finds the one subject of a literal pattern", () => {
    const index = indexOf(...SUBJECTS);
    assert.deepEqual(matching(index, "xnas.AAPL.quote"), ["xnas.AAPL.quote"]);
    assert.deepEqual(matching(index, "xnas.AAPL.bar"), []);
  });

  it("lets * stand for exactly one token", () => {
    const index = indexOf(...SUBJECTS);
    assert.deepEqual(matching(index, "xnas.*.quote"), ["xnas.AAPL.quote", "xnas.MSFT.quote"]);
    assert.deepEqual(matching(index, "*.AAPL.quote"), ["xlon.AAPL.quote", "xnas.AAPL.quote"]);
    assert.deepEqual(matching(index, "*"), ["xnas"]);
    assert.deepEqual(matching(index, "xnas.*"), ["xnas.AAPL"]);
  });

  it("lets > stand for one or more trailing tokens, never zero", () => {
    const index = indexOf(...SUBJECTS);
    assert.deepEqual(matching(index, "xnas.AAPL.>"), [
      "xnas.AAPL.quote",
      "xnas.AAPL.quote.x",
      "xnas.AAPL.trade",
    ]);
    assert.deepEqual(matching(index, ">"), [...SUBJECTS].sort());
    assert.deepEqual(matching(index, "xnas.AAPL.quote.x.>"), []);
  });

  it("gets, replaces and deletes one subject, pruning what it emptied", () => {
    const index = indexOf("xnas.AAPL.quote", "xnas.AAPL");
    assert.equal(index.get(split("xnas.AAPL.quote")), "xnas.AAPL.quote");
    assert.equal(index.get(split("xnas")), undefined);
    index.set(split("xnas.AAPL.quote"), "replaced");
    assert.equal(index.size, 2);
    assert.deepEqual(matching(index, "xnas.>"), ["replaced", "xnas.AAPL"]);
    assert.equal(index.delete(split("xnas")), false);
    assert.equal(index.delete(split("xnas.AAPL.quote")), true);
    assert.equal(index.delete(split("xnas.AAPL.quote")), false);
    assert.deepEqual(matching(index, ">"), ["xnas.AAPL"]);
    assert.equal(index.empty, false);
    assert.equal(index.delete(split("xnas.AAPL")), true);
    assert.equal(index.size, 0);
    assert.equal(index.empty, true);
  });

  it("holds a subject whose value is undefined", () => {
    const index = new SubjectIndex<undefined>();
    index.set(split("a.b"), undefined);
    let visits = 0;
    index.forEachMatching(split("a.*"), () => visits++);
    assert.equal(visits, 1);
    assert.equal(index.size, 1);
  });
});

describe("SubjectIndex: against a scan of every subject (seeded random operations)", () => {
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`agrees with patternMatches after every set and delete (seed ${seed})`, () => {
      const random = new Random(seed);
      const index = new SubjectIndex<string>();
      const held = new Set<string>();
      const patterns = Array.from({ length: 60 }, () => randomPattern(random));
      for (let step = 0; step < 300; step++) {
        if (random.next() < 0.6 || held.size === 0) {
          const subject = randomSubject(random);
          index.set(subject, subject.join("."));
          held.add(subject.join("."));
        } else {
          const subject = random.pick([...held]);
          assert.equal(index.delete(split(subject)), true);
          held.delete(subject);
        }
        assert.equal(index.size, held.size);
        for (const pattern of patterns) {
          const expected = [...held].filter((s) => patternMatches(pattern, split(s))).sort();
          assert.deepEqual(
            matching(index, pattern.join(".")),
            expected,
            `seed ${seed} step ${step} pattern "${pattern.join(".")}"`,
          );
        }
      }
      for (const subject of held) assert.equal(index.delete(split(subject)), true);
      assert.equal(index.empty, true, `seed ${seed}: nodes left after removing every subject`);
    });
  }
});
