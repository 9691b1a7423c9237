import { CloseCode } from "../protocol/index.ts";
import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import { RateWheel, intervalFor, policyOf } from "./rate-limit.ts";
import {
  RateState,
  SessionMode,
  type Held,
  type PendingUpdate,
  type Session,
  type SubscriptionPolicy,
  type Topic,
} from "./session.ts";
import type { HubStats } from "./stats.ts";

/** Frames a session may hold while its snapshot waits for history; past it the wait ends at once. */
export const MAX_HELD_FRAMES = 8192;

export interface DeliveryOptions {
  /** Soft watermark: over this many unsent bytes a socket is conflated (latest value per topic). */
  readonly slowSoftBytes: number;
  /** Hard watermark: over this many unsent bytes a socket is closed with 4007 at the next tick. */
  readonly slowHardBytes: number;
  /** A socket over the soft watermark this long without draining under it is closed with 4007. */
  readonly slowCloseMs: number;
  /** Reconnect hint in the 4007 close reason. */
  readonly retryAfterMs: number;
  /** The gateway's cap on events per second per topic for every subscription; 0 = none. */
  readonly maxHz: number;
}

/** What delivery needs from the hub: the per-turn write, and the end of a snapshot wait that overflowed. */
export interface Outlet {
  /** Schedules the session's outbox for this turn's write. */
  queue(session: Session): void;
  /** Writes the session's outbox now. */
  flushNow(session: Session): void;
  /** The session holds more than MAX_HELD_FRAMES behind a snapshot wait. */
  overflowed(session: Session): void;
}

/**
 * The delivery policy of one update to one session off the fast path (a session with a
 * {@link SessionMode} bit set): maxHz rate limiting, holding behind a snapshot wait, and conflation
 * while the socket is over the soft watermark, with the 4007 closes of the slow-consumer rule.
 */
export class Delivery {
  /** Sessions over the soft watermark. */
  readonly slow = new Set<Session>();
  readonly capIntervalMs: number;
  readonly #wheel = new RateWheel();
  readonly #due: RateState[] = [];

  constructor(
    private readonly options: DeliveryOptions,
    private readonly stats: HubStats,
    private readonly table: SubscriptionTable<Session, EncodedEvent>,
    private readonly now: () => number,
    private readonly outlet: Outlet,
  ) {
    this.capIntervalMs = options.maxHz > 0 ? 1000 / options.maxHz : 0;
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
      const nowMs = this.now();
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
        session.rates.delete(topic);
      }
    }
    if (session.pending !== null) {
      for (const [topic, update] of session.pending) {
        if (topic.subscribers.has(session)) continue;
        session.eventsConflated -= update.n - 1;
        session.pending.delete(topic);
      }
    }
    this.setPolicies(session, patterns, undefined);
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
   * Puts one update (standing for `n` updates of its topic) where the session's mode says: held behind
   * a snapshot wait, merged into the conflation map, or into the outbox.
   */
  emit(session: Session, topic: Topic, event: EncodedEvent, n: number): void {
    const mode = session.mode;
    if ((mode & SessionMode.HOLDING) !== 0) {
      const held = session.held as Held[];
      held.push({ topic, frame: n > 1 ? event.conflated(n, session.isBinary) : frameOf(session, event) });
      if (held.length > MAX_HELD_FRAMES) this.outlet.overflowed(session);
      return;
    }
    if ((mode & SessionMode.CONFLATING) !== 0) {
      const pending = session.pending as Map<Topic, PendingUpdate>;
      const before = pending.get(topic);
      if (before === undefined) {
        pending.set(topic, { event, n });
      } else {
        before.event = event;
        before.n += n;
        session.eventsConflated++;
        this.stats.conflatedSlow++;
      }
      return;
    }
    session.outbox.push(n > 1 ? event.conflated(n, session.isBinary) : frameOf(session, event));
    if (!session.queued) this.outlet.queue(session);
  }

  /**
   * A snapshot event: held behind a snapshot wait, else straight into the outbox even while conflating,
   * so that it arrives before its `snapshot_end` (a control frame). The topic was not subscribed before
   * the request, so no older value of it is pending.
   */
  emitSnapshot(session: Session, topic: Topic, event: EncodedEvent): void {
    if ((session.mode & SessionMode.HOLDING) !== 0) {
      this.emit(session, topic, event, 1);
      return;
    }
    session.outbox.push(frameOf(session, event));
    if (!session.queued) this.outlet.queue(session);
  }

  /** Called after a write that left the socket over the soft watermark. */
  becameSlow(session: Session): void {
    if (session.closed || (session.mode & SessionMode.CONFLATING) !== 0) return;
    this.stats.slowEpisodes++;
    if (session.policies !== null) {
      for (const policy of session.policies.values()) {
        if (!policy.disconnectOnSlow) continue;
        this.#closeSlow(session, 'a subscription asked for onSlow "disconnect"');
        return;
      }
    }
    session.mode |= SessionMode.CONFLATING;
    session.pending = new Map<Topic, PendingUpdate>();
    session.slowSinceMs = this.now();
    this.slow.add(session);
  }

  /** The socket's send buffer went down: a conflated session at or under the soft watermark is released. */
  drained(session: Session): void {
    if ((session.mode & SessionMode.CONFLATING) === 0 || session.closed) return;
    if (session.sink.bufferedBytes() <= this.options.slowSoftBytes) this.#releaseConflated(session);
  }

  /** Rated updates that are due; slow sockets released when drained or closed past the limits. */
  tick(nowMs: number): void {
    const due = this.#due;
    this.#wheel.takeDue(nowMs, due);
    for (let i = 0; i < due.length; i++) this.#sendDue(due[i] as RateState, nowMs);
    due.length = 0;
    for (const session of this.slow) this.#checkSlow(session, nowMs);
  }

  #rateState(session: Session, topic: Topic): RateState {
    const rates = (session.rates ??= new Map<Topic, RateState>());
    let state = rates.get(topic);
    if (state === undefined || state.epoch !== session.policyEpoch) {
      const interval = intervalFor(session, this.table.patternsOf(session), topic, this.capIntervalMs);
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
      const nowMs = this.now();
      if (nowMs - state.lastSentMs >= state.intervalMs) {
        state.lastSentMs = nowMs;
        this.emit(state.session, state.topic, event, 1);
        return;
      }
    } else {
      state.session.eventsConflated++;
      this.stats.conflatedMaxHz++;
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
    state.pending = undefined;
    state.merged = 0;
    if (pending === undefined || session.closed || session.rates?.get(topic) !== state) return;
    state.lastSentMs = nowMs;
    this.emit(session, topic, pending, merged);
  }

  #checkSlow(session: Session, nowMs: number): void {
    if (session.closed) {
      this.slow.delete(session);
      return;
    }
    const buffered = session.sink.bufferedBytes();
    const { slowSoftBytes, slowHardBytes, slowCloseMs } = this.options;
    if (buffered > slowHardBytes) {
      this.#closeSlow(session, `${buffered} bytes unsent, over the hard limit of ${slowHardBytes}`);
    } else if (buffered <= slowSoftBytes) {
      this.#releaseConflated(session);
    } else if (nowMs - session.slowSinceMs >= slowCloseMs) {
      this.#closeSlow(
        session,
        `over ${slowSoftBytes} bytes unsent for ${Math.round(nowMs - session.slowSinceMs)} ms`,
      );
    }
  }

  #closeSlow(session: Session, why: string): void {
    this.slow.delete(session);
    session.sink.close(
      CloseCode.SLOW_CONSUMER,
      JSON.stringify({ msg: `slow consumer: ${why}`, retryAfterMs: this.options.retryAfterMs }),
    );
  }

  /** Back under the soft watermark: the latest value of every topic merged meanwhile goes out now. */
  #releaseConflated(session: Session): void {
    this.slow.delete(session);
    session.mode &= ~SessionMode.CONFLATING;
    const pending = session.pending;
    session.pending = null;
    if (pending === null) return;
    for (const [topic, update] of pending) this.emit(session, topic, update.event, update.n);
    this.outlet.flushNow(session);
  }
}

export function frameOf(session: Session, event: EncodedEvent): Uint8Array | string {
  return session.isBinary ? event.msgpack : event.json;
}
