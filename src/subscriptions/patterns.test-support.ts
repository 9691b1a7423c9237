/**
 * Random patterns and subjects for the property tests of the pattern indexes: a seeded PRNG
 * (mulberry32) so a failure replays, and a small alphabet so patterns overlap and subjects collide.
 */
export class Random {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }
}

const TOKENS = ["a", "b", "c", "d"] as const;

/** A concrete subject of 0 to 4 tokens from a 4-letter alphabet (`*` included now and then). */
export function randomSubject(random: Random): string[] {
  const length = random.below(5);
  const tokens: string[] = [];
  // A literal "*" token in a subject is matched only by wildcards, never by a literal pattern token.
  for (let i = 0; i < length; i++) tokens.push(random.next() < 0.03 ? "*" : random.pick(TOKENS));
  return tokens;
}

/** A pattern of 0 to 4 tokens: literals, `*` anywhere, `>` only last. */
export function randomPattern(random: Random): string[] {
  const length = random.below(5);
  const tokens: string[] = [];
  for (let i = 0; i < length; i++) {
    const roll = random.next();
    if (i === length - 1 && roll < 0.2) tokens.push(">");
    else if (roll < 0.45) tokens.push("*");
    else tokens.push(random.pick(TOKENS));
  }
  return tokens;
}
