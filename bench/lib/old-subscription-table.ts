/**
 * The "old" variant of bench/pattern-index.ts: src/subscriptions/subscription-table.ts as it was at
 * 86b5e56, before the pattern index (issue 10 §4), kept verbatim but for its imports and the types it
 * shares with the current table. A new topic scans every pattern; a wildcard (un)subscribe scans every
 * topic; a removal checks the subscriber's other patterns one by one.
 */
import { ErrorCode, checkPattern, patternMatches, type PatternCheck } from "../../src/protocol/index.ts";
import {
  TopicEntry,
  type AddResult,
  type InterestListener,
  type TopicError,
} from "../../src/subscriptions/index.ts";

interface PatternEntry<S> {
  readonly tokens: readonly string[];
  readonly wildcard: boolean;
  readonly subscribers: Set<S>;
}

/**
 * Per-topic subscription table with NATS wildcards (`*`, `>`). Work happens on subscription changes
 * so that the per-update lookup is one map get: `topic(name).subscribers`.
 */
export class OldSubscriptionTable<S, V = unknown> {
  readonly #patterns = new Map<string, PatternEntry<S>>();
  readonly #topics = new Map<string, TopicEntry<S, V>>();
  readonly #bySubscriber = new Map<S, Map<string, PatternEntry<S>>>();
  #subscriptionCount = 0;

  constructor(
    private readonly listener: InterestListener,
    private readonly maxPatternsPerSubscriber: number,
  ) {}

  /** The entry for a concrete topic, created (and resolved against current patterns) on first use. */
  topic(name: string): TopicEntry<S, V> {
    let entry = this.#topics.get(name);
    if (entry === undefined) {
      entry = new TopicEntry<S, V>(name, name.split("."));
      for (const pattern of this.#patterns.values()) {
        if (patternMatches(pattern.tokens, entry.tokens)) for (const s of pattern.subscribers) entry.add(s);
      }
      this.#topics.set(name, entry);
    }
    return entry;
  }

  /** The entry for a concrete topic if it exists (never creates one). */
  find(name: string): TopicEntry<S, V> | undefined {
    return this.#topics.get(name);
  }

  /**
   * Subscribes `subscriber` to each valid pattern; invalid ones are reported per topic. Refused whole,
   * changing nothing, when the new patterns would exceed the per-subscriber limit.
   */
  add(subscriber: S, patterns: readonly unknown[]): AddResult<S, V> {
    const mine = this.#bySubscriber.get(subscriber);
    const errors: TopicError[] = [];
    const fresh = new Map<string, PatternCheck & { ok: true }>();
    const accepted = new Set<string>(); // request order, each pattern once
    for (const raw of patterns) {
      const check = checkPattern(raw);
      if (!check.ok) {
        errors.push({
          topic: describeTopic(raw),
          code: check.code,
          msg: check.msg,
        });
        continue;
      }
      const pattern = raw as string;
      accepted.add(pattern);
      if (mine?.has(pattern) !== true && !fresh.has(pattern)) fresh.set(pattern, check);
    }
    const have = mine?.size ?? 0;
    if (have + fresh.size > this.maxPatternsPerSubscriber) {
      return {
        ok: false,
        code: ErrorCode.LIMIT,
        msg: `subscription limit ${this.maxPatternsPerSubscriber} per connection would be exceeded (have ${have}, asked for ${fresh.size} new)`,
      };
    }
    const entered: TopicEntry<S, V>[] = [];
    let own = mine;
    if (own === undefined && fresh.size > 0) {
      own = new Map();
      this.#bySubscriber.set(subscriber, own);
    }
    for (const [pattern, check] of fresh) {
      let entry = this.#patterns.get(pattern);
      const first = entry === undefined;
      if (entry === undefined) {
        entry = { tokens: check.tokens, wildcard: check.wildcard, subscribers: new Set() };
        this.#patterns.set(pattern, entry);
      }
      entry.subscribers.add(subscriber);
      own!.set(pattern, entry);
      this.#subscriptionCount++;
      this.#forEachTopic(pattern, entry, (topic) => {
        if (topic.add(subscriber)) entered.push(topic);
      });
      if (first) this.listener.patternActive(pattern, check.tokens);
    }
    // The old table walked every topic at once: no walks left for later turns.
    return { ok: true, added: [...accepted], errors, entered, walks: [] };
  }

  /** Unsubscribes from each pattern held; patterns not held are reported per topic. */
  remove(
    subscriber: S,
    patterns: readonly unknown[],
  ): { readonly removed: readonly string[]; readonly errors: readonly TopicError[] } {
    const removed: string[] = [];
    const errors: TopicError[] = [];
    const mine = this.#bySubscriber.get(subscriber);
    for (const raw of patterns) {
      if (typeof raw !== "string" || mine?.has(raw) !== true) {
        const check = checkPattern(raw);
        const topic = describeTopic(raw);
        errors.push(
          check.ok
            ? { topic, code: ErrorCode.UNKNOWN_TOPIC, msg: `not subscribed to "${topic}"` }
            : { topic, code: check.code, msg: check.msg },
        );
        continue;
      }
      this.#removeOne(subscriber, mine, raw);
      removed.push(raw);
    }
    if (mine?.size === 0) this.#bySubscriber.delete(subscriber);
    return { removed, errors };
  }

  /** Drops every subscription of a subscriber (connection closed). */
  removeAll(subscriber: S): void {
    const mine = this.#bySubscriber.get(subscriber);
    if (mine === undefined) return;
    for (const pattern of [...mine.keys()]) this.#removeOne(subscriber, mine, pattern);
    this.#bySubscriber.delete(subscriber);
  }

  /** Patterns held by a subscriber, in subscription order. */
  patternsOf(subscriber: S): string[] {
    return [...(this.#bySubscriber.get(subscriber)?.keys() ?? [])];
  }

  /** Subscriptions (subscriber × pattern) in the table. */
  get subscriptionCount(): number {
    return this.#subscriptionCount;
  }

  /** Distinct patterns with at least one subscriber (= NATS subscriptions wanted). */
  get patternCount(): number {
    return this.#patterns.size;
  }

  /** Concrete topics seen (each keeps its sequence counter). */
  get topicCount(): number {
    return this.#topics.size;
  }

  #removeOne(subscriber: S, mine: Map<string, PatternEntry<S>>, pattern: string): void {
    const entry = mine.get(pattern);
    if (entry === undefined) return;
    mine.delete(pattern);
    entry.subscribers.delete(subscriber);
    this.#subscriptionCount--;
    this.#forEachTopic(pattern, entry, (topic) => {
      if (!topic.subscribers.has(subscriber)) return;
      for (const other of mine.values()) if (patternMatches(other.tokens, topic.tokens)) return;
      topic.delete(subscriber);
    });
    if (entry.subscribers.size === 0) {
      this.#patterns.delete(pattern);
      this.listener.patternIdle(pattern);
    }
  }

  #forEachTopic(pattern: string, entry: PatternEntry<S>, fn: (topic: TopicEntry<S, V>) => void): void {
    if (!entry.wildcard) {
      const topic = this.#topics.get(pattern);
      if (topic !== undefined) fn(topic);
      return;
    }
    for (const topic of this.#topics.values()) if (patternMatches(entry.tokens, topic.tokens)) fn(topic);
  }
}

/** A printable name for a topic entry of any type; never throws (a map with a `toString` key would). */
function describeTopic(raw: unknown): string {
  if (typeof raw === "string") return raw.slice(0, 256);
  if (typeof raw === "number" || typeof raw === "boolean" || raw === null || raw === undefined)
    return String(raw);
  return Array.isArray(raw) ? "(array)" : `(${typeof raw})`;
}
