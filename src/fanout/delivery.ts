import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { Conflation, ConflationOptions } from "./conflation.ts";
import { carriedFlags, type EncodedEvent } from "./encoded-event.ts";
import type { Outboxes } from "./outboxes.ts";
import { intervalFor, policyOf, type RateWheel } from "./rate-limit.ts";
import {
  RateState,
  SessionMode,
  frameOf,
  type Session,
  type SubscriptionPolicy,
  type Topic,
} from "./session.ts";
import type { Snapshots } from "./snapshots.ts";
import type { HubStats } from "./stats.ts";

/** Delivery policy options (part of HubOptions). */
export interface DeliveryOptions extends ConflationOptions {
  /** The gateway's cap on events per second per topic for every subscription; 0 = none (default 0). */
  readonly maxHz: number;
}

/** What delivery works with: each a typed part built before it (no closures, no late assignment). */
export interface DeliveryParts {
  readonly stats: HubStats;
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  /** Monotonic clock, ms. */
  readonly now: () => number;
  readonly outboxes: Outboxes;
  readonly conflation: Conflation;
  /** Holds a session's frames while its snapshot waits for feed history. */
  readonly snapshots: Snapshots;
  /** The rated updates' timer wheel (built before, so the cache bound can see what it holds). */
  readonly wheel: RateWheel;
}

/**
 * The delivery policy of one update to one session off the fast path (a session with a
 * {@link SessionMode} bit set): maxHz rate limiting (owns the RATED bit and the session's `policies`,
 * `policyEpoch` and `rates`), then the session's mode decides where the update goes: held behind a
 * snapshot wait ({@link Snapshots}), merged while conflating ({@link Conflation}), or into the outbox.
 */
export class Delivery {
  readonly capIntervalMs: number;
  readonly #wheel: RateWheel;
  readonly #due: RateState[] = [];
  readonly #stats: HubStats;
  readonly #table: SubscriptionTable<Session, EncodedEvent>;
  readonly #now: () => number;
  readonly #outboxes: Outboxes;
  readonly #conflation: Conflation;
  readonly #snapshots: Snapshots;

  constructor(
    private readonly options: DeliveryOptions,
    parts: DeliveryParts,
  ) {
    this.capIntervalMs = options.maxHz > 0 ? 1000 / options.maxHz : 0;
    this.#stats = parts.stats;
    this.#table = parts.table;
    this.#now = parts.now;
    this.#outboxes = parts.outboxes;
    this.#conflation = parts.conflation;
    this.#snapshots = parts.snapshots;
    this.#wheel = parts.wheel;
  }

  /** Rated updates waiting for their time, over all sessions (0 once every rated session closed). */
  get pendingRated(): number {
    return this.#wheel.size;
  }

  /** A new session: under a gateway cap every subscription is rated. */
  opened(session: Session): void {
    if (this.capIntervalMs > 0) session.mode |= SessionMode.RATED;
  }

  /** The policy of a subscribe's patterns (undefined = the defaults), with the gateway's cap applied. */
  policyOf(maxHz: number, onSlow: "conflate" | "disconnect"): SubscriptionPolicy | undefined {
    return policyOf(maxHz, this.options.maxHz, onSlow === "disconnect");
  }

  /**
   * Records the options of `patterns` (undefined = defaults) and sets the session's RATED bit. Updates
   * held back under the old rates go out now, before any newer update of their topic can.
   */
  setPolicies(session: Session, patterns: readonly string[], policy: SubscriptionPolicy | undefined): void {
    if (policy === undefined && session.policies === null) return;
    const policies = (session.policies ??= new Map<string, SubscriptionPolicy>());
    for (const pattern of patterns) {
      if (policy === undefined) policies.delete(pattern);
      else policies.set(pattern, policy);
    }
    session.policyEpoch++;
    let rated = this.capIntervalMs > 0;
    for (const p of policies.values()) rated ||= p.intervalMs > 0;
    if (rated) session.mode |= SessionMode.RATED;
    else session.mode &= ~SessionMode.RATED;
    if (session.rates !== null) {
      const nowMs = this.#now();
      for (const state of session.rates.values()) this.#sendDue(state, nowMs);
    }
  }

  /**
   * `patterns` were unsubscribed: what was kept for topics the session no longer receives goes (a held-back
   * rated update, a pending conflated value), and its merges leave the session's conflated count, which
   * counts only what the client is told about.
   */
  unsubscribed(session: Session, patterns: readonly string[]): void {
    if (session.rates !== null) {
      for (const [topic, state] of session.rates) {
        if (topic.subscribers.has(session)) continue;
        if (state.merged > 1) session.eventsConflated -= state.merged - 1;
        this.#wheel.remove(state);
        session.rates.delete(topic);
      }
    }
    this.#conflation.unsubscribed(session);
    this.setPolicies(session, patterns, undefined);
  }

  /** The session is closed: its delivery state goes. */
  forget(session: Session): void {
    if (session.rates !== null) for (const state of session.rates.values()) this.#wheel.remove(state);
    session.rates = null;
    this.#conflation.forget(session);
  }

  /** One update to one session off the fast path: rate limit, then {@link emit}. */
  deliver(session: Session, topic: Topic, event: EncodedEvent): void {
    if ((session.mode & SessionMode.RATED) !== 0) {
      const state = this.#rateState(session, topic);
      if (state.intervalMs > 0) {
        this.#rated(state, event);
        return;
      }
    }
    this.emit(session, topic, event, 1);
  }

  /**
   * Puts one update (standing for `n` updates of its topic, carrying `carry` flags of those merged into
   * it) where the session's mode says: held behind a snapshot wait, merged into the conflation map, or
   * into the outbox.
   */
  emit(session: Session, topic: Topic, event: EncodedEvent, n: number, carry = 0): void {
    const mode = session.mode;
    if ((mode & SessionMode.HOLDING) !== 0) {
      this.#snapshots.holdEvent(session, topic, event, n, carry);
      return;
    }
    if ((mode & SessionMode.CONFLATING) !== 0) {
      this.#conflation.merge(session, topic, event, n, carry);
      return;
    }
    this.#outboxes.enqueueEvent(session, frameOf(session, event, n, carry));
  }

  /** The socket's send buffer went down: a conflated session at or under the soft watermark is released. */
  drained(session: Session): void {
    if (this.#conflation.drainedBelowSoft(session)) this.#releaseConflated(session);
  }

  /** Rated updates that are due; slow sockets released when drained or closed past the limits. */
  tick(nowMs: number): void {
    const due = this.#due;
    this.#wheel.takeDue(nowMs, due);
    for (let i = 0; i < due.length; i++) this.#sendDue(due[i] as RateState, nowMs);
    due.length = 0;
    const conflation = this.#conflation;
    for (const session of conflation.slow) {
      if (conflation.check(session, nowMs)) this.#releaseConflated(session);
    }
  }

  #rateState(session: Session, topic: Topic): RateState {
    const rates = (session.rates ??= new Map<Topic, RateState>());
    let state = rates.get(topic);
    if (state === undefined || state.epoch !== session.policyEpoch) {
      const interval = intervalFor(session, this.#table.patternsOf(session), topic, this.capIntervalMs);
      if (state === undefined) {
        state = new RateState(session, topic, interval, session.policyEpoch);
        rates.set(topic, state);
      } else {
        state.intervalMs = interval;
        state.epoch = session.policyEpoch;
      }
    }
    return state;
  }

  /** At most one event per interval; updates in between are merged into the next one (CONFLATED, n). */
  #rated(state: RateState, event: EncodedEvent): void {
    if (state.pending === undefined) {
      const nowMs = this.#now();
      if (nowMs - state.lastSentMs >= state.intervalMs) {
        state.lastSentMs = nowMs;
        this.emit(state.session, state.topic, event, 1);
        return;
      }
    } else {
      state.session.eventsConflated++;
      this.#stats.conflatedMaxHz++;
      state.carry |= carriedFlags(state.pending);
    }
    state.pending = event;
    state.merged++;
    if (!state.scheduled) this.#wheel.schedule(state, state.lastSentMs + state.intervalMs);
  }

  /** A rated update whose time has come: the latest value always goes out (never a stale one). */
  #sendDue(state: RateState, nowMs: number): void {
    const { session, topic } = state;
    const pending = state.pending;
    const merged = state.merged;
    const carry = state.carry;
    state.pending = undefined;
    state.merged = 0;
    state.carry = 0;
    if (pending === undefined || session.closed || session.rates?.get(topic) !== state) return;
    state.lastSentMs = nowMs;
    this.emit(session, topic, pending, merged, carry);
  }

  /** Back under the soft watermark: the latest value of every topic merged meanwhile goes out now. */
  #releaseConflated(session: Session): void {
    const pending = this.#conflation.release(session);
    if (pending === null) return;
    for (const [topic, update] of pending) this.emit(session, topic, update.event, update.n, update.carry);
    this.#outboxes.flushNow(session);
  }
}
