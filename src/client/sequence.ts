import { EventFlag } from "../wire/index.ts";
import type { GapNotice } from "./events.ts";

/** The fields of a data event the tracker reads. */
export interface Sequenced {
  readonly t: string;
  readonly q: number;
  readonly f?: number;
  readonly n?: number;
}

/**
 * Per-topic sequence tracking (PROTOCOL.md "Sequence numbers", v1.2 conflation rule):
 * - the first event of a topic, and every SNAPSHOT event, set the baseline without a check (a snapshot
 *   is the current value, and v1.2 history snapshots carry q 0);
 * - a plain event must have q = previous q + 1;
 * - a CONFLATED event stands for `n` updates: q - n must equal the previous q; when it does, the
 *   notice is of kind "conflated" (nothing lost, updates merged), otherwise "missed".
 * Numbering is per gateway process, so the owner calls {@link reset} on every new connection.
 */
export class SequenceTracker {
  readonly #lastQ = new Map<string, number>();

  /** Checks `event` against its topic's baseline and moves the baseline; returns a notice or undefined. */
  observe(event: Sequenced): GapNotice | undefined {
    const { t, q } = event;
    const flags = event.f ?? 0;
    const prevQ = this.#lastQ.get(t);
    this.#lastQ.set(t, q);
    if (prevQ === undefined || (flags & EventFlag.SNAPSHOT) !== 0) return undefined;
    if ((flags & EventFlag.CONFLATED) !== 0) {
      const n = event.n ?? 1;
      const first = q - n;
      if (first === prevQ) return { e: "gap", kind: "conflated", t, prevQ, q, missed: n - 1 };
      return { e: "gap", kind: "missed", t, prevQ, q, missed: Math.max(0, first - prevQ) + (n - 1) };
    }
    if (q === prevQ + 1) return undefined;
    return { e: "gap", kind: "missed", t, prevQ, q, missed: Math.max(0, q - prevQ - 1) };
  }

  /** Forgets one topic (it is no longer subscribed, or a fresh snapshot is on its way). */
  forget(topic: string): void {
    this.#lastQ.delete(topic);
  }

  /** Forgets the topics for which `drop` returns true. */
  forgetWhere(drop: (topic: string) => boolean): void {
    for (const topic of this.#lastQ.keys()) if (drop(topic)) this.#lastQ.delete(topic);
  }

  /** Forgets everything (a new connection: the gateway may number afresh). */
  reset(): void {
    this.#lastQ.clear();
  }

  /** Last q seen on a topic. */
  lastQ(topic: string): number | undefined {
    return this.#lastQ.get(topic);
  }
}
