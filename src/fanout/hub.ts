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
import { SubscriptionTable, type InterestListener } from "../subscriptions/index.ts";
import { Delivery, type DeliveryOptions } from "./delivery.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import { OutboxWriter } from "./outbox-writer.ts";
import { TICK_MS } from "./rate-limit.ts";
import { ControlFrame, Session, SessionMode, type Held, type Topic } from "./session.ts";
import { Snapshots, type HistorySource } from "./snapshots.ts";
import type { FrameSink } from "./sink.ts";
import { HubStats, closeReasonOf } from "./stats.ts";

/** Publishes between two sweeps of cached slab views: ~2 slabs of ~93-byte events. */
const SWEEP_EVERY_PUBLISHES = 4096;

export interface HubOptions extends DeliveryOptions {
  /** Patterns one connection may hold (default 1024); a subscribe past it is refused whole. */
  readonly maxTopicsPerConnection: number;
  /** Heartbeat period, ms; 0 = no heartbeats. */
  readonly heartbeatMs: number;
  /** Longest wait for feed history before a snapshot completes without it. */
  readonly historyTimeoutMs: number;
  /** Control messages per second per connection, sustained. */
  readonly controlRatePerSec: number;
  /** Control messages a connection may send in a burst; also the refusals tolerated before closing. */
  readonly controlBurst: number;
}

export type { Topic } from "./session.ts";
export type { HistorySource } from "./snapshots.ts";

/**
 * The fan-out: sessions, the subscription table, control requests, delivery policy (maxHz, slow-consumer
 * conflation, snapshots) and the per-turn batched write.
 *
 * Hot path: `publish` appends the shared encoded bytes to each subscriber's outbox; one `setImmediate`
 * per turn writes every outbox inside `cork`, so a socket gets one syscall per turn however many
 * updates it got (PERF-NOTES: 0.97× of uWS's C++ `app.publish`; one send per message is 0.085×). A
 * session with any {@link SessionMode} bit set takes `#deliver` instead, off the fast path.
 */
export class Hub {
  readonly stats = new HubStats();
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly #sessions = new Set<Session>();
  readonly #queued: Session[] = [];
  #flushScheduled = false;
  readonly #flushAll = (): void => this.#flushQueued();
  readonly #writer: OutboxWriter;
  /** Topics whose cached last value may still be a slab view (see #detachCachedViews). */
  readonly #cachedViews = new Set<Topic>();
  #publishesSinceSweep = 0;
  readonly #delivery: Delivery;
  // Set by attach() (second wiring phase). TEMPORARY adapter to the CONTRACT.md Hub API on the
  // composition branch: the fan-out split (helper A) replaces this file at merge.
  #snapshots: Snapshots;
  #interest: InterestListener | undefined;
  #nextHeartbeatMs: number;
  #ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: HubOptions,
    /** Monotonic clock in ms; tests pass their own and call {@link tick}. */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.table = new SubscriptionTable<Session, EncodedEvent>(
      {
        patternActive: (pattern, tokens) => this.#interest?.patternActive(pattern, tokens),
        patternIdle: (pattern) => this.#interest?.patternIdle(pattern),
      },
      options.maxTopicsPerConnection,
    );
    const outlet = {
      queue: (session: Session): void => this.#queue(session),
      flushNow: (session: Session): void => this.#flushNow(session),
      overflowed: (session: Session): void => this.#snapshots.overflowed(session),
      control: (session: Session, message: ControlMessage): void => this.#control(session, message),
    };
    this.#outlet = outlet;
    this.#delivery = new Delivery(options, this.stats, this.table, now, outlet);
    this.#writer = new OutboxWriter(this.stats, options.slowSoftBytes, (session) =>
      this.#delivery.becameSlow(session),
    );
    this.#snapshots = this.#snapshotsFrom(undefined);
    this.#nextHeartbeatMs = now() + options.heartbeatMs;
  }

  #snapshotsFrom(history: HistorySource | undefined): Snapshots {
    return new Snapshots(
      this.table,
      history,
      this.options.historyTimeoutMs,
      this.stats,
      this.#delivery,
      this.#outlet,
    );
  }

  readonly #outlet: ConstructorParameters<typeof Snapshots>[5];

  /** Second wiring phase: who hears about pattern interest, and where feed history comes from. */
  attach(parts: { readonly interest: InterestListener; readonly history?: HistorySource | undefined }): void {
    this.#interest = parts.interest;
    this.#snapshots = this.#snapshotsFrom(parts.history);
  }

  /** Starts the hub's one timer (rated updates, slow-socket checks, heartbeats). */
  start(): void {
    if (this.#ticker !== undefined) return;
    this.#nextHeartbeatMs = this.now() + this.options.heartbeatMs;
    // One timer for rated updates, slow sockets and heartbeats; unref'd so it never keeps a process up.
    this.#ticker = setInterval(() => this.tick(this.now()), TICK_MS).unref();
  }

  /** Stops the hub's timer. */
  stop(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Connections currently conflated (over the soft watermark). */
  get slowConnectionCount(): number {
    return this.#delivery.slow.size;
  }

  /** Bytes accepted for sending but not yet written to the kernel, over all connections (for /metrics). */
  bufferedBytes(): number {
    let total = 0;
    for (const session of this.#sessions) if (!session.closed) total += session.sink.bufferedBytes();
    return total;
  }

  /** Registers a new connection. */
  open(sink: FrameSink, encoding: Encoding): Session {
    const session = new Session(encoding, sink, this.options.controlBurst, this.now());
    if (this.#delivery.capIntervalMs > 0) session.mode |= SessionMode.RATED;
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
    session.pending = session.held = session.rates = null;
    this.#delivery.slow.delete(session);
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
      if (session.mode !== 0) {
        this.#delivery.deliver(session, topic, event);
        continue;
      }
      session.outbox.push(session.isBinary ? event.msgpack : event.json);
      if (!session.queued) this.#queue(session);
    }
  }

  /**
   * The socket's send buffer went down (the WebSocket layer's drain callback): a conflated session
   * back at or under the soft watermark gets its pending latest values now.
   */
  drained(session: Session): void {
    this.#delivery.drained(session);
  }

  /**
   * The hub's clock tick (every {@link TICK_MS} ms): rated updates that are due, slow sockets (release
   * when drained, close past the limits), heartbeats.
   */
  tick(nowMs: number): void {
    this.#delivery.tick(nowMs);
    if (this.options.heartbeatMs > 0 && nowMs >= this.#nextHeartbeatMs) {
      this.#nextHeartbeatMs = nowMs + this.options.heartbeatMs;
      this.#heartbeat();
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
    if (!this.#admit(session, this.now())) {
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
      case "subscribe":
        this.#subscribe(session, request);
        return;
      case "unsubscribe": {
        const result = this.table.remove(session, request.topics);
        for (const e of result.errors) this.stats.countClientError(e.code);
        if (result.removed.length > 0) this.#delivery.unsubscribed(session, result.removed);
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

  /** Reply, then (unless `snapshot` is false) the snapshot sequence ({@link Snapshots}), then live. */
  #subscribe(session: Session, request: Request & { method: "subscribe" }): void {
    const result = this.table.add(session, request.topics);
    if (!result.ok) {
      this.#error(session, request.id, result.code, result.msg);
      return;
    }
    for (const e of result.errors) this.stats.countClientError(e.code);
    const policy = this.#delivery.policyOf(request.maxHz, request.onSlow);
    if (result.added.length > 0) this.#delivery.setPolicies(session, result.added, policy);
    const reply: Record<string, unknown> = { subscribed: result.added, errors: result.errors };
    if (policy !== undefined && policy.hz > 0) reply["maxHz"] = policy.hz;
    this.#control(session, { id: request.id, result: reply });
    // Publish never runs inside this call, so anything published later is queued after the snapshot.
    if (request.snapshot) this.#snapshots.send(session, request.id, result.added, result.entered);
  }

  /** Every connection gets its counters; queued outboxes are written first so `sent` is exact. */
  #heartbeat(): void {
    this.#flushQueued();
    const ts = nowMicros();
    for (const session of this.#sessions) {
      if (session.closed || (session.mode & SessionMode.HOLDING) !== 0) continue;
      this.#control(session, {
        e: "heartbeat",
        ts,
        sent: session.eventsSent,
        conflated: session.eventsConflated,
        dropped: session.eventsDropped,
      });
    }
    this.stats.heartbeats++;
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
    const frame = new ControlFrame(encodeControl(message, session.encoding));
    if ((session.mode & SessionMode.HOLDING) !== 0) {
      (session.held as Held[]).push(frame);
      return;
    }
    session.outbox.push(frame);
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
    this.#writer.flush(session);
  }

  #flushQueued(): void {
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
}
