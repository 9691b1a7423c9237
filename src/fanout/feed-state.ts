import { FeedStatus, nowMicros, type FeedEvent } from "../protocol/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";

/**
 * Whether the gateway's feed (its NATS connection) is up, as the node reports it, and what that means
 * for snapshots (protocol v1.9, issue 10 §2): while the feed is down, and for values received
 * before its last outage, the gateway cannot vouch that a cached value is still the topic's current
 * one, so its snapshot is flagged STALE. A hub that is never told is "up" (an in-process publisher).
 */
export class FeedState {
  #up = true;
  /** Gateway time (µs) the feed last came back after an outage; 0 = never lost. */
  #upSinceMicros = 0;
  #changedMicros = 0;

  get up(): boolean {
    return this.#up;
  }

  /** Records the feed's state at gateway time `atMicros`; false when it did not change. */
  set(up: boolean, atMicros = nowMicros()): boolean {
    if (up === this.#up) return false;
    this.#up = up;
    this.#changedMicros = atMicros;
    if (up) this.#upSinceMicros = atMicros;
    return true;
  }

  /** The `feed` event announcing the current state. */
  event(): FeedEvent {
    return { e: "feed", state: this.#up ? FeedStatus.UP : FeedStatus.DOWN, ts: this.#changedMicros };
  }

  /**
   * The SNAPSHOT variant of a topic's cached value: flagged STALE while the feed is down or when the
   * value was received (`ts`) before the feed last came back, else plain SNAPSHOT.
   */
  snapshotOf(last: EncodedEvent): EncodedEvent {
    return !this.#up || last.event.ts < this.#upSinceMicros ? last.staleSnapshot : last.snapshot;
  }
}
