import type { MarketEvent } from "../protocol/index.ts";
import { EncodedEvent } from "./encoded-event.ts";
import type { Topic } from "./session.ts";

/** Publishes between two sweeps of cached slab views: ~2 slabs of ~93-byte events. */
const SWEEP_EVERY_PUBLISHES = 4096;

/**
 * The last-value cache: the latest update (`topic.last`) of every topic the gateway receives, for the
 * snapshots of later subscribes. The only writer of `topic.last`.
 *
 * A cached value is one the gateway can vouch for: it receives every later update of the topic (NATS
 * interest follows the subscription table). When no pattern covers a topic any more, the gateway stops
 * receiving it, so {@link lapse} drops its value: the next subscribe reads the feed history or reports
 * the topic missing, instead of presenting as current a value the feed may have moved past (issue 10).
 * This also bounds the cache to the topics someone watches.
 */
export class LastValues {
  /** Topics whose cached last value may still be a slab view (see {@link sweep}). */
  readonly #cachedViews = new Set<Topic>();
  #publishesSinceSweep = 0;
  /**
   * The recency clock (`topic.touched`): one step per {@link sweep}. Every topic updated since the
   * previous sweep is in `#cachedViews`, so the sweep stamps it at no cost to the publish path.
   */
  #clock = 1;

  /** The topic's newest update (the publish path: one Set add and one counter per update). */
  remember(topic: Topic, event: EncodedEvent): void {
    topic.last = event;
    this.#cachedViews.add(topic);
    if (++this.#publishesSinceSweep >= SWEEP_EVERY_PUBLISHES) this.sweep();
  }

  /**
   * A value from the feed history for a topic with none yet: cached with the topic's current sequence
   * (0 before any live update, so live events continue at q + 1) and gateway time `tsMicros`. False when
   * the topic already has a value (a live update came first and wins).
   */
  seed(topic: Topic, value: MarketEvent, tsMicros: number): boolean {
    if (topic.last !== undefined) return false;
    topic.last = EncodedEvent.standalone({ ...value, q: topic.seq, ts: tsMicros });
    topic.touched = this.#clock;
    return true;
  }

  /**
   * No pattern covers `topic` any more (its last subscriber left): its value goes. The sequence counter
   * stays and advances by one, so whatever the topic gets next (a history value, q = the counter, or a
   * live update, q = counter + 1) never reuses a `q` that stood for another value, and a client that
   * saw the dropped value and subscribes again sees the interval as a gap, not as continuity.
   */
  lapse(topic: Topic): void {
    if (topic.last === undefined || topic.subscribers.size > 0) return;
    topic.last = undefined;
    topic.seq++;
  }

  /**
   * Gives every cached last value that is still a view of the ingest encoder's 256 KiB slab its own
   * exact-size bytes. Without this a topic that goes quiet would keep a whole slab alive; copying at
   * encode time instead doubled the encode cost (~550 → ~1,100 ns, measured 2026-11-24), while this
   * copies at most one event per topic per sweep and bounds the retained slabs to about two.
   * Runs every {@link SWEEP_EVERY_PUBLISHES} publishes, and before the cache bound picks topics to evict.
   *
   * It also stamps each topic updated since the previous sweep with the recency clock (`topic.touched`),
   * which then advances: the cache bound evicts the least recently updated topics first, to within
   * one sweep's worth of updates.
   */
  sweep(): void {
    this.#publishesSinceSweep = 0;
    const clock = this.#clock++;
    for (const topic of this.#cachedViews) {
      topic.touched = clock;
      const last = topic.last;
      if (last?.isView === true) topic.last = last.detached();
    }
    this.#cachedViews.clear();
  }
}
