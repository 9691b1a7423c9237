import { OutboxWriter, type SlowListener } from "./outbox-writer.ts";
import type { ControlFrame, Session } from "./session.ts";
import type { HubStats } from "./stats.ts";

/**
 * The one door into a session's outbox: {@link enqueueEvent} and {@link enqueueControl} are the only
 * code that adds to `session.outbox` and its counters (`queued`, `controlQueued`); {@link OutboxWriter},
 * called from here only, empties it. Also the per-turn flush: the first frame a session gets in a turn
 * puts it on the turn's list, and one `setImmediate` per turn writes every listed outbox inside `cork`,
 * so a socket gets one syscall per turn however many frames it got (PERF-NOTES: 0.97× of uWS's C++
 * `app.publish`; one send per message is 0.085×).
 */
export class Outboxes {
  readonly #queued: Session[] = [];
  #flushScheduled = false;
  readonly #flushAll = (): void => this.flushQueued();
  readonly #writer: OutboxWriter;

  /**
   * @param softBytes the soft watermark, bytes: a write that leaves more than this unsent reports the
   *   session to `slow` (see {@link OutboxWriter}).
   * @param now the hub's monotonic clock, ms (a lag probe riding on a write is stamped with it).
   */
  constructor(stats: HubStats, softBytes: number, slow: SlowListener, now: () => number) {
    this.#writer = new OutboxWriter(stats, softBytes, slow, now);
  }

  /**
   * Queues one data event (the shared encoded bytes, or JSON text on a JSON session) for this turn's
   * write. The publish fast path: two field reads and a push for a session already queued this turn.
   */
  enqueueEvent(session: Session, frame: Uint8Array | string): void {
    session.outbox.push(frame);
    if (!session.queued) this.#queue(session);
  }

  /** Queues one control reply or control event for this turn's write, in order with the data events. */
  enqueueControl(session: Session, frame: ControlFrame): void {
    session.outbox.push(frame);
    session.controlQueued++;
    if (!session.queued) this.#queue(session);
  }

  /** Writes the session's outbox now (before a close, or to release conflated values at once). */
  flushNow(session: Session): void {
    if (session.outbox.length === 0) return;
    this.#writer.flush(session);
  }

  /** Writes every outbox queued this turn (the `setImmediate` callback; also before heartbeats and closes). */
  flushQueued(): void {
    this.#flushScheduled = false;
    const queued = this.#queued;
    for (let i = 0; i < queued.length; i++) {
      const session = queued[i] as Session;
      session.queued = false;
      if (session.closed || session.outbox.length === 0) continue;
      this.#writer.flush(session);
    }
    queued.length = 0;
  }

  /** The session is closed: what it had queued is dropped (it may still sit on the turn's list). */
  discard(session: Session): void {
    session.outbox.length = 0;
    session.controlQueued = 0;
  }

  #queue(session: Session): void {
    session.queued = true;
    this.#queued.push(session);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushAll);
    }
  }
}
