import type { MarketEvent } from "../protocol/index.ts";
import { EncodedEvent } from "./encoded-event.ts";
import type { Topic } from "./session.ts";

/** Publishes between two sweeps of cached slab views: ~2 slabs of ~93-byte events. */
const SWEEP_EVERY_PUBLISHES = 4096;

/**
 * The last-value cache: every topic's latest update (`topic.last`), kept also when nobody subscribes,
 * for the snapshots of later subscribes. The only writer of `topic.last`.
 */
export class LastValues {
  /** Topics whose cached last value may still be a slab view (see {@link sweep}). */
  readonly #cachedViews = new Set<Topic>();
  #publishesSinceSweep = 0;

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
    return true;
  }

  /**
   * Gives every cached last value that is still a view of the ingest encoder's 256 KiB slab its own
   * exact-size bytes. Without this a topic that goes quiet would keep a whole slab alive; copying at
   * encode time instead doubled the encode cost (~550 → ~1,100 ns, measured 2026-11-24), while this
   * copies at most one event per topic per sweep and bounds the retained slabs to about two.
   * Runs every {@link SWEEP_EVERY_PUBLISHES} publishes.
   */
  sweep(): void {
    this.#publishesSinceSweep = 0;
    for (const topic of this.#cachedViews) {
      const last = topic.last;
      if (last?.isView === true) topic.last = last.detached();
    }
    this.#cachedViews.clear();
  }
}
