import { patternMatches } from "../wire/index.ts";

/**
 * A set of subscription patterns with a per-topic cache of the match result (topics repeat; patterns
 * rarely change). Matching is the gateway's own rule (src/wire), so the SDK routes each event to the
 * subscriptions that asked for it.
 */
export class PatternSet {
  readonly #patterns = new Map<string, readonly string[]>();
  readonly #cache = new Map<string, boolean>();

  constructor(patterns: Iterable<string> = []) {
    for (const p of patterns) this.add(p);
  }

  get size(): number {
    return this.#patterns.size;
  }

  /** The patterns, in insertion order. */
  list(): string[] {
    return [...this.#patterns.keys()];
  }

  has(pattern: string): boolean {
    return this.#patterns.has(pattern);
  }

  add(pattern: string): void {
    if (this.#patterns.has(pattern)) return;
    this.#patterns.set(pattern, pattern.split("."));
    this.#cache.clear();
  }

  delete(pattern: string): boolean {
    const had = this.#patterns.delete(pattern);
    if (had) this.#cache.clear();
    return had;
  }

  /** Whether any pattern matches `topic`. */
  matches(topic: string): boolean {
    let hit = this.#cache.get(topic);
    if (hit === undefined) {
      hit = this.matching(topic).length > 0;
      this.#cache.set(topic, hit);
    }
    return hit;
  }

  /** The patterns that match `topic`. */
  matching(topic: string): string[] {
    const tokens = topic.split(".");
    const out: string[] = [];
    for (const [pattern, ptokens] of this.#patterns) if (patternMatches(ptokens, tokens)) out.push(pattern);
    return out;
  }
}
