import { HubWiringError } from "../errors/index.ts";
import type { Encoding } from "../protocol/index.ts";
import { reanchorClock } from "../protocol/index.ts";
import { SubscriptionTable, type InterestListener } from "../subscriptions/index.ts";
import type { Authenticator } from "./access-state.ts";
import { Conflation } from "./conflation.ts";
import { TopicDirectory } from "./topic-directory.ts";
import { ControlPlane, type ControlOptions } from "./control-plane.ts";
import { Delivery, type DeliveryOptions } from "./delivery.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import { Fanout } from "./fanout.ts";
import { FeedState } from "./feed-state.ts";
import { Heartbeats } from "./heartbeats.ts";
import { LagProbes, type LagOptions } from "./lag-probes.ts";
import { LastValues } from "./last-values.ts";
import { Outboxes } from "./outboxes.ts";
import { RateWheel, TICK_MS } from "./rate-limit.ts";
import type { Session, Topic } from "./session.ts";
import type { FrameSink } from "./sink.ts";
import { Snapshots, type HistorySource } from "./snapshots.ts";
import { HubStats } from "./stats.ts";
import { CacheBound, DEFAULT_MAX_TOPICS, type InFlight } from "./cache-bound.ts";
import { DEFAULT_HISTORY_LOOKUPS_PER_CONNECTION, HistorySlots } from "./history-slots.ts";

/** The fan-out's options; the resolved config's fields of the same names (units in the names). */
export interface HubOptions extends DeliveryOptions, ControlOptions, LagOptions {
  /** Patterns one connection may hold (default 1024); a subscribe past it is refused whole. */
  readonly maxTopicsPerConnection: number;
  /** Heartbeat period, ms (default 1000); 0 = no heartbeats. */
  readonly heartbeatMs: number;
  /** Longest wait for feed history, ms, before a snapshot completes without it. */
  readonly historyTimeoutMs: number;
  /** Values one subscribe's snapshot carries at most (default 10000); past it `snapshot_end` says `truncated`. */
  readonly maxSnapshotValues?: number;
  /**
   * Topics kept at most (default 100000); past it the least recently updated topics nobody holds by exact
   * name are forgotten (cache-bound.ts).
   */
  readonly maxTopics?: number;
  /** Feed-history lookups one connection may have in flight (default 4); more wait for its own (history-slots.ts). */
  readonly maxHistoryLookupsPerConnection?: number;
}

/** What the hub is attached to in the second wiring phase. */
export interface HubLinks {
  /** Told when a pattern gains its first subscriber or loses its last (the ingest's NATS interest). */
  readonly interest: InterestListener;
  /** Feed history for snapshots of topics the gateway has no value for; omitted = none. */
  readonly history?: HistorySource | undefined;
  /** Token verification for `--auth jwt` (the node's adapter over src/auth); omitted = `--auth none`. */
  readonly authenticator?: Authenticator | undefined;
}

export type { Topic } from "./session.ts";
export type { HistorySource } from "./snapshots.ts";

/** The parts, built by {@link Hub.attach} in dependency order; none refers to one built after it. */
interface Parts {
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly fanout: Fanout;
  readonly control: ControlPlane;
  readonly delivery: Delivery;
  readonly conflation: Conflation;
  readonly cacheBound: CacheBound;
  readonly inFlight: InFlight;
  readonly historySlots: HistorySlots;
  readonly heartbeats: Heartbeats;
  readonly probes: LagProbes;
  readonly snapshots: Snapshots;
}

/**
 * The fan-out's entry point, a facade over its parts: {@link Fanout} (sessions, publish) writing through
 * {@link Outboxes} (the one door into an outbox, and the per-turn flush), {@link ControlPlane} (admit,
 * decode, the table of request handlers), {@link Delivery} (maxHz) with {@link Conflation} (slow
 * consumers) and {@link Snapshots}, {@link LastValues} (the last-value cache) and {@link Heartbeats}.
 *
 * Lifecycle in three steps, none with side effects before the last: `new Hub(options)` stores the
 * options; {@link attach} builds the parts around the NATS interest listener and feed history;
 * {@link start} starts the one timer (rated updates, slow sockets, heartbeats), {@link stop} stops it.
 */
export class Hub {
  readonly stats = new HubStats();
  /** The feed's state (up until {@link setFeed} says otherwise). */
  readonly feed = new FeedState();
  #parts: Parts | undefined;
  #ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: HubOptions,
    /** Monotonic clock in ms; tests pass their own and call {@link tick}. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Second wiring phase: builds the parts around `links`. Once, before {@link start} and any connection. */
  attach(links: HubLinks): void {
    if (this.#parts !== undefined) throw new HubWiringError("hub attached twice");
    const { options, stats, now } = this;
    const table = new SubscriptionTable<Session, EncodedEvent>(
      links.interest,
      options.maxTopicsPerConnection,
    );
    const conflation = new Conflation(options, stats, now);
    const outboxes = new Outboxes(stats, options.slowSoftBytes, conflation, now);
    const lastValues = new LastValues();
    const wheel = new RateWheel();
    const inFlight: InFlight = { scheduledRates: () => wheel.scheduled(), conflating: () => conflation.slow };
    const cacheBound = new CacheBound(
      options.maxTopics ?? DEFAULT_MAX_TOPICS,
      table,
      lastValues,
      stats,
      inFlight,
    );
    const historySlots = new HistorySlots(
      options.maxHistoryLookupsPerConnection ?? DEFAULT_HISTORY_LOOKUPS_PER_CONNECTION,
      stats,
    );
    const snapshots = new Snapshots(options.historyTimeoutMs, {
      table,
      cacheBound,
      stats,
      outboxes,
      lastValues,
      conflation,
      history: links.history,
      maxValues: options.maxSnapshotValues,
      historySlots,
      feed: this.feed,
    });
    const delivery = new Delivery(options, { stats, table, now, outboxes, conflation, snapshots, wheel });
    const fanout = new Fanout(options.controlBurst, {
      table,
      stats,
      now,
      outboxes,
      lastValues,
      delivery,
      snapshots,
    });
    const directory = new TopicDirectory(table, links.history, options.historyTimeoutMs, historySlots);
    const control = new ControlPlane(options, {
      table,
      stats,
      now,
      outboxes,
      delivery,
      snapshots,
      authenticator: links.authenticator,
      directory,
    });
    const probes = new LagProbes(options, {
      stats,
      conflation,
      sessions: fanout.sessions,
      now,
      caughtUp: (session) => delivery.drained(session),
    });
    const heartbeats = new Heartbeats(options.heartbeatMs, outboxes, stats, probes, now(), this.feed);
    this.#parts = {
      table,
      fanout,
      control,
      delivery,
      conflation,
      heartbeats,
      probes,
      cacheBound,
      inFlight,
      historySlots,
      snapshots,
    };
  }

  /** Starts the hub's timer (every {@link TICK_MS} ms, unref'd so it never keeps a process up). */
  start(): void {
    this.#wired();
    if (this.#ticker !== undefined) return;
    this.#ticker = setInterval(() => this.tick(this.now()), TICK_MS).unref();
  }

  /** Stops the hub's timer; connections stay (see {@link closeAll}). */
  stop(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  /** The subscription table (patterns, topics, subscriber counts). */
  get table(): SubscriptionTable<Session, EncodedEvent> {
    return this.#wired().table;
  }
  /** The per-topic state in flight (held-back rated updates, conflated values): what the cache bound may not evict. */
  get inFlight(): InFlight {
    return this.#wired().inFlight;
  }

  /** Open connections (0 before {@link attach}). */
  get connectionCount(): number {
    return this.#parts?.fanout.sessions.size ?? 0;
  }

  /** Connections currently conflated (over the soft watermark, or lagging). */
  get slowConnectionCount(): number {
    return this.#parts?.conflation.slow.size ?? 0;
  }

  /** Connections currently conflated because they lag (a probe late past max-lag-ms, or behind on bytes). */
  get laggingConnectionCount(): number {
    return this.#parts?.conflation.laggingCount ?? 0;
  }

  /** Whether the hub runs lag probes (the gateway then turns the WebSocket layer's own pings off). */
  get probesEnabled(): boolean {
    return this.options.probeIntervalMs > 0;
  }

  /** Rated updates waiting for their time under `maxHz` (per-connection state that must go with it). */
  get pendingRatedCount(): number {
    return this.#parts?.delivery.pendingRated ?? 0;
  }

  /** Connections with feed-history lookups running or waiting for a slot (per-connection state; history-slots.ts). */
  get historyLookupConnections(): number {
    return this.#parts?.historySlots.connections ?? 0;
  }

  /** Bytes accepted for sending but not yet written to the kernel, over all connections (for /metrics). */
  bufferedBytes(): number {
    return this.#parts?.fanout.bufferedBytes() ?? 0;
  }

  /**
   * Registers a new connection. Under `--auth jwt` it starts unauthenticated; `bearerToken`, from its
   * upgrade's `Authorization: Bearer` header, is then verified at once (frames wait for it).
   */
  open(sink: FrameSink, encoding: Encoding, bearerToken?: string): Session {
    const parts = this.#wired();
    const session = parts.fanout.open(sink, encoding);
    parts.heartbeats.add(session);
    parts.control.access.opened(session);
    if (bearerToken !== undefined) parts.control.access.bearer(session, bearerToken, parts.control);
    if (!this.feed.up) parts.snapshots.control(session, this.feed.event());
    return session;
  }

  /** Whether connections must authenticate (`--auth jwt`): the gateway then reads Bearer tokens. */
  get authenticator(): Authenticator | undefined {
    return this.#parts?.control.access.authenticator;
  }

  /**
   * The feed (the node's NATS connection) went down or came back: every connection gets a `feed` event
   * in its order of frames, and snapshots follow {@link FeedState}. Nothing happens when unchanged.
   */
  setFeed(up: boolean): void {
    if (!this.feed.set(up)) return;
    const parts = this.#parts;
    if (parts === undefined) return;
    const event = this.feed.event();
    for (const session of parts.fanout.sessions) {
      if (!session.closed) parts.snapshots.control(session, event);
    }
  }

  /** The connection is gone (any cause); its subscriptions are released. */
  closed(session: Session, code: number): void {
    const parts = this.#wired();
    parts.control.access.closed(session);
    parts.heartbeats.remove(session);
    parts.fanout.closed(session, code);
  }

  /** Concrete topic entry for ingest: sequence counter plus subscribers. */
  topic(name: string): Topic {
    return this.#wired().cacheBound.topic(name);
  }

  /**
   * Queues one encoded update for every subscriber of its topic and keeps it as the topic's last value
   * (see {@link Fanout.publish}).
   */
  publish(topic: Topic, event: EncodedEvent): void {
    this.#wired().fanout.publish(topic, event);
  }

  /** Handles one client frame: rate limit, decode, dispatch, reply. Never throws on input. */
  receive(session: Session, data: ArrayBuffer, isBinary: boolean): void {
    this.#wired().control.receive(session, data, isBinary);
  }

  /**
   * The socket's send buffer went down (the WebSocket layer's drain callback): a conflated session
   * back at or under the soft watermark gets its pending latest values now.
   */
  drained(session: Session): void {
    this.#wired().delivery.drained(session);
  }

  /** A pong arrived on the connection (the WebSocket layer's pong handler); see {@link LagProbes.pong}. */
  pong(session: Session, payload: ArrayBuffer): void {
    this.#wired().probes.pong(session, payload);
  }

  /** Writes pending frames and closes every connection with `code` (shutdown, drain). */
  closeAll(code: number, reason: string): void {
    this.#parts?.fanout.closeAll(code, reason);
  }

  /**
   * The hub's clock tick (every {@link TICK_MS} ms once started; hub clock, ms): rated updates that are
   * due, lag probes (send, find laggards), slow sockets (release when caught up, close past the limits),
   * heartbeats, the rest of a topic eviction (CacheBound).
   */
  tick(nowMs: number): void {
    const parts = this.#wired();
    parts.probes.tick(nowMs);
    reanchorClock();
    parts.delivery.tick(nowMs);
    parts.heartbeats.tick(nowMs);
    parts.control.access.tick(nowMs);
    parts.cacheBound.settle();
  }

  #wired(): Parts {
    const parts = this.#parts;
    if (parts === undefined) throw new HubWiringError("hub used before attach()");
    return parts;
  }
}
