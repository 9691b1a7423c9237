import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { patternMatches } from "../protocol/index.ts";
import { SubjectOwners } from "./subject-owners.ts";
import { Random, randomPattern, randomSubject } from "./patterns.test-support.ts";

const split = (text: string): string[] => (text === "" ? [] : text.split("."));

describe("SubjectOwners", () => {
  it("gives a subject to the smallest id among the patterns that match it", () => {
    const owners = new SubjectOwners();
    owners.add(split("xnas.*.quote"), 2);
    owners.add(split("xnas.AAPL.quote"), 5);
    const aapl = owners.track(split("xnas.AAPL.quote"));
    const msft = owners.track(split("xnas.MSFT.quote"));
    const trade = owners.track(split("xnas.AAPL.trade"));
    assert.equal(aapl.id, 2);
    assert.equal(msft.id, 2);
    assert.equal(trade.id, 0);
  });

  it("keeps the owner when a newer pattern matches and re-elects it when the owner goes", () => {
    const owners = new SubjectOwners();
    owners.add(split("xnas.AAPL.quote"), 1);
    const aapl = owners.track(split("xnas.AAPL.quote"));
    assert.equal(aapl.id, 1);
    owners.add(split("xnas.>"), 2);
    assert.equal(aapl.id, 1);
    owners.add(split("*.*.quote"), 3);
    owners.delete(split("xnas.AAPL.quote"), 1);
    assert.equal(aapl.id, 2);
    owners.delete(split("xnas.>"), 2);
    assert.equal(aapl.id, 3);
    owners.delete(split("*.*.quote"), 3);
    assert.equal(aapl.id, 0);
  });

  it("gives an unowned tracked subject to the first pattern that comes to match it", () => {
    const owners = new SubjectOwners();
    const aapl = owners.track(split("xnas.AAPL.quote"));
    assert.equal(aapl.id, 0);
    owners.add(split("xnas.*.quote"), 7);
    assert.equal(aapl.id, 7);
    owners.add(split("xnas.AAPL.quote"), 4);
    assert.equal(aapl.id, 4, "a smaller id takes over even when it comes later");
  });

  it("leaves subjects a removed pattern did not own or match alone", () => {
    const owners = new SubjectOwners();
    owners.add(split("xnas.AAPL.quote"), 1);
    owners.add(split("xnas.MSFT.quote"), 2);
    owners.add(split("xnas.*.quote"), 3);
    const aapl = owners.track(split("xnas.AAPL.quote"));
    const msft = owners.track(split("xnas.MSFT.quote"));
    assert.equal(aapl.id, 1);
    assert.equal(msft.id, 2);
    owners.delete(split("xnas.*.quote"), 3);
    owners.delete(split("xnas.MSFT.quote"), 2);
    assert.equal(aapl.id, 1);
    assert.equal(msft.id, 0);
  });

  it("returns the same record for a subject tracked twice and ignores a pattern it does not hold", () => {
    const owners = new SubjectOwners();
    owners.add(split("a.b.c"), 1);
    const first = owners.track(split("a.b.c"));
    assert.equal(owners.track(split("a.b.c")), first);
    owners.delete(split("a.b.c"), 9);
    owners.delete(split("a.*.c"), 1);
    assert.equal(first.id, 1);
    assert.equal(owners.subjectCount, 1);
    assert.equal(owners.patternCount, 1);
  });
});

describe("SubjectOwners: against a scan of every pattern (seeded random operations)", () => {
  for (const seed of [21, 22, 23, 24, 25, 26]) {
    it(`every tracked subject's owner is the smallest matching id after every change (seed ${seed})`, () => {
      const random = new Random(seed);
      const owners = new SubjectOwners();
      const held = new Map<number, string[]>();
      const tracked = new Map<string, ReturnType<SubjectOwners["track"]>>();
      let nextId = 1;
      for (let step = 0; step < 500; step++) {
        const roll = random.next();
        if (roll < 0.45 || held.size === 0) {
          // Ids mostly grow, as the ingest's do; now and then one comes in below the others.
          const id = random.next() < 0.1 ? 1_000_000 - step : nextId++;
          const pattern = randomPattern(random);
          owners.add(pattern, id);
          held.set(id, pattern);
        } else if (roll < 0.75) {
          const [id, pattern] = random.pick([...held]);
          owners.delete(pattern, id);
          held.delete(id);
        } else {
          const subject = randomSubject(random);
          tracked.set(subject.join("."), owners.track(subject));
        }
        // Read only some owners each step, so stale records meet several changes before a read.
        for (const [name, record] of tracked) {
          if (random.next() < 0.5) continue;
          let expected = 0;
          for (const [id, pattern] of held) {
            if (patternMatches(pattern, split(name)) && (expected === 0 || id < expected)) expected = id;
          }
          assert.equal(record.id, expected, `seed ${seed} step ${step} subject "${name}"`);
        }
      }
    });
  }
});
