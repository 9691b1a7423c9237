import { ErrorCode, checkPattern, type PatternCheck } from "../protocol/index.ts";
import { PatternIndex } from "./pattern-index.ts";
import { SubjectIndex } from "./subject-index.ts";

/** Told when a pattern gains its first subscriber or loses its last: the ingest's NATS interest. */
export interface InterestListener {
  /** `tokens` is the validated pattern split on "." (NATS subject tokens after the prefix). */
  patternActive(pattern: string, tokens: readonly string[]): void;
  patternIdle(pattern: string): void;
  /** The table forgot a topic nobody held ({@link SubscriptionTable.forget}): drop any state kept for it. */
  topicForgotten?(topic: string): void;
}

/**
 * One concrete topic: its sequence counter, the last value published on it, and the deduplicated set
 * of subscribers whose patterns match it. Entries are created on first use and kept, so sequence
 * numbers (and last values) survive interest changes.
 */
export class TopicEntry<S, V = unknown> {
  /** Last sequence number assigned on this topic (0 = none yet). */
  seq = 0;
  /**
   * Last value published on this topic (`undefined` = none yet). Set by the fan-out, which decides what
   * a value is; the table only carries it so the per-update lookup stays one map get.
   */
  last: V | undefined = undefined;
  /**
   * When the topic's value last changed, in the fan-out's coarse clock (last-values.ts: one step per
   * sweep of the cache, every few thousand updates; 0 = never). What the cache bound evicts by.
   */
  touched = 0;
  readonly #members = new Set<S>();
  #list: S[] | undefined = [];

  /** Every subscriber at most once, however many of its patterns match. */
  get subscribers(): ReadonlySet<S> {
    return this.#members;
  }

  /**
   * The subscribers as an array, rebuilt only after a change: the per-update loop indexes an array
   * instead of stepping a Set iterator.
   */
  get list(): readonly S[] {
    return (this.#list ??= [...this.#members]);
  }

  /** Adds `subscriber`; false when it was a member already (through another pattern). */
  add(subscriber: S): boolean {
    if (this.#members.has(subscriber)) return false;
    this.#members.add(subscriber);
    this.#list = undefined;
    return true;
  }

  delete(subscriber: S): void {
    if (this.#members.delete(subscriber)) this.#list = undefined;
  }

  constructor(
    readonly name: string,
    readonly tokens: readonly string[],
  ) {}
}

interface PatternEntry<S> {
  readonly tokens: readonly string[];
  readonly wildcard: boolean;
  readonly subscribers: Set<S>;
}

export type AddResult<S = unknown, V = unknown> =
  | {
      readonly ok: true;
      readonly added: readonly string[];
      readonly errors: readonly TopicError[];
      /**
       * Concrete topics (seen so far) that the subscriber did not receive before this call and now
       * does, each once however many new patterns match it: what a snapshot covers.
       */
      readonly entered: readonly TopicEntry<S, V>[];
      /**
       * With `deferWildcards`: one walk per new wildcard pattern, whose matching topics are entered by
       * the caller in bounded steps ({@link TopicWalk.step}); empty otherwise.
       */
      readonly walks: readonly TopicWalk<S, V>[];
    }
  | { readonly ok: false; readonly code: number; readonly msg: string };

export interface RemoveResult<S = unknown, V = unknown> {
  readonly removed: readonly string[];
  readonly errors: readonly TopicError[];
  /** Concrete topics the subscriber no longer receives, each once. */
  readonly left: readonly TopicEntry<S, V>[];
}

export interface TopicError {
  readonly topic: string;
  readonly code: number;
  readonly msg: string;
}

/**
 * The topics a newly added wildcard pattern matches, entered a few at a time (issue 11: one `>` subscribe
 * over 200,000 topics entered them all in one call, 20-70 ms per frame, 20 frames in a turn stalled every
 * connection). Topics created after the subscribe get the subscriber at creation (the pattern is indexed
 * at once); the walk enters the ones that existed. It stops for good when the subscriber no longer holds
 * the pattern (unsubscribe, close).
 */
export class TopicWalk<S, V = unknown> {
  readonly #iterator: Iterator<TopicEntry<S, V>, void, undefined>;
  #done = false;

  constructor(
    readonly subscriber: S,
    readonly pattern: string,
    private readonly own: ReadonlyMap<string, PatternEntry<S>>,
    private readonly entry: PatternEntry<S>,
    topics: SubjectIndex<TopicEntry<S, V>>,
  ) {
    this.#iterator = topics.matching(entry.tokens);
  }

  /** Whether the walk is over: every topic visited, or the pattern is no longer held by its subscriber. */
  get done(): boolean {
    if (!this.#done && this.own.get(this.pattern) !== this.entry) this.#done = true;
    return this.#done;
  }

  /**
   * Visits up to `max` more topics, entering the subscriber into each; `entered` gets each one the
   * subscriber did not receive before. Returns the topics visited (0 once {@link done}).
   */
  step(max: number, entered: (topic: TopicEntry<S, V>) => void): number {
    if (this.done) return 0;
    let visited = 0;
    while (visited < max) {
      const next = this.#iterator.next();
      if (next.done === true) {
        this.#done = true;
        break;
      }
      visited++;
      if (next.value.add(this.subscriber)) entered(next.value);
    }
    return visited;
  }
}

/**
 * Per-topic subscription table with NATS wildcards (`*`, `>`). Work happens on subscription changes
 * so that the per-update lookup is one map get: `topic(name).subscribers`.
 *
 * Each topic entry caches its subscribers; the patterns are indexed by token ({@link PatternIndex}) so
 * a new topic is resolved against the patterns that match it only, and the topics are indexed the same
 * way ({@link SubjectIndex}) so a subscribe or unsubscribe updates only the topics its pattern matches:
 * none of these costs grows with unrelated patterns or topics (issue 10 §4).
 */
export class SubscriptionTable<S, V = unknown> {
  readonly #patterns = new Map<string, PatternEntry<S>>();
  readonly #patternIndex = new PatternIndex<PatternEntry<S>>();
  readonly #topics = new Map<string, TopicEntry<S, V>>();
  /** First sequence number of a topic created from now on: above every forgotten topic's (see forget). */
  #seqFloor = 0;
  readonly #topicIndex = new SubjectIndex<TopicEntry<S, V>>();
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
      const created = new TopicEntry<S, V>(name, name.split("."));
      created.seq = this.#seqFloor;
      this.#patternIndex.forEachMatch(created.tokens, (pattern) => {
        for (const s of pattern.subscribers) created.add(s);
      });
      this.#topics.set(name, created);
      this.#topicIndex.set(created.tokens, created);
      entry = created;
    }
    return entry;
  }

  /** Calls `fn` with every concrete topic seen so far that the pattern's tokens match (never creates one). */
  forEachTopicMatching(tokens: readonly string[], fn: (topic: TopicEntry<S, V>) => void): void {
    if (!tokens.includes("*") && !tokens.includes(">")) {
      const topic = this.#topics.get(tokens.join("."));
      if (topic !== undefined) fn(topic);
      return;
    }
    this.#topicIndex.forEachMatching(tokens, fn);
  }

  /**
   * Forgets a topic nobody holds (no subscriber): its entry, sequence counter and last value go, and the
   * listener is told. A topic created later, this one again included, numbers from above every `q` a
   * forgotten topic reached, so no connection ever sees a `q` go backwards. False (nothing changes) when
   * the topic is held or is not this table's current entry.
   *
   * With `evenIfCovered`, a topic whose subscribers all hold it through wildcard patterns only goes too
   * (the cache bound, issue 11 §2): the patterns stay, so the topic's next update creates it again with
   * those subscribers (and a `q` above every forgotten one). A topic some subscriber holds by its exact
   * name ({@link heldExactly}) is never forgotten.
   */
  forget(entry: TopicEntry<S, V>, evenIfCovered = false): boolean {
    if (this.#topics.get(entry.name) !== entry) return false;
    if (entry.subscribers.size > 0 && (!evenIfCovered || this.heldExactly(entry))) return false;
    this.#topics.delete(entry.name);
    this.#topicIndex.delete(entry.tokens);
    if (entry.seq + 1 > this.#seqFloor) this.#seqFloor = entry.seq + 1;
    this.listener.topicForgotten?.(entry.name);
    return true;
  }

  /** Whether some subscriber holds the topic by its exact name (a wildcard-free pattern). */
  heldExactly(entry: TopicEntry<S, V>): boolean {
    return this.#patterns.has(entry.name);
  }

  /** Every topic entry, oldest first. */
  topics(): IterableIterator<TopicEntry<S, V>> {
    return this.#topics.values();
  }

  /** The entry for a concrete topic if it exists (never creates one). */
  find(name: string): TopicEntry<S, V> | undefined {
    return this.#topics.get(name);
  }

  /**
   * Subscribes `subscriber` to each valid pattern; invalid ones are reported per topic. Refused whole,
   * changing nothing, when the new patterns would exceed the per-subscriber limit.
   */
  add(subscriber: S, patterns: readonly unknown[], deferWildcards = false): AddResult<S, V> {
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
    const walks: TopicWalk<S, V>[] = [];
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
        this.#patternIndex.add(entry.tokens, entry);
      }
      entry.subscribers.add(subscriber);
      own!.set(pattern, entry);
      this.#subscriptionCount++;
      if (deferWildcards && entry.wildcard) {
        walks.push(new TopicWalk(subscriber, pattern, own!, entry, this.#topicIndex));
      } else {
        this.#forEachTopic(pattern, entry, (topic) => {
          if (topic.add(subscriber)) entered.push(topic);
        });
      }
      if (first) this.listener.patternActive(pattern, check.tokens);
    }
    return { ok: true, added: [...accepted], errors, entered, walks };
  }

  /**
   * Unsubscribes from each pattern held; patterns not held are reported per topic. `left` are the
   * concrete topics the subscriber no longer receives (a topic left with no subscriber at all is no
   * longer covered by any pattern: its NATS interest has lapsed).
   */
  remove(subscriber: S, patterns: readonly unknown[]): RemoveResult<S, V> {
    const removed: string[] = [];
    const errors: TopicError[] = [];
    const left: TopicEntry<S, V>[] = [];
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
      this.#removeOne(subscriber, mine, raw, left);
      removed.push(raw);
    }
    if (mine?.size === 0) this.#bySubscriber.delete(subscriber);
    return { removed, errors, left };
  }

  /**
   * Drops every subscription of a subscriber (connection closed); returns the concrete topics it no
   * longer receives, as {@link remove}'s `left`.
   */
  removeAll(subscriber: S): readonly TopicEntry<S, V>[] {
    const left: TopicEntry<S, V>[] = [];
    const mine = this.#bySubscriber.get(subscriber);
    if (mine === undefined) return left;
    // Every pattern goes: no topic keeps the subscriber, so no topic asks the pattern index whether
    // another pattern still matches it (that lookup per topic was most of a `>` close's cost).
    for (const pattern of [...mine.keys()]) this.#removeOne(subscriber, mine, pattern, left, true);
    this.#bySubscriber.delete(subscriber);
    return left;
  }

  /** Every subscriber holding at least one pattern. */
  subscribers(): IterableIterator<S> {
    return this.#bySubscriber.keys();
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

  #removeOne(
    subscriber: S,
    mine: Map<string, PatternEntry<S>>,
    pattern: string,
    left: TopicEntry<S, V>[],
    all = false,
  ): void {
    const entry = mine.get(pattern);
    if (entry === undefined) return;
    mine.delete(pattern);
    entry.subscribers.delete(subscriber);
    this.#subscriptionCount--;
    this.#forEachTopic(pattern, entry, (topic) => {
      if (!topic.subscribers.has(subscriber)) return;
      if (all) {
        topic.delete(subscriber);
        left.push(topic);
        return;
      }
      // Kept when another of its patterns matches the topic: only the patterns matching it are asked.
      if (this.#patternIndex.some(topic.tokens, (other) => other.subscribers.has(subscriber))) return;
      topic.delete(subscriber);
      left.push(topic);
    });
    if (entry.subscribers.size === 0) {
      this.#patterns.delete(pattern);
      this.#patternIndex.delete(entry.tokens, entry);
      this.listener.patternIdle(pattern);
    }
  }

  #forEachTopic(pattern: string, entry: PatternEntry<S>, fn: (topic: TopicEntry<S, V>) => void): void {
    if (!entry.wildcard) {
      const topic = this.#topics.get(pattern);
      if (topic !== undefined) fn(topic);
      return;
    }
    this.#topicIndex.forEachMatching(entry.tokens, fn);
  }
}

/** A printable name for a topic entry of any type; never throws (a map with a `toString` key would). */
function describeTopic(raw: unknown): string {
  if (typeof raw === "string") return raw.slice(0, 256);
  if (typeof raw === "number" || typeof raw === "boolean" || raw === null || raw === undefined)
    return String(raw);
  return Array.isArray(raw) ? "(array)" : `(${typeof raw})`;
}
