import type { Encoding } from "../protocol/index.ts";
import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { Delivery } from "./delivery.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { LastValues } from "./last-values.ts";
import type { Outboxes } from "./outboxes.ts";
import { Session, type Topic } from "./session.ts";
import type { FrameSink } from "./sink.ts";
import type { Snapshots } from "./snapshots.ts";
import { closeReasonOf, type HubStats } from "./stats.ts";

/** What the fan-out works with: each a typed part built before it. */
export interface FanoutParts {
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly stats: HubStats;
  /** Monotonic clock, ms. */
  readonly now: () => number;
  readonly outboxes: Outboxes;
  readonly lastValues: LastValues;
  readonly delivery: Delivery;
  readonly snapshots: Snapshots;
}

/**
 * The fan-out: the session registry and publish.
 *
 * Hot path: {@link publish} puts the shared encoded bytes into each subscriber's outbox through
 * {@link Outboxes.enqueueEvent}, which writes them all once per turn inside `cork`. A session with any
 * {@link SessionMode} bit set takes {@link Delivery.deliver} instead, off the fast path.
 */
export class Fanout {
  /** Open sessions. */
  readonly sessions = new Set<Session>();
  readonly #table: SubscriptionTable<Session, EncodedEvent>;
  readonly #stats: HubStats;
  readonly #now: () => number;
  readonly #outboxes: Outboxes;
  readonly #lastValues: LastValues;
  readonly #delivery: Delivery;
  readonly #snapshots: Snapshots;

  constructor(
    /** Control messages a new session may send in a burst (its initial tokens). */
    private readonly controlBurst: number,
    parts: FanoutParts,
  ) {
    this.#table = parts.table;
    this.#stats = parts.stats;
    this.#now = parts.now;
    this.#outboxes = parts.outboxes;
    this.#lastValues = parts.lastValues;
    this.#delivery = parts.delivery;
    this.#snapshots = parts.snapshots;
  }

  /** Registers a new connection. */
  open(sink: FrameSink, encoding: Encoding): Session {
    const session = new Session(encoding, sink, this.controlBurst, this.#now());
    this.#delivery.opened(session);
    this.sessions.add(session);
    this.#stats.connectionsOpened++;
    return session;
  }

  /** The connection is gone (any cause); its subscriptions and queued frames are released. */
  closed(session: Session, code: number): void {
    if (session.closed) return;
    session.closed = true;
    this.#outboxes.discard(session);
    this.#delivery.forget(session);
    this.#snapshots.forget(session);
    this.sessions.delete(session);
    this.#snapshots.left(this.#table.removeAll(session));
    this.#stats.countClose(closeReasonOf(code));
  }

  /**
   * Queues one encoded update for every subscriber of its topic, and keeps it as the topic's last value
   * for the snapshots of later subscribes (also when nobody subscribes right now).
   */
  publish(topic: Topic, event: EncodedEvent): void {
    this.#lastValues.remember(topic, event);
    const subscribers = topic.list;
    if (subscribers.length === 0) {
      this.#stats.eventsUnrouted++;
      return;
    }
    this.#stats.eventsRouted++;
    const outboxes = this.#outboxes;
    for (let i = 0; i < subscribers.length; i++) {
      const session = subscribers[i] as Session;
      if (session.mode !== 0) {
        this.#delivery.deliver(session, topic, event);
        continue;
      }
      outboxes.enqueueEvent(session, session.isBinary ? event.msgpack : event.json);
    }
  }

  /** Bytes accepted for sending but not yet written to the kernel, over all connections. */
  bufferedBytes(): number {
    let total = 0;
    for (const session of this.sessions) if (!session.closed) total += session.sink.bufferedBytes();
    return total;
  }

  /** Writes pending frames and closes every connection with `code` (shutdown, drain). */
  closeAll(code: number, reason: string): void {
    this.#outboxes.flushQueued();
    for (const session of [...this.sessions]) session.sink.close(code, reason);
  }
}
