import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { patternMatches } from "../protocol/index.ts";
import {
  grantsAllowPattern,
  grantsAllowTopic,
  grantsCover,
  patternContains,
  tokensOf,
  type PatternTokens,
} from "./entitlement.ts";

/** mulberry32: a small seeded PRNG so a failure is reproducible from the seed in the test name. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every topic of 1..maxLength tokens over `alphabet`. */
function allTopics(alphabet: readonly string[], maxLength: number): PatternTokens[] {
  const out: PatternTokens[] = [];
  let layer: string[][] = [[]];
  for (let length = 1; length <= maxLength; length++) {
    const next: string[][] = [];
    for (const prefix of layer) for (const token of alphabet) next.push([...prefix, token]);
    out.push(...next);
    layer = next;
  }
  return out;
}

/** Every pattern of 1..maxLength tokens over `literals`, `*`, and `>` as the last token. */
function allPatterns(literals: readonly string[], maxLength: number): PatternTokens[] {
  const inner = [...literals, "*"];
  const out: PatternTokens[] = [];
  let layer: string[][] = [[]];
  for (let length = 1; length <= maxLength; length++) {
    for (const prefix of layer) for (const last of [...inner, ">"]) out.push([...prefix, last]);
    const next: string[][] = [];
    for (const prefix of layer) for (const token of inner) next.push([...prefix, token]);
    layer = next;
  }
  return out;
}

/**
 * Brute force: the set of topics a pattern matches, as a bitset over `topics`. The topics use one
 * literal more than the patterns ever name and one token more than the longest pattern, so every
 * behaviour of the unbounded subject space (a literal no grant names, a tail `>` must swallow) has a
 * representative: containment over this finite universe is containment over all subjects.
 */
function matchSet(pattern: PatternTokens, topics: readonly PatternTokens[]): bigint {
  let bits = 0n;
  for (let i = 0; i < topics.length; i++) if (patternMatches(pattern, topics[i]!)) bits |= 1n << BigInt(i);
  return bits;
}

const show = (p: PatternTokens): string => p.join(".");

describe("entitlement containment", () => {
  it("allows a pattern inside one grant and refuses one reaching outside every grant", () => {
    const cases: readonly [readonly string[], string, boolean][] = [
      [["xnas.>"], "xnas.*.quote", true],
      [["xnas.>"], "xnas.AAPL.quote", true],
      [["xnas.>"], "xnas.>", true],
      [["xnas.>"], "*.*.quote", false],
      [["xnas.>"], ">", false],
      [["xnas.*.quote"], "xnas.>", false],
      [["xnas.*.quote"], "xnas.AAPL.>", false],
      [["xnas.*.quote"], "xnas.*.*", false],
      [["binance.*.quote", "xnas.>"], "binance.BTC-USDT.quote", true],
      [["binance.*.quote", "xnas.>"], "binance.BTC-USDT.trade", false],
      [[], "xnas.AAPL.quote", false],
    ];
    for (const [grants, pattern, expected] of cases) {
      assert.equal(grantsAllowPattern(grants, pattern), expected, `${pattern} under ${grants.join(" + ")}`);
    }
  });

  it("allows a pattern covered only by the union of several grants", () => {
    const cases: readonly [readonly string[], string, boolean][] = [
      [["a.b", "a.*"], "a.*", true],
      [["a.b", "a.c"], "a.*", false],
      [["a.*", "a.*.>"], "a.>", true],
      [["a.*", "a.*.*"], "a.>", false],
      [["*", "*.>"], ">", true],
      [["x.*", "*.y"], "*.*", false],
      [["x.>", "*.y.quote", "*.*.trade"], "*.y.*", false],
      [["x.>", "*.y.quote", "*.y.>"], "*.y.*", true],
      // tickwire has only trade, quote and bar today, but the check is over every subject: a future
      // event type must not slip into a grant of three explicit types.
      [["xnas.*.trade", "xnas.*.quote", "xnas.*.bar"], "xnas.>", false],
      [["xnas.*.trade", "xnas.*.quote", "xnas.*.bar"], "xnas.AAPL.*", false],
    ];
    for (const [grants, pattern, expected] of cases) {
      assert.equal(grantsAllowPattern(grants, pattern), expected, `${pattern} under ${grants.join(" + ")}`);
    }
  });

  it("reads a concrete topic only when a grant matches it", () => {
    assert.equal(grantsAllowTopic(["xnas.>", "binance.*.quote"], "xnas.AAPL.trade"), true);
    assert.equal(grantsAllowTopic(["xnas.>", "binance.*.quote"], "binance.ETH-USDT.quote"), true);
    assert.equal(grantsAllowTopic(["xnas.>", "binance.*.quote"], "binance.ETH-USDT.trade"), false);
    assert.equal(grantsAllowTopic(["xnas.>"], "xlon.VOD.quote"), false);
    assert.equal(grantsAllowTopic([], "xnas.AAPL.quote"), false);
  });

  it("agrees with brute force for every pair of patterns up to 3 tokens (one grant)", () => {
    const patterns = allPatterns(["a", "b"], 3);
    const topics = allTopics(["a", "b", "c"], 4);
    const sets = patterns.map((p) => matchSet(p, topics));
    assert.equal(patterns.length, 52);
    for (let g = 0; g < patterns.length; g++) {
      for (let p = 0; p < patterns.length; p++) {
        const expected = (sets[p]! & ~sets[g]!) === 0n;
        const grant = patterns[g]!;
        const pattern = patterns[p]!;
        assert.equal(patternContains(grant, pattern), expected, `${show(pattern)} in ${show(grant)}`);
        assert.equal(grantsCover([grant], pattern), expected, `${show(pattern)} under ${show(grant)}`);
      }
    }
  });

  for (const seed of [1, 2, 3]) {
    it(`agrees with brute force on unions of 1 to 5 grants, up to 4 tokens (seed ${seed})`, () => {
      const random = prng(seed);
      const patterns = allPatterns(["a", "b", "c"], 4);
      const topics = allTopics(["a", "b", "c", "d"], 5);
      const sets = patterns.map((p) => matchSet(p, topics));
      const pick = (): number => Math.floor(random() * patterns.length);
      let covered = 0;
      for (let round = 0; round < 1500; round++) {
        const grantIndexes = Array.from({ length: 1 + Math.floor(random() * 5) }, pick);
        const grants = grantIndexes.map((i) => patterns[i]!);
        let union = 0n;
        for (const i of grantIndexes) union |= sets[i]!;
        // Half the candidates are drawn among the patterns the union covers, so both answers are tested.
        for (let k = 0; k < 8; k++) {
          const p = pick();
          const expected = (sets[p]! & ~union) === 0n;
          if (expected) covered++;
          assert.equal(
            grantsCover(grants, patterns[p]!),
            expected,
            `${show(patterns[p]!)} under ${grants.map(show).join(" + ")}`,
          );
        }
        for (let p = 0; p < patterns.length; p++) {
          if ((sets[p]! & ~union) !== 0n) continue;
          covered++;
          assert.equal(
            grantsCover(grants, patterns[p]!),
            true,
            `${show(patterns[p]!)} under ${grants.map(show).join(" + ")}`,
          );
        }
      }
      assert.ok(covered > 1500, `only ${covered} covered cases: the generator tests too little`);
    });
  }

  it("answers exactly on a realistic grant list of 252 patterns", () => {
    const grants: PatternTokens[] = [];
    for (let i = 0; i < 250; i++) grants.push(tokensOf(`v${i % 10}.S${i}.quote`));
    grants.push(tokensOf("v3.*.trade"), tokensOf("v4.>"));
    assert.equal(grantsCover(grants, tokensOf("*.*.quote")), false);
    assert.equal(grantsCover(grants, tokensOf("v4.*.quote")), true);
    assert.equal(grantsCover(grants, tokensOf("v3.*.*")), false);
    assert.equal(grantsCover(grants, tokensOf("v3.S3.quote")), true);
  });
});
