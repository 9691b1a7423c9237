import { CloseCode } from "../protocol/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { SlowListener } from "./outbox-writer.ts";
import { SessionMode, type PendingUpdate, type Session, type Topic } from "./session.ts";
import type { HubStats } from "./stats.ts";

/** The slow-consumer rule's limits (part of HubOptions). */
export interface ConflationOptions {
  /** Soft watermark, bytes: over this many unsent bytes a socket is conflated (latest value per topic). */
  readonly slowSoftBytes: number;
  /** Hard watermark, bytes: over this many unsent bytes a socket is closed with 4007 at the next tick. */
  readonly slowHardBytes: number;
  /** A socket over the soft watermark this long (ms) without draining under it is closed with 4007. */
  readonly slowCloseMs: number;
  /** Reconnect hint in the 4007 close reason, ms. */
  readonly retryAfterMs: number;
}

/**
 * Slow-consumer conflation: a session whose socket is over the soft watermark after a write keeps only
 * the latest update per topic (`session.pending`, with the count it stands for) until the socket drains;
 * one that stays over the limits is closed with 4007 and a retry hint. Owns the CONFLATING mode bit and
 * the session's `pending` and `slowSinceMs`; releasing the merged values is the caller's
 * ({@link Delivery}), which puts them back on the delivery path.
 */
export class Conflation implements SlowListener {
  /** Sessions over the soft watermark. */
  readonly slow = new Set<Session>();

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

  /** Merges one update (standing for `n` updates) into a conflating session's latest value of its topic. */
  merge(session: Session, topic: Topic, event: EncodedEvent, n: number): void {
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

  /** Whether a drain callback may release the session: conflating and back at or under the soft watermark. */
  drainedBelowSoft(session: Session): boolean {
    if ((session.mode & SessionMode.CONFLATING) === 0 || session.closed) return false;
    return session.sink.bufferedBytes() <= this.options.slowSoftBytes;
  }

  /**
   * The tick's check of one slow session: closes it past the hard watermark or after `slowCloseMs`;
   * true when it is back at or under the soft watermark and should be released.
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
    } else if (buffered <= slowSoftBytes) {
      return true;
    } else if (nowMs - session.slowSinceMs >= slowCloseMs) {
      this.#closeSlow(
        session,
        `over ${slowSoftBytes} bytes unsent for ${Math.round(nowMs - session.slowSinceMs)} ms`,
      );
    }
    return false;
  }

  /** Ends conflation; returns the merged values (in first-merged order) for the caller to deliver. */
  release(session: Session): Map<Topic, PendingUpdate> | null {
    this.slow.delete(session);
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
