import { BatchWriter } from "./batch-writer.ts";
import { sendProbe } from "./probe-send.ts";
import { ControlFrame, type Session } from "./session.ts";
import { SendResult } from "./sink.ts";
import type { HubStats } from "./stats.ts";

/** Told when a write left a socket over the soft watermark (the conflation policy). */
export interface SlowListener {
  becameSlow(session: Session): void;
}

/**
 * Writes a session's outbox inside one `cork` (the drain side of {@link Outboxes}, which alone calls it): runs of data events as array frames
 * ({@link BatchWriter}), control frames alone and in order. After the write, a socket over the soft
 * watermark is reported, so the hub conflates what comes next instead of buffering it: the overshoot
 * past the watermark is at most one turn's events. A lag probe that fell due ({@link LagProbes}) goes out
 * last in the same cork, behind the frames it measures, in their syscall and TCP segment.
 */
export class OutboxWriter {
  readonly #batches = new BatchWriter();
  /** The session `#write` writes (cork takes a callback; one shared, no closure per session). */
  #session: Session | undefined;
  readonly #write = (): void => this.#writeOutbox();

  constructor(
    private readonly stats: HubStats,
    private readonly softBytes: number,
    private readonly slow: SlowListener,
    /** Monotonic clock, ms (the hub's): a probe's send time. */
    private readonly now: () => number,
  ) {}

  flush(session: Session): void {
    this.#session = session;
    session.sink.cork(this.#write);
    this.#session = undefined;
    if (!session.closed && session.sink.bufferedBytes() > this.softBytes) this.slow.becameSlow(session);
  }

  #writeOutbox(): void {
    const session = this.#session;
    if (session === undefined) return;
    const outbox = session.outbox;
    if (session.controlQueued === 0) {
      // The common turn: data events only, one run.
      this.#writeEvents(session, 0, outbox.length);
      outbox.length = 0;
      if (session.probeDueMs >= 0) this.#probe(session);
      return;
    }
    session.controlQueued = 0;
    let runStart = -1;
    for (let i = 0; i < outbox.length; i++) {
      const frame = outbox[i];
      if (!(frame instanceof ControlFrame)) {
        if (runStart < 0) runStart = i;
        continue;
      }
      if (runStart >= 0) this.#writeEvents(session, runStart, i);
      runStart = -1;
      if (session.sink.send(frame.data, session.isBinary) === SendResult.DROPPED) {
        this.stats.controlFramesDropped++;
      } else {
        this.stats.controlFramesOut++;
        session.bytesOut += frame.data.length;
      }
    }
    if (runStart >= 0) this.#writeEvents(session, runStart, outbox.length);
    outbox.length = 0;
    if (session.probeDueMs >= 0) this.#probe(session);
  }

  #probe(session: Session): void {
    if (!session.closed && session.probeSentMs < 0) sendProbe(session, this.now(), this.stats);
  }

  #writeEvents(session: Session, from: number, to: number): void {
    const stats = this.stats;
    const result = this.#batches.write(session.sink, session.isBinary, session.outbox, from, to);
    session.eventsSent += result.events;
    session.eventsDropped += result.refused;
    session.bytesOut += result.bytes;
    stats.eventsOut += result.events;
    stats.framesOut += result.frames;
    stats.bytesOut += result.bytes;
    stats.dropsBackpressure += result.refused;
  }
}
