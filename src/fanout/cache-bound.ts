import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { LastValues } from "./last-values.ts";
import { SessionMode, type RateState, type Session, type Topic } from "./session.ts";
import type { HubStats } from "./stats.ts";

/** Default of `--max-topics`: about 100 MB of topic entries and cached values (~1 KB each, issue 11 §2). */
export const DEFAULT_MAX_TOPICS = 100_000;

/**
 * Most topics one call evicts. An eviction costs ~2 µs a topic, most of it the subject index; at the
 * default bound one scan evicts 10,000, which in one go held the event loop 20–45 ms besides GC
 * (bench/topic-eviction.ts, 100,000 topics under a held `z.>`). A chunk of this size is ~4 ms; the call
 * that starts a scan also counts the whole table (~6–10 ms at 100,000). The rest follows on the next
 * topic created, or the hub's next tick.
 */
export const EVICT_CHUNK = 2_000;

/**
 * Bounds the topics the gateway keeps (`--max-topics`). Every subject the feed delivers becomes a topic
 * entry (sequence counter, subscribers, last value, the ingest's per-subject state) that used to be kept
 * for the life of the process: 200,000 subjects published once under a wildcard somebody held once
 * stayed at ~1 KB each after everybody left, and 25,000 new subjects a second under a wildcard held all
 * along (`z.>`) ran the heap out in 4.5 minutes (issue 11 §2).
 *
 * Past the bound the least recently updated topics go, down to 90 % of it (counted as
 * `tickwire_topics_evicted_total`): topics nobody holds, and topics held only through wildcard patterns
 * (also counted as `tickwire_topics_evicted_covered_total`; the pattern stays, so the topic's next
 * update creates it again and reaches the same subscribers). The table numbers topics created
 * afterwards from above every forgotten topic's `q`, so no connection sees a `q` repeat or go backwards.
 *
 * Never evicted: a topic some connection holds by its exact name, and, for the moment, a topic that a
 * subscriber still keeps state for whose order depends on the entry (a rated update held back by maxHz,
 * a value pending in conflation, a snapshot wait holding the connection): with the entry gone, that older
 * value could follow the re-created topic's newer one. Those are released within a tick or a history
 * timeout, and the next scan takes them. When nothing can be evicted the next scan waits until the table
 * has grown by another 10 % of the bound, so exact subscriptions over more topics than the bound cost one
 * scan per 10 % of growth, not one per new topic.
 *
 * A scan evicts at most `chunk` topics ({@link EVICT_CHUNK}) at once; the rest of it continues on the next
 * topic created or {@link settle} (the hub's tick), from where it stopped, with what blocks a topic
 * gathered afresh and the recency stamps read afresh, so a topic updated or held meanwhile stays. Until
 * it is done the table may stand a few chunks' worth of creations above the bound.
 */
export class CacheBound {
  #nextScanAt: number;
  /** The scan whose evictions are not all done yet (see the class comment). */
  #pending: Eviction | undefined;

  constructor(
    readonly maxTopics: number,
    private readonly table: SubscriptionTable<Session, EncodedEvent>,
    private readonly lastValues: LastValues,
    private readonly stats: HubStats,
    private readonly inFlight: InFlight,
    private readonly chunk = EVICT_CHUNK,
  ) {
    this.#nextScanAt = maxTopics + 1;
  }

  /**
   * The entry for a concrete topic, created on first use (the one door for creating topics: the ingest's
   * live updates and feed-history values). A creation past the bound evicts others, never the new one.
   */
  topic(name: string): Topic {
    const table = this.table;
    const before = table.topicCount;
    const topic = table.topic(name);
    if (table.topicCount !== before) this.#due(topic);
    return topic;
  }

  /**
   * Evicts if topics were created past the bound some other way, or a scan has evictions left: a
   * completed snapshot seeds feed-history values into topics it creates with `table.topic` while the
   * connection's held frames are being released, when an eviction could reorder them, so it calls this
   * once the release is over; the hub's tick calls it so that a scan's last chunks do not wait for the
   * next new topic.
   */
  settle(): void {
    this.#due(undefined);
  }

  #due(created: Topic | undefined): void {
    if (this.#pending !== undefined) this.#continue(this.#pending, created, undefined);
    else if (this.table.topicCount >= this.#nextScanAt) this.#evict(created);
  }

  /**
   * Evicts least recently updated topics (ties: oldest first) down to 90 % of the bound. Two passes
   * over the table: one counts the evictable topics per recency stamp to find the stamp where the
   * eviction stops, one evicts in table order ({@link #continue}, a chunk at a time); no sort of the
   * topics, no array of them. What blocks a topic is gathered first from the subscribers that keep
   * per-topic state, so a topic's check does not walk its subscribers (a `>` held by a thousand
   * connections would make that a walk per topic each).
   */
  #evict(created: Topic | undefined): void {
    const table = this.table;
    this.lastValues.sweep(); // stamps the topics updated since the last sweep
    const scan = this.#scan();
    const perStamp = new Map<number, number>();
    let evictable = 0;
    for (const topic of table.topics()) {
      if (topic !== created && this.#evictable(topic, scan)) {
        perStamp.set(topic.touched, (perStamp.get(topic.touched) ?? 0) + 1);
        evictable++;
      }
    }
    const wanted = table.topicCount - Math.floor(this.maxTopics * 0.9);
    // What the pass may find; short of `wanted`, the next scan waits for more growth (class comment).
    const excess = Math.min(wanted, evictable);
    // Every topic stamped below `below` goes, and the first `atStamp` stamped `below`.
    let below = Number.POSITIVE_INFINITY;
    let atStamp = 0;
    let need = excess;
    for (const stamp of [...perStamp.keys()].sort((a, b) => a - b)) {
      const count = perStamp.get(stamp) as number;
      if (count >= need) {
        below = stamp;
        atStamp = need;
        break;
      }
      need -= count;
    }
    const eviction: Eviction = { cursor: table.topics(), below, atStamp, excess, short: excess < wanted };
    this.#pending = eviction;
    this.#continue(eviction, created, scan);
  }

  /**
   * The eviction pass, from where the scan's last chunk stopped, for at most `chunk` evictions (and
   * ten times as many topics looked at). The table's iterator is live: topics forgotten meanwhile are
   * skipped, topics created meanwhile come at the end (too new to go, or unstamped because never
   * updated: as evictable as at the scan). A later chunk sweeps and gathers the blocking state again.
   */
  #continue(eviction: Eviction, created: Topic | undefined, fresh: Scan | undefined): void {
    const table = this.table;
    let scan = fresh;
    if (scan === undefined) {
      this.lastValues.sweep(); // a topic updated since the scan is stamped above `below`: it stays
      scan = this.#scan();
    }
    let evictions = this.chunk;
    let looks = this.chunk * 10;
    let exhausted = false;
    while (eviction.excess > 0 && evictions > 0 && looks-- > 0) {
      const next = eviction.cursor.next();
      if (next.done === true) {
        exhausted = true;
        break;
      }
      const topic = next.value;
      const stamp = topic.touched;
      if (stamp > eviction.below || topic === created) continue;
      if (stamp === eviction.below && eviction.atStamp <= 0) continue;
      if (!this.#evictable(topic, scan)) continue;
      const covered = topic.subscribers.size > 0;
      if (!table.forget(topic, true)) continue;
      this.stats.topicsEvicted++;
      if (covered) {
        this.stats.topicsEvictedCovered++;
        this.#forgetRates(topic, scan.rated);
      }
      if (stamp === eviction.below) eviction.atStamp--;
      eviction.excess--;
      evictions--;
    }
    if (eviction.excess > 0 && !exhausted) return; // more next time
    this.#pending = undefined;
    // Only a scan that found too few evictable topics waits for 10 % more growth. After any other, the
    // next creation or tick scans again if the table is still past the bound: topics created meanwhile
    // some other way (a snapshot's feed-history values), or taken from this pass by an update or a
    // hold. That costs at most one more scan, which if short then waits for growth.
    const step = Math.max(1, Math.floor(this.maxTopics * 0.1));
    this.#nextScanAt = eviction.short
      ? Math.max(this.maxTopics + 1, table.topicCount + step)
      : this.maxTopics + 1;
  }

  /**
   * What keeps topics from going this scan. The blocked topics come from what is in flight (the rate
   * wheel's scheduled states, the conflating sessions' pending values), not from every rate state of
   * every rated session: a chunk's check stays proportional to what is in flight, however many topics
   * a `maxHz` subscriber on `>` has rate states for. The sessions are walked once for the holding and
   * rated lists, not their maps.
   */
  #scan(): Scan {
    const scan: Scan = { holding: [], rated: [], blocked: new Set() };
    for (const session of this.table.subscribers()) {
      if ((session.mode & SessionMode.HOLDING) !== 0) scan.holding.push(session);
      if (session.rates !== null && session.rates.size > 0) scan.rated.push(session);
    }
    // A rated update held back is always scheduled (Delivery), so the wheel has every one in flight.
    for (const state of this.inFlight.scheduledRates()) scan.blocked.add(state.topic);
    for (const session of this.inFlight.conflating()) {
      if (session.pending !== null) for (const topic of session.pending.keys()) scan.blocked.add(topic);
    }
    return scan;
  }

  /**
   * Whether `topic` may go: nobody holds it by its exact name, and no subscriber keeps a value of it in
   * flight whose order relies on this entry (see the class comment).
   */
  #evictable(topic: Topic, scan: Scan): boolean {
    if (topic.subscribers.size === 0) return true;
    if (this.table.heldExactly(topic) || scan.blocked.has(topic)) return false;
    for (const session of scan.holding) if (topic.subscribers.has(session)) return false;
    return true;
  }

  /** The evicted topic's rate states go (none pending or scheduled: see {@link #evictable}). */
  #forgetRates(topic: Topic, rated: readonly Session[]): void {
    const sessions = rated.length < topic.subscribers.size ? rated : topic.subscribers;
    for (const session of sessions) session.rates?.delete(topic);
  }
}

/** Where the per-topic state in flight lives (see {@link CacheBound}'s scan). */
export interface InFlight {
  /** Rate states scheduled in the rate wheel: each has an update held back or a send due. */
  scheduledRates(): Iterable<RateState>;
  /** Sessions conflating: their `pending` maps hold values not yet written. */
  conflating(): Iterable<Session>;
}

/** A scan's eviction pass in progress (see {@link CacheBound}). */
interface Eviction {
  /** The table's topics in table order, live. */
  readonly cursor: IterableIterator<Topic>;
  /** Topics stamped below this go; of those stamped with it, the first `atStamp`. */
  readonly below: number;
  atStamp: number;
  /** Topics still to evict (at most what the scan found evictable). */
  excess: number;
  /** The scan found fewer evictable topics than it wanted gone. */
  readonly short: boolean;
}

/** One scan's view of the subscribers that keep per-topic state (see {@link CacheBound}). */
interface Scan {
  /** Sessions holding behind a snapshot wait: none of their topics goes this scan. */
  readonly holding: Session[];
  /** Sessions with rate states (maxHz): an evicted topic's state goes from them. */
  readonly rated: Session[];
  /** Topics with a rated update held back or a conflated value pending for some session. */
  readonly blocked: Set<Topic>;
}
