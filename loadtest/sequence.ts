/**
 * Per-topic sequence accounting of one connection (proto/PROTOCOL.md "Sequence numbers"; v1.2 adds
 * CONFLATED events whose `n` updates end at `q`). Gaps are never silent in tickwire: this is how the
 * harness proves it, by counting what a careful client would see.
 */

/** Bits of the `f` field of a data event (proto/PROTOCOL.md). */
export const Flag = { SNAPSHOT: 1, CONFLATED: 2 } as const;

/** What one connection saw, summed over its topics. */
export interface SequenceCounts {
  /** Live data events (snapshots excluded). */
  events: number;
  /** SNAPSHOT-flagged events: they set a topic's baseline. */
  snapshots: number;
  /** Times a topic's sequence jumped ahead by more than it should have. */
  gaps: number;
  /** Updates lost in those jumps (Σ of each jump's missing sequence numbers). */
  missedUpdates: number;
  /** CONFLATED events received. */
  conflatedEvents: number;
  /** Updates those events stand for (Σ n); `conflatedUpdates − conflatedEvents` were merged away. */
  conflatedUpdates: number;
  /** Live events whose `q` did not move forward (repeated or out of order). */
  duplicates: number;
}

export function emptySequenceCounts(): SequenceCounts {
  return {
    events: 0,
    snapshots: 0,
    gaps: 0,
    missedUpdates: 0,
    conflatedEvents: 0,
    conflatedUpdates: 0,
    duplicates: 0,
  };
}

export function addSequenceCounts(into: SequenceCounts, from: Readonly<SequenceCounts>): void {
  into.events += from.events;
  into.snapshots += from.snapshots;
  into.gaps += from.gaps;
  into.missedUpdates += from.missedUpdates;
  into.conflatedEvents += from.conflatedEvents;
  into.conflatedUpdates += from.conflatedUpdates;
  into.duplicates += from.duplicates;
}

/**
 * Tracks the last `q` per topic. A topic's first event (live or snapshot) sets its baseline: the
 * harness cannot know what was published before the subscription took effect. After that, a plain
 * event must carry `previous + 1`, a CONFLATED one `q − n = previous`; anything larger is a gap of
 * that many updates, anything not larger a duplicate. A `q` below 0 means "no sequence" (a target
 * that does not number events) and is only counted.
 */
export class SequenceTracker {
  readonly #last = new Map<string, number>();

  constructor(readonly counts: SequenceCounts = emptySequenceCounts()) {}

  observe(topic: string, q: number, flags: number, n: number): void {
    const counts = this.counts;
    if ((flags & Flag.SNAPSHOT) !== 0) {
      counts.snapshots++;
      if (q >= 0) this.#last.set(topic, q);
      return;
    }
    counts.events++;
    const conflated = (flags & Flag.CONFLATED) !== 0;
    const merged = conflated && n >= 1 ? n : 1;
    if (conflated) {
      counts.conflatedEvents++;
      counts.conflatedUpdates += merged;
    }
    if (q < 0) return;
    const last = this.#last.get(topic);
    if (last !== undefined) {
      const first = q - merged + 1; // oldest update this event stands for
      if (q <= last) {
        counts.duplicates++;
        return;
      }
      if (first > last + 1) {
        counts.gaps++;
        counts.missedUpdates += first - last - 1;
      }
    }
    this.#last.set(topic, q);
  }

  /** Forgets every baseline (a new connection starts over with its snapshot). */
  reset(): void {
    this.#last.clear();
  }
}
