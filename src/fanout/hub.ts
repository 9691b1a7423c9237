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
  type MarketEvent,
  type Request,
  type RequestId,
} from "../protocol/index.ts";
import { SubscriptionTable, type InterestListener } from "../subscriptions/index.ts";
import { EncodedEvent } from "./encoded-event.ts";
import { OutboxWriter } from "./outbox-writer.ts";
import { RateWheel, TICK_MS, intervalFor, policyOf } from "./rate-limit.ts";
import {
  ControlFrame,
  RateState,
  Session,
  SessionMode,
  SnapshotWait,
  type HeldEvent,
  type PendingUpdate,
  type SubscriptionPolicy,
  type Topic,
} from "./session.ts";
import type { FrameSink } from "./sink.ts";
import { HubStats, closeReasonOf } from "./stats.ts";

/** Publishes between two sweeps of cached slab views: ~2 slabs of ~93-byte events. */
const SWEEP_EVERY_PUBLISHES = 4096;
/** Frames a session may hold while its snapshot waits for history; past it the wait ends at once. */
const MAX_HELD_FRAMES = 8192;

/**
 * Where snapshots of topics the gateway has not seen come from: the feed history (JetStream's last
 * message per subject). Implemented by ingest/; the fan-out only awaits it.
 */
export interface HistorySource {
  /**
   * The last stored update of every topic matching `pattern` for which `wanted(topic)` is true; `q` and
   * `ts` are ignored. Never rejects: a failure resolves to what was found (and is counted by the source).
   */
  lastValues(
    pattern: string,
    tokens: readonly string[],
    wanted: (topic: string) => boolean,
  ): Promise<readonly MarketEvent[]>;
}

export interface HubOptions {
  /** Patterns one connection may hold (default 1024); a subscribe past it is refused whole. */
  readonly maxTopicsPerConnection: number;
  /** Soft watermark: over this many unsent bytes a socket is conflated (latest value per topic). */
  readonly slowSoftBytes: number;
  /** Hard watermark: over this many unsent bytes a socket is closed with 4007 at the next tick. */
  readonly slowHardBytes: number;
  /** A socket over the soft watermark this long without draining under it is closed with 4007. */
  readonly slowCloseMs: number;
  /** Reconnect hint in the 4007 close reason. */
  readonly retryAfterMs: number;
  /** Heartbeat period, ms; 0 = no heartbeats. */
  readonly heartbeatMs: number;
  /** The gateway's cap on events per second per topic for every subscription; 0 = none. */
  readonly maxHz: number;
  /** Longest wait for feed history before a snapshot completes without it. */
  readonly historyTimeoutMs: number;
  /** Control messages per second per connection, sustained. */
  readonly controlRatePerSec: number;
  /** Control messages a connection may send in a burst; also the refusals tolerated before closing. */
  readonly controlBurst: number;
}

export type { Topic } from "./session.ts";

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
  readonly #capIntervalMs: number;
  readonly #wheel = new RateWheel();
  readonly #due: RateState[] = [];
  /** Sessions over the soft watermark. */
  readonly #slow = new Set<Session>();
  #nextHeartbeatMs: number;
  readonly #ticker: NodeJS.Timeout;

  constructor(
    private readonly options: HubOptions,
    interest: InterestListener,
    private readonly history: HistorySource | undefined = undefined,
    /** Monotonic clock in ms; tests pass their own and call {@link tick}. */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.table = new SubscriptionTable<Session, EncodedEvent>(interest, options.maxTopicsPerConnection);
    this.#writer = new OutboxWriter(this.stats, options.slowSoftBytes, (session) =>
      this.#becameSlow(session),
    );
    this.#capIntervalMs = options.maxHz > 0 ? 1000 / options.maxHz : 0;
    this.#nextHeartbeatMs = now() + options.heartbeatMs;
    // One timer for rated updates, slow sockets and heartbeats; unref'd so it never keeps a process up.
    this.#ticker = setInterval(() => this.tick(this.now()), TICK_MS).unref();
  }

  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Connections currently conflated (over the soft watermark). */
  get slowConnectionCount(): number {
    return this.#slow.size;
  }

  /** Bytes accepted for sending but not yet written to the kernel, over all connections (for /metrics). */
  bufferedBytes(): number {
    let total = 0;
    for (const session of this.#sessions) if (!session.closed) total += session.sink.bufferedBytes();
    return total;
  }

  /** Stops the hub's timer (rated updates, slow-socket checks, heartbeats). */
  dispose(): void {
    clearInterval(this.#ticker);
  }

  /** Registers a new connection. */
  open(sink: FrameSink, encoding: Encoding): Session {
    const session = new Session(encoding, sink, this.options.controlBurst, this.now());
    if (this.#capIntervalMs > 0) session.mode |= SessionMode.RATED;
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
    this.#slow.delete(session);
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
        this.#deliver(session, topic, event);
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
    if ((session.mode & SessionMode.CONFLATING) === 0 || session.closed) return;
    if (session.sink.bufferedBytes() <= this.options.slowSoftBytes) this.#releaseConflated(session);
  }

  /**
   * The hub's clock tick (every {@link TICK_MS} ms): rated updates that are due, slow sockets (release
   * when drained, close past the limits), heartbeats.
   */
  tick(nowMs: number): void {
    const due = this.#due;
    this.#wheel.takeDue(nowMs, due);
    for (let i = 0; i < due.length; i++) this.#sendDue(due[i] as RateState, nowMs);
    due.length = 0;
    for (const session of this.#slow) this.#checkSlow(session, nowMs);
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
        if (result.removed.length > 0) this.#setPolicies(session, result.removed, undefined);
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
   * Reply, snapshot events, snapshot_end, then live. Snapshots from the gateway's cache go out at once;
   * publish never runs inside this call, so anything published later is queued after snapshot_end and
   * its q follows the snapshot's. When some topics may only be in the feed history, the session's later
   * frames are held until history answers (bounded by `historyTimeoutMs` and MAX_HELD_FRAMES).
   */
  #subscribe(session: Session, request: Request & { method: "subscribe" }): void {
    const result = this.table.add(session, request.topics);
    if (!result.ok) {
      this.#error(session, request.id, result.code, result.msg);
      return;
    }
    for (const e of result.errors) this.stats.countClientError(e.code);
    const policy = policyOf(request.maxHz, this.options.maxHz, request.onSlow === "disconnect");
    if (result.added.length > 0) this.#setPolicies(session, result.added, policy);
    const reply: Record<string, unknown> = { subscribed: result.added, errors: result.errors };
    if (policy !== undefined && policy.intervalMs > 0) reply["maxHz"] = 1000 / policy.intervalMs;
    this.#control(session, { id: request.id, result: reply });
    if (!request.snapshot) return;

    const concrete = result.added.filter((p) => !p.includes("*") && !p.includes(">"));
    const wait = new SnapshotWait(request.id, concrete, result.added);
    for (const topic of result.entered) {
      const last = topic.last;
      if (last === undefined) continue;
      this.#emit(session, topic, last.snapshot, 1);
      wait.sent.add(topic);
    }
    const askHistory =
      this.history === undefined
        ? []
        : result.added.filter((p) => !concrete.includes(p) || this.table.find(p)?.last === undefined);
    if (askHistory.length === 0) {
      this.#control(session, this.#snapshotEnd(wait, undefined));
      return;
    }
    this.#hold(session, wait);
    void this.#askHistory(session, wait, askHistory);
  }

  /** Records the options of `patterns` (undefined = defaults) and sets the session's RATED bit. */
  #setPolicies(session: Session, patterns: readonly string[], policy: SubscriptionPolicy | undefined): void {
    if (policy === undefined && session.policies === null) return;
    const policies = (session.policies ??= new Map<string, SubscriptionPolicy>());
    for (const pattern of patterns) {
      if (policy === undefined) policies.delete(pattern);
      else policies.set(pattern, policy);
    }
    session.policyEpoch++;
    let rated = this.#capIntervalMs > 0;
    for (const p of policies.values()) rated ||= p.intervalMs > 0;
    if (rated) session.mode |= SessionMode.RATED;
    else session.mode &= ~SessionMode.RATED;
    // Rate states of topics no longer subscribed go (their pending update with them).
    if (session.rates !== null) {
      for (const topic of session.rates.keys())
        if (!topic.subscribers.has(session)) session.rates.delete(topic);
    }
  }

  /** The off-fast-path delivery of one update to one session: rate limit, then {@link #emit}. */
  #deliver(session: Session, topic: Topic, event: EncodedEvent): void {
    if ((session.mode & SessionMode.RATED) !== 0) {
      const state = this.#rateState(session, topic);
      if (state.intervalMs > 0) {
        this.#rated(state, event);
        return;
      }
    }
    this.#emit(session, topic, event, 1);
  }

  #rateState(session: Session, topic: Topic): RateState {
    const rates = (session.rates ??= new Map<Topic, RateState>());
    let state = rates.get(topic);
    if (state === undefined || state.epoch !== session.policyEpoch) {
      const interval = intervalFor(session, this.table.patternsOf(session), topic, this.#capIntervalMs);
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
        this.#emit(state.session, state.topic, event, 1);
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
    this.#emit(session, topic, pending, merged);
  }

  /**
   * Puts one update (standing for `n` updates of its topic) where the session's mode says: held behind
   * a snapshot wait, merged into the conflation map, or into the outbox.
   */
  #emit(session: Session, topic: Topic, event: EncodedEvent, n: number): void {
    const mode = session.mode;
    if ((mode & SessionMode.HOLDING) !== 0) {
      const held = session.held as (HeldEvent | ControlFrame | SnapshotWait)[];
      held.push({ topic, frame: n > 1 ? event.conflated(n, session.isBinary) : frameOf(session, event) });
      if (held.length > MAX_HELD_FRAMES) this.#stopWaiting(session);
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
    if (!session.queued) this.#queue(session);
  }

  /** Called by the writer when a socket is over the soft watermark after a write. */
  #becameSlow(session: Session): void {
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
    this.#slow.add(session);
  }

  #checkSlow(session: Session, nowMs: number): void {
    if (session.closed) {
      this.#slow.delete(session);
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
    this.#slow.delete(session);
    session.sink.close(
      CloseCode.SLOW_CONSUMER,
      JSON.stringify({ msg: `slow consumer: ${why}`, retryAfterMs: this.options.retryAfterMs }),
    );
  }

  /** Back under the soft watermark: the latest value of every topic merged meanwhile goes out now. */
  #releaseConflated(session: Session): void {
    this.#slow.delete(session);
    session.mode &= ~SessionMode.CONFLATING;
    const pending = session.pending;
    session.pending = null;
    if (pending === null) return;
    for (const [topic, update] of pending) {
      // A topic unsubscribed meanwhile is not sent (nor counted: the client no longer wants it).
      if (topic.subscribers.has(session)) this.#emit(session, topic, update.event, update.n);
    }
    this.#flushNow(session);
  }

  /** Starts holding the session's frames behind `wait` (or queues `wait` behind the one holding it). */
  #hold(session: Session, wait: SnapshotWait): void {
    if ((session.mode & SessionMode.HOLDING) !== 0) {
      (session.held as (HeldEvent | ControlFrame | SnapshotWait)[]).push(wait);
      return;
    }
    session.mode |= SessionMode.HOLDING;
    session.held = [];
    session.waiting = wait;
  }

  async #askHistory(session: Session, wait: SnapshotWait, patterns: readonly string[]): Promise<void> {
    const history = this.history as HistorySource;
    const wanted = (name: string): boolean => this.table.find(name)?.last === undefined;
    this.stats.historyLookups++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.options.historyTimeoutMs);
    });
    const answers = await Promise.race([
      Promise.all(patterns.map((p) => history.lastValues(p, p.split("."), wanted))),
      timeout,
    ]);
    clearTimeout(timer);
    if (answers === undefined) this.stats.historyTimeouts++;
    if (wait.done || session.closed) return;
    wait.values = answers?.flat() ?? [];
    wait.done = true;
    this.#advance(session);
  }

  /** Ends every wait of a session that holds too many frames; their history answers are ignored. */
  #stopWaiting(session: Session): void {
    this.stats.historyOverflows++;
    if (session.waiting !== undefined) session.waiting.done = true;
    for (const item of session.held ?? []) if (item instanceof SnapshotWait) item.done = true;
    this.#advance(session);
  }

  /**
   * Completes the snapshot at the head, then releases held frames in order up to the next wait that is
   * not done; repeats while the head is done.
   */
  #advance(session: Session): void {
    while (session.waiting?.done === true) {
      const wait = session.waiting;
      const held = session.held as (HeldEvent | ControlFrame | SnapshotWait)[];
      let next = held.findIndex((item) => item instanceof SnapshotWait);
      if (next < 0) next = held.length;
      const live = new Set<Topic>();
      for (let i = 0; i < next; i++) {
        const item = held[i];
        if (item !== undefined && !(item instanceof ControlFrame) && !(item instanceof SnapshotWait))
          live.add(item.topic);
      }
      session.mode &= ~SessionMode.HOLDING;
      this.#completeSnapshot(session, wait, live);
      for (let i = 0; i < next; i++) {
        const item = held[i] as HeldEvent | ControlFrame;
        if (item instanceof ControlFrame) {
          session.outbox.push(item);
          session.controlQueued++;
        } else {
          session.outbox.push(item.frame);
        }
      }
      if (!session.queued && session.outbox.length > 0) this.#queue(session);
      const rest = held[next];
      if (rest instanceof SnapshotWait) {
        session.mode |= SessionMode.HOLDING;
        session.held = held.slice(next + 1);
        session.waiting = rest;
      } else {
        session.held = null;
        session.waiting = undefined;
      }
    }
  }

  /**
   * History values become the last value of topics that still have none (q = the topic's current
   * sequence, 0 before any live update, so live events continue at q + 1); each topic of the subscribe
   * not sent yet and with no live event waiting gets its snapshot; then snapshot_end.
   */
  #completeSnapshot(session: Session, wait: SnapshotWait, live: ReadonlySet<Topic>): void {
    const ts = nowMicros();
    for (const value of wait.values) {
      const topic = this.table.topic(value.t);
      if (topic.last === undefined) {
        topic.last = EncodedEvent.standalone({ ...value, q: topic.seq, ts });
        this.stats.historyValues++;
      }
      const last = topic.last;
      if (wait.sent.has(topic) || live.has(topic) || !topic.subscribers.has(session)) continue;
      this.#emit(session, topic, last.snapshot, 1);
      wait.sent.add(topic);
    }
    this.#control(session, this.#snapshotEnd(wait, live));
  }

  /** snapshot_end, listing the concrete topics of the subscribe that have no value yet. */
  #snapshotEnd(wait: SnapshotWait, live: ReadonlySet<Topic> | undefined): ControlMessage {
    const missing = wait.concrete.filter((pattern) => {
      const topic = this.table.find(pattern);
      return topic === undefined || (topic.last === undefined && live?.has(topic) !== true);
    });
    return missing.length > 0
      ? { e: "snapshot_end", id: wait.id, missing }
      : { e: "snapshot_end", id: wait.id };
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
      (session.held as (HeldEvent | ControlFrame | SnapshotWait)[]).push(frame);
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

function frameOf(session: Session, event: EncodedEvent): Uint8Array | string {
  return session.isBinary ? event.msgpack : event.json;
}
