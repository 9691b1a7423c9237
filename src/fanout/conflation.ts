import { CloseCode } from "../protocol/index.ts";
import { carriedFlags, type EncodedEvent } from "./encoded-event.ts";
import type { SlowListener } from "./outbox-writer.ts";
import { SessionMode, SlowCause, type PendingUpdate, type Session, type Topic } from "./session.ts";
import type { HubStats } from "./stats.ts";

/** The slow-consumer rule's limits (part of HubOptions). */
export interface ConflationOptions {
  /** Soft watermark, bytes: over this many unsent bytes a socket is conflated (latest value per topic). */
  readonly slowSoftBytes: number;
  /** Hard watermark, bytes: over this many unsent bytes a socket is closed with 4007 at the next tick. */
  readonly slowHardBytes: number;
  /**
   * A socket conflated this long (ms) without catching up (drained to the soft watermark and, when it
   * lagged, a probe answered within max-lag-ms) is closed with 4007.
   */
  readonly slowCloseMs: number;
  /** Reconnect hint in the 4007 close reason, ms. */
  readonly retryAfterMs: number;
}

/**
 * Slow-consumer conflation: a session that is slow keeps only the latest update per topic
 * (`session.pending`, with the count it stands for) until it catches up; one that does not catch up in
 * time is closed with 4007 and a retry hint. Two causes, as {@link SlowCause} bits: BYTES, its socket is
 * over the soft watermark after a write (cleared when it drains to it), and LAG, the end-to-end probes
 * say it reads too far behind ({@link LagProbes}; cleared by a probe answered within max-lag-ms).
 * Conflation ends when neither is left. Owns the CONFLATING mode bit and the session's `pending`,
 * `slowSinceMs` and `slowCause`; releasing the merged values is the caller's ({@link Delivery}), which
 * puts them back on the delivery path.
 */
export class Conflation implements SlowListener {
  /** Sessions conflating (either cause). */
  readonly slow = new Set<Session>();
  /** Sessions conflating with the LAG cause among their causes. */
  laggingCount = 0;

  constructor(
    private readonly options: ConflationOptions,
    private readonly stats: HubStats,
    /** Monotonic clock, ms. */
    private readonly now: () => number,
  ) {}

  /**
   * Called after a write that left the socket over the soft watermark: conflation starts, or the socket
   * is closed when a subscription of the session asked for onSlow "disconnect".
   */
  becameSlow(session: Session): void {
    if (session.closed) return;
    if ((session.mode & SessionMode.CONFLATING) !== 0) {
      session.slowCause |= SlowCause.BYTES;
      return;
    }
    this.stats.slowEpisodes++;
    this.#start(session, SlowCause.BYTES);
  }

  /**
   * The lag probes found the session reading more than max-lag-ms behind: conflation starts (or gains
   * the LAG cause), or the socket is closed when a subscription asked for onSlow "disconnect".
   */
  lagging(session: Session): void {
    if (session.closed || (session.slowCause & SlowCause.LAG) !== 0) return;
    if ((session.mode & SessionMode.CONFLATING) !== 0) {
      session.slowCause |= SlowCause.LAG;
      this.laggingCount++;
      return;
    }
    this.stats.lagEpisodes++;
    this.#start(session, SlowCause.LAG);
  }

  /** A probe came back within max-lag-ms: the LAG cause ends (conflation too, unless over the soft watermark). */
  caughtUp(session: Session): void {
    if ((session.slowCause & SlowCause.LAG) === 0) return;
    session.slowCause &= ~SlowCause.LAG;
    this.laggingCount--;
  }

  #start(session: Session, cause: number): void {
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
    session.slowCause = cause;
    if ((cause & SlowCause.LAG) !== 0) this.laggingCount++;
    this.slow.add(session);
  }

  /**
   * Merges one update (standing for `n` updates, carrying `carry` flags of those) into a conflating
   * session's latest value of its topic; the value it replaces passes its {@link carriedFlags} on.
   */
  merge(session: Session, topic: Topic, event: EncodedEvent, n: number, carry: number): void {
    const pending = session.pending as Map<Topic, PendingUpdate>;
    const before = pending.get(topic);
    if (before === undefined) {
      pending.set(topic, { event, n, carry });
    } else {
      before.carry |= carriedFlags(before.event) | carry;
      before.event = event;
      before.n += n;
      session.eventsConflated++;
      this.stats.conflatedSlow++;
    }
  }

  /**
   * A snapshot at `q` now represents `topic` on this session: a pending value with that `q` or an older
   * one would repeat it or go backwards, so it goes, and its merges leave the session's conflated count.
   */
  supersede(session: Session, topic: Topic, q: number): void {
    const update = session.pending?.get(topic);
    if (update === undefined || update.event.event.q > q) return;
    session.eventsConflated -= update.n - 1;
    session.pending?.delete(topic);
  }

  /**
   * Whether the session may be released now (on a drain callback, or when a probe came back in time):
   * conflating, not lagging, and at or under the soft watermark.
   */
  drainedBelowSoft(session: Session): boolean {
    if ((session.mode & SessionMode.CONFLATING) === 0 || session.closed) return false;
    if ((session.slowCause & SlowCause.LAG) !== 0) return false;
    return session.sink.bufferedBytes() <= this.options.slowSoftBytes;
  }

  /**
   * The tick's check of one slow session: closes it past the hard watermark or after `slowCloseMs`
   * conflated; true when it has caught up (at or under the soft watermark, not lagging) and should be
   * released.
   */
  check(session: Session, nowMs: number): boolean {
    if (session.closed) {
      this.slow.delete(session);
      return false;
    }
    const buffered = session.sink.bufferedBytes();
    const { slowSoftBytes, slowHardBytes, slowCloseMs } = this.options;
    if (buffered > slowHardBytes) {
      this.#closeSlow(session, `${buffered} bytes unsent, over the hard limit of ${slowHardBytes}`);
      return false;
    }
    const overSoft = buffered > slowSoftBytes;
    if (!overSoft) session.slowCause &= ~SlowCause.BYTES;
    if (session.slowCause === 0) return true;
    const slowMs = Math.round(nowMs - session.slowSinceMs);
    if (slowMs < slowCloseMs) return false;
    this.#closeSlow(
      session,
      overSoft
        ? `over ${slowSoftBytes} bytes unsent for ${slowMs} ms`
        : `lagging for ${slowMs} ms, no probe answered within max-lag-ms`,
    );
    return false;
  }

  /** Ends conflation; returns the merged values (in first-merged order) for the caller to deliver. */
  release(session: Session): Map<Topic, PendingUpdate> | null {
    this.slow.delete(session);
    this.caughtUp(session);
    session.slowCause = 0;
    session.mode &= ~SessionMode.CONFLATING;
    const pending = session.pending;
    session.pending = null;
    return pending;
  }

  /**
   * Forgets the pending values of topics the session no longer receives; their merges leave the session's
   * conflated count, which counts only what the client is told about.
   */
  unsubscribed(session: Session): void {
    if (session.pending === null) return;
    for (const [topic, update] of session.pending) {
      if (topic.subscribers.has(session)) continue;
      session.eventsConflated -= update.n - 1;
      session.pending.delete(topic);
    }
  }

  /** The session is closed. */
  forget(session: Session): void {
    this.caughtUp(session);
    session.slowCause = 0;
    session.pending = null;
    this.slow.delete(session);
  }

  #closeSlow(session: Session, why: string): void {
    this.slow.delete(session);
    session.sink.close(
      CloseCode.SLOW_CONSUMER,
      JSON.stringify({ msg: `slow consumer: ${why}`, retryAfterMs: this.options.retryAfterMs }),
    );
  }
}
