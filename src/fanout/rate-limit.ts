import { patternMatches } from "../protocol/index.ts";
import type { RateState, Session, SubscriptionPolicy, Topic } from "./session.ts";

/** Resolution of the hub's clock tick, ms: rated updates go out at most this late. */
export const TICK_MS = 10;

/**
 * Rated (session, topic) states waiting for their due time, bucketed by {@link TICK_MS}: each pending
 * state is visited once, when due, however many rated pairs exist. A state leaves when it is due or when
 * {@link remove}d (its connection closed or unsubscribed): a closed connection's states must not wait
 * for their due time, which for a rate of 1e-9/s was 31 years (issue 11 §4). A tick before the earliest
 * due slot costs one comparison, whatever the number of buckets.
 */
export class RateWheel {
  readonly #buckets = new Map<number, RateState[]>();
  /** The slot each scheduled state is in, for {@link remove}. */
  readonly #slotOf = new Map<RateState, number>();
  #minSlot = Number.POSITIVE_INFINITY;

  /** States scheduled and not yet taken or removed. */
  get size(): number {
    return this.#slotOf.size;
  }

  /** The states scheduled now (each with an update held back or a send due), in no particular order. */
  scheduled(): IterableIterator<RateState> {
    return this.#slotOf.keys();
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
    this.#slotOf.set(state, slot);
    if (slot < this.#minSlot) this.#minSlot = slot;
  }

  /** Takes `state` out before its time (no-op when it is not scheduled). */
  remove(state: RateState): void {
    const slot = this.#slotOf.get(state);
    if (slot === undefined) return;
    this.#slotOf.delete(state);
    state.scheduled = false;
    const bucket = this.#buckets.get(slot);
    if (bucket === undefined) return;
    const at = bucket.indexOf(state);
    if (at >= 0) bucket.splice(at, 1);
    if (bucket.length === 0) this.#buckets.delete(slot);
  }

  /** Moves every state due at `nowMs` into `into` (never one before its due time). */
  takeDue(nowMs: number, into: RateState[]): void {
    const nowSlot = Math.floor(nowMs / TICK_MS);
    if (nowSlot < this.#minSlot) return;
    let minSlot = Number.POSITIVE_INFINITY;
    for (const [slot, bucket] of this.#buckets) {
      if (slot > nowSlot) {
        if (slot < minSlot) minSlot = slot;
        continue;
      }
      this.#buckets.delete(slot);
      for (const state of bucket) {
        state.scheduled = false;
        this.#slotOf.delete(state);
        into.push(state);
      }
    }
    this.#minSlot = minSlot;
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
