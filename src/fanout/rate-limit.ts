import { patternMatches } from "../protocol/index.ts";
import type { RateState, Session, SubscriptionPolicy, Topic } from "./session.ts";

/** Resolution of the hub's clock tick, ms: rated updates go out at most this late. */
export const TICK_MS = 10;

/**
 * Rated (session, topic) states waiting for their due time, bucketed by {@link TICK_MS}: each pending
 * state is visited once, when due, however many rated pairs exist.
 */
export class RateWheel {
  readonly #buckets = new Map<number, RateState[]>();
  #size = 0;

  /** States scheduled and not yet taken. */
  get size(): number {
    return this.#size;
  }

  /** Schedules `state` to be taken at the first tick at or after `dueMs`. */
  schedule(state: RateState, dueMs: number): void {
    const slot = Math.ceil(dueMs / TICK_MS);
    let bucket = this.#buckets.get(slot);
    if (bucket === undefined) {
      bucket = [];
      this.#buckets.set(slot, bucket);
    }
    bucket.push(state);
    state.scheduled = true;
    this.#size++;
  }

  /** Moves every state due at `nowMs` into `into` (never one before its due time). */
  takeDue(nowMs: number, into: RateState[]): void {
    if (this.#size === 0) return;
    const nowSlot = Math.floor(nowMs / TICK_MS);
    for (const [slot, bucket] of this.#buckets) {
      if (slot > nowSlot) continue;
      this.#buckets.delete(slot);
      this.#size -= bucket.length;
      for (const state of bucket) {
        state.scheduled = false;
        into.push(state);
      }
    }
  }
}

/** The policy of a subscribe: `maxHz` 0 = every update; `capHz` is the gateway's cap (0 = none). */
export function policyOf(
  maxHz: number,
  capHz: number,
  disconnectOnSlow: boolean,
): SubscriptionPolicy | undefined {
  const hz = maxHz > 0 && capHz > 0 ? Math.min(maxHz, capHz) : Math.max(maxHz, capHz);
  if (hz === 0 && !disconnectOnSlow) return undefined;
  return { hz, intervalMs: hz > 0 ? 1000 / hz : 0, disconnectOnSlow };
}

/**
 * The interval a session's updates of `topic` are limited to: the least restrictive of its patterns
 * that match the topic, so a topic also held by an every-update pattern gets every update. A pattern
 * without a policy counts as `capIntervalMs` (the gateway's cap, 0 = none).
 */
export function intervalFor(
  session: Session,
  patterns: readonly string[],
  topic: Topic,
  capIntervalMs: number,
): number {
  let interval = Number.POSITIVE_INFINITY;
  for (const pattern of patterns) {
    if (!patternMatches(pattern.split("."), topic.tokens)) continue;
    const own = session.policies?.get(pattern)?.intervalMs ?? capIntervalMs;
    if (own < interval) interval = own;
  }
  return interval === Number.POSITIVE_INFINITY ? capIntervalMs : interval;
}
