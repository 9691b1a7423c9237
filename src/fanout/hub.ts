import {
  CloseCode,
  ErrorCode,
  decodeClientFrame,
  encodeControl,
  nowMicros,
  parseRequest,
  requestIdOf,
  type ControlMessage,
  type Encoding,
  type Request,
  type RequestId,
} from "../protocol/index.ts";
import { SubscriptionTable, type InterestListener, type TopicEntry } from "../subscriptions/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import { BatchWriter } from "./batch-writer.ts";
import { ControlFrame, Session } from "./session.ts";
import { SendResult, type FrameSink } from "./sink.ts";
import { HubStats, closeReasonOf } from "./stats.ts";

/** Publishes between two sweeps of cached slab views: ~2 slabs of ~93-byte events. */
const SWEEP_EVERY_PUBLISHES = 4096;

export interface HubOptions {
  /** Patterns one connection may hold (default 1024); a subscribe past it is refused whole. */
  readonly maxTopicsPerConnection: number;
  /** Bytes a socket may have buffered; above this its events of a turn are skipped and counted. */
  readonly maxBufferedBytes: number;
  /** Control messages per second per connection, sustained. */
  readonly controlRatePerSec: number;
  /** Control messages a connection may send in a burst; also the refusals tolerated before closing. */
  readonly controlBurst: number;
}

/** A concrete topic as the fan-out sees it: subscribers are sessions, the last value an encoded event. */
export type Topic = TopicEntry<Session, EncodedEvent>;

/**
 * The fan-out: sessions, the subscription table, control requests, and the per-turn batched write.
 *
 * Hot path: `publish` appends the shared encoded bytes to each subscriber's outbox; one `setImmediate`
 * per turn writes every outbox inside `cork`, so a socket gets one syscall per turn however many
 * updates it got (PERF-NOTES: 0.97× of uWS's C++ `app.publish`; one send per message is 0.085×).
 */
export class Hub {
  readonly stats = new HubStats();
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly #sessions = new Set<Session>();
  readonly #queued: Session[] = [];
  #flushScheduled = false;
  readonly #flushAll = (): void => this.#flushQueued();
  readonly #batches = new BatchWriter();
  /** Topics whose cached last value may still be a slab view (see #detachCachedViews). */
  readonly #cachedViews = new Set<Topic>();
  #publishesSinceSweep = 0;
  /** The session whose outbox `#writeFlushing` writes (cork takes a callback; one shared, no closure per session). */
  #flushing: Session | undefined;
  readonly #writeFlushing = (): void => this.#writeOutbox();

  constructor(
    private readonly options: HubOptions,
    interest: InterestListener,
  ) {
    this.table = new SubscriptionTable<Session, EncodedEvent>(interest, options.maxTopicsPerConnection);
  }

  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Registers a new connection. */
  open(sink: FrameSink, encoding: Encoding): Session {
    const session = new Session(encoding, sink, this.options.controlBurst, performance.now());
    this.#sessions.add(session);
    this.stats.connectionsOpened++;
    return session;
  }

  /** The connection is gone (any cause); its subscriptions are released. */
  closed(session: Session, code: number): void {
    if (session.closed) return;
    session.closed = true;
    session.outbox.length = 0;
    session.controlQueued = 0;
    this.#sessions.delete(session);
    this.table.removeAll(session);
    this.stats.countClose(closeReasonOf(code));
  }

  /** Concrete topic entry for ingest: sequence counter plus subscribers. */
  topic(name: string): Topic {
    return this.table.topic(name);
  }

  /**
   * Queues one encoded update for every subscriber of its topic, and keeps it as the topic's last value
   * for the snapshots of later subscribes (also when nobody subscribes right now).
   */
  publish(topic: Topic, event: EncodedEvent): void {
    topic.last = event;
    this.#cachedViews.add(topic);
    if (++this.#publishesSinceSweep >= SWEEP_EVERY_PUBLISHES) this.#detachCachedViews();
    const subscribers = topic.list;
    if (subscribers.length === 0) {
      this.stats.eventsUnrouted++;
      return;
    }
    this.stats.eventsRouted++;
    for (let i = 0; i < subscribers.length; i++) {
      const session = subscribers[i] as Session;
      session.outbox.push(session.isBinary ? event.msgpack : event.json);
      if (!session.queued) this.#queue(session);
    }
  }

  /**
   * Gives every cached last value that is still a view of the ingest encoder's 256 KiB slab its own
   * exact-size bytes. Without this a topic that goes quiet would keep a whole slab alive; copying at
   * encode time instead doubled the encode cost (~550 → ~1,100 ns, measured 2026-11-24), while this
   * copies at most one event per topic per sweep and bounds the retained slabs to about two.
   */
  #detachCachedViews(): void {
    this.#publishesSinceSweep = 0;
    for (const topic of this.#cachedViews) {
      const last = topic.last;
      if (last?.isView === true) topic.last = last.detached();
    }
    this.#cachedViews.clear();
  }

  /** Handles one client frame: decode, rate limit, dispatch, reply. Never throws on input. */
  receive(session: Session, data: ArrayBuffer, isBinary: boolean): void {
    if (session.closed) return;
    this.stats.controlMessages++;
    if (!this.#admit(session, performance.now())) {
      if (session.rejectedInARow > this.options.controlBurst) {
        // Counted as a close (reason rate_limited), not as one more error reply.
        this.#flushNow(session);
        session.sink.close(CloseCode.RATE_LIMITED, "rate limited: too many control messages");
        return;
      }
      // Decoded only to echo the id of the refused request.
      const decoded = decodeClientFrame(data, isBinary);
      const id = decoded.ok ? requestIdOf(decoded.value) : null;
      this.#error(
        session,
        id,
        ErrorCode.RATE_LIMITED,
        `rate limited: at most ${this.options.controlRatePerSec} control messages per second`,
      );
      return;
    }
    const decoded = decodeClientFrame(data, isBinary);
    if (!decoded.ok) {
      this.#error(session, null, ErrorCode.BAD_REQUEST, decoded.msg);
      return;
    }
    const parsed = parseRequest(decoded.value);
    if (!parsed.ok) {
      this.#error(session, parsed.id, parsed.code, parsed.msg);
      return;
    }
    this.#dispatch(session, parsed.request);
  }

  /** Writes pending frames and closes every connection with `code` (shutdown, drain). */
  closeAll(code: number, reason: string): void {
    this.#flushQueued();
    for (const session of [...this.#sessions]) session.sink.close(code, reason);
  }

  #dispatch(session: Session, request: Request): void {
    switch (request.method) {
      case "subscribe": {
        const result = this.table.add(session, request.topics);
        if (!result.ok) {
          this.#error(session, request.id, result.code, result.msg);
          return;
        }
        for (const e of result.errors) this.stats.countClientError(e.code);
        this.#control(session, {
          id: request.id,
          result: { subscribed: result.added, errors: result.errors },
        });
        if (request.snapshot) {
          // Reply, snapshot events, snapshot_end, then live: publish never runs inside this call, so
          // anything published later is queued after snapshot_end, and its q follows the snapshot's.
          this.#snapshot(session, result.entered);
          this.#control(session, { e: "snapshot_end", id: request.id });
        }
        return;
      }
      case "unsubscribe": {
        const result = this.table.remove(session, request.topics);
        for (const e of result.errors) this.stats.countClientError(e.code);
        this.#control(session, {
          id: request.id,
          result: { unsubscribed: result.removed, errors: result.errors },
        });
        return;
      }
      case "list":
        this.#control(session, { id: request.id, result: { topics: this.table.patternsOf(session) } });
        return;
      case "ping":
        this.#control(session, { id: request.id, result: { ts: nowMicros() } });
        return;
    }
  }

  /**
   * Queues the last value of each topic the subscribe newly brought to `session`, flagged SNAPSHOT, as
   * data events: batched, and skipped for a slow socket like live events. Topics the session already got
   * through a pattern it held before are not in `entered`, so they are not sent again.
   */
  #snapshot(session: Session, entered: readonly Topic[]): void {
    const outbox = session.outbox;
    for (let i = 0; i < entered.length; i++) {
      const last = (entered[i] as Topic).last;
      if (last === undefined) continue;
      const snapshot = last.snapshot;
      outbox.push(session.isBinary ? snapshot.msgpack : snapshot.json);
    }
  }

  #admit(session: Session, nowMs: number): boolean {
    const { controlRatePerSec, controlBurst } = this.options;
    session.tokens = Math.min(
      controlBurst,
      session.tokens + ((nowMs - session.refilledAtMs) * controlRatePerSec) / 1000,
    );
    session.refilledAtMs = nowMs;
    if (session.tokens >= 1) {
      session.tokens -= 1;
      session.rejectedInARow = 0;
      return true;
    }
    session.rejectedInARow++;
    return false;
  }

  #error(session: Session, id: RequestId | null, code: number, msg: string): void {
    this.stats.countClientError(code);
    this.#control(session, { id, error: { code, msg } });
  }

  #control(session: Session, message: ControlMessage): void {
    session.outbox.push(new ControlFrame(encodeControl(message, session.encoding)));
    session.controlQueued++;
    if (!session.queued) this.#queue(session);
  }

  #queue(session: Session): void {
    session.queued = true;
    this.#queued.push(session);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushAll);
    }
  }

  #flushNow(session: Session): void {
    if (session.outbox.length === 0) return;
    this.#flushing = session;
    session.sink.cork(this.#writeFlushing);
    this.#flushing = undefined;
  }

  #flushQueued(): void {
    this.#flushScheduled = false;
    const queued = this.#queued;
    for (let i = 0; i < queued.length; i++) {
      const session = queued[i] as Session;
      session.queued = false;
      if (session.closed || session.outbox.length === 0) continue;
      this.#flushing = session;
      session.sink.cork(this.#writeFlushing);
    }
    this.#flushing = undefined;
    queued.length = 0;
  }

  /**
   * Writes the outbox of `#flushing`; runs inside `cork`. Runs of data events go out as array frames
   * ({@link BatchWriter}); control frames go out alone, in order. Over `maxBufferedBytes`, data events
   * are skipped and counted.
   */
  #writeOutbox(): void {
    const session = this.#flushing;
    if (session === undefined) return;
    const outbox = session.outbox;
    const slow = session.sink.bufferedBytes() > this.options.maxBufferedBytes;
    if (session.controlQueued === 0) {
      // The common turn: data events only, one run.
      this.#writeEvents(session, 0, outbox.length, slow);
      outbox.length = 0;
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
      if (runStart >= 0) this.#writeEvents(session, runStart, i, slow);
      runStart = -1;
      if (session.sink.send(frame.data, session.isBinary) === SendResult.DROPPED)
        this.stats.controlFramesDropped++;
      else this.stats.controlFramesOut++;
    }
    if (runStart >= 0) this.#writeEvents(session, runStart, outbox.length, slow);
    outbox.length = 0;
  }

  #writeEvents(session: Session, from: number, to: number, slow: boolean): void {
    const stats = this.stats;
    if (slow) {
      session.eventsDropped += to - from;
      stats.dropsSlowConsumer += to - from;
      return;
    }
    const result = this.#batches.write(session.sink, session.isBinary, session.outbox, from, to);
    session.eventsSent += result.events;
    session.eventsDropped += result.refused;
    stats.eventsOut += result.events;
    stats.framesOut += result.frames;
    stats.bytesOut += result.bytes;
    stats.dropsBackpressure += result.refused;
  }
}
