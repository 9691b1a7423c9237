import {
  encodeControl,
  nowMicros,
  type ControlMessage,
  type MarketEvent,
  type RequestId,
} from "../protocol/index.ts";
import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { LastValues } from "./last-values.ts";
import type { Outboxes } from "./outboxes.ts";
import {
  ControlFrame,
  SessionMode,
  SnapshotWait,
  frameOf,
  type Held,
  type HeldEvent,
  type Session,
  type Topic,
} from "./session.ts";
import type { FeedState } from "./feed-state.ts";
import type { HubStats } from "./stats.ts";

/** Frames a session may hold while its snapshot waits for history; past it the wait ends at once. */
export const MAX_HELD_FRAMES = 8192;

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

/** What snapshots work with: each a typed part built before it (no closures, no late assignment). */
export interface SnapshotParts {
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly stats: HubStats;
  readonly outboxes: Outboxes;
  readonly lastValues: LastValues;
  /** Feed history; undefined = none (snapshots come from the gateway's cache only). */
  readonly history: HistorySource | undefined;
  /** The feed's state: snapshots the gateway cannot vouch for are flagged STALE. */
  readonly feed: FeedState;
}

/**
 * The snapshot sequence of a subscribe: each newly matched topic's last value flagged SNAPSHOT, then
 * `snapshot_end` (with `missing`), then live. Values from the gateway's cache go out at once. When
 * some topics may only be in the feed history, the session's later frames (live events, replies) are
 * held until history answers, bounded by `historyTimeoutMs` and MAX_HELD_FRAMES, then released in order.
 * Owns the HOLDING mode bit and the session's `held` and `waiting`: while a session holds, its control
 * frames ({@link control}) and data events ({@link holdEvent}) queue here instead of in the outbox.
 */
export class Snapshots {
  readonly #table: SubscriptionTable<Session, EncodedEvent>;
  readonly #stats: HubStats;
  readonly #outboxes: Outboxes;
  readonly #lastValues: LastValues;
  readonly #history: HistorySource | undefined;
  readonly #feed: FeedState;

  constructor(
    /** Longest wait for feed history, ms, before a snapshot completes without it. */
    private readonly historyTimeoutMs: number,
    parts: SnapshotParts,
  ) {
    this.#table = parts.table;
    this.#stats = parts.stats;
    this.#outboxes = parts.outboxes;
    this.#lastValues = parts.lastValues;
    this.#history = parts.history;
    this.#feed = parts.feed;
  }

  /**
   * Queues a control reply or control event in the session's order: held while a snapshot of an
   * earlier subscribe waits for history, else into the outbox.
   */
  control(session: Session, message: ControlMessage): void {
    const frame = new ControlFrame(encodeControl(message, session.encoding));
    if ((session.mode & SessionMode.HOLDING) !== 0) {
      (session.held as Held[]).push(frame);
      return;
    }
    this.#outboxes.enqueueControl(session, frame);
  }

  /** Holds one data event of a holding session; past MAX_HELD_FRAMES its waits end at once. */
  holdEvent(session: Session, topic: Topic, frame: Uint8Array | string): void {
    const held = session.held as Held[];
    held.push({ topic, frame });
    if (held.length > MAX_HELD_FRAMES) this.#overflowed(session);
  }

  /** The session is closed: what it held goes. */
  forget(session: Session): void {
    session.held = null;
  }

  /** Runs after the subscribe reply was queued; `added` are the request's patterns, `entered` its new topics. */
  send(session: Session, id: RequestId, added: readonly string[], entered: readonly Topic[]): void {
    const concrete = added.filter((p) => !p.includes("*") && !p.includes(">"));
    const wait = new SnapshotWait(id, concrete, added);
    for (const topic of entered) {
      const last = topic.last;
      if (last === undefined) continue;
      this.#emitSnapshot(session, topic, this.#feed.snapshotOf(last));
      wait.sent.add(topic);
    }
    const askHistory =
      this.#history === undefined
        ? []
        : added.filter((p) => !concrete.includes(p) || this.#table.find(p)?.last === undefined);
    if (askHistory.length === 0) {
      this.control(session, this.#snapshotEnd(wait, undefined));
      return;
    }
    this.#hold(session, wait);
    void this.#askHistory(session, wait, askHistory);
  }

  /**
   * A snapshot event: held behind a snapshot wait, else straight into the outbox even while conflating,
   * so that it arrives before its `snapshot_end` (a control frame). The topic was not subscribed before
   * the request, so no older value of it is pending.
   */
  #emitSnapshot(session: Session, topic: Topic, event: EncodedEvent): void {
    if ((session.mode & SessionMode.HOLDING) !== 0) {
      this.holdEvent(session, topic, frameOf(session, event));
      return;
    }
    this.#outboxes.enqueueEvent(session, frameOf(session, event));
  }

  /** Ends every wait of a session that holds too many frames; their history answers are ignored. */
  #overflowed(session: Session): void {
    this.#stats.historyOverflows++;
    if (session.waiting !== undefined) session.waiting.done = true;
    for (const item of session.held ?? []) if (item instanceof SnapshotWait) item.done = true;
    this.#advance(session);
  }

  /** Starts holding the session's frames behind `wait` (or queues `wait` behind the one holding it). */
  #hold(session: Session, wait: SnapshotWait): void {
    if ((session.mode & SessionMode.HOLDING) !== 0) {
      (session.held as Held[]).push(wait);
      return;
    }
    session.mode |= SessionMode.HOLDING;
    session.held = [];
    session.waiting = wait;
  }

  async #askHistory(session: Session, wait: SnapshotWait, patterns: readonly string[]): Promise<void> {
    const history = this.#history as HistorySource;
    const wanted = (name: string): boolean => this.#table.find(name)?.last === undefined;
    this.#stats.historyLookups++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.historyTimeoutMs);
    });
    const answers = await Promise.race([
      Promise.all(patterns.map((p) => history.lastValues(p, p.split("."), wanted))),
      timeout,
    ]);
    clearTimeout(timer);
    if (answers === undefined) this.#stats.historyTimeouts++;
    if (wait.done || session.closed) return;
    wait.values = answers?.flat() ?? [];
    wait.done = true;
    this.#advance(session);
  }

  /**
   * Completes the snapshot at the head, then releases held frames in order up to the next wait that is
   * not done; repeats while the head is done.
   */
  #advance(session: Session): void {
    while (session.waiting?.done === true) {
      const wait = session.waiting;
      const held = session.held as Held[];
      let next = held.findIndex((item) => item instanceof SnapshotWait);
      if (next < 0) next = held.length;
      const live = new Set<Topic>();
      for (let i = 0; i < next; i++) {
        const item = held[i] as HeldEvent | ControlFrame;
        if (!(item instanceof ControlFrame)) live.add(item.topic);
      }
      session.mode &= ~SessionMode.HOLDING;
      this.#complete(session, wait, live);
      for (let i = 0; i < next; i++) {
        const item = held[i] as HeldEvent | ControlFrame;
        if (item instanceof ControlFrame) this.#outboxes.enqueueControl(session, item);
        else this.#outboxes.enqueueEvent(session, item.frame);
      }
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
  #complete(session: Session, wait: SnapshotWait, live: ReadonlySet<Topic>): void {
    const ts = nowMicros();
    for (const value of wait.values) {
      const topic = this.#table.topic(value.t);
      if (this.#lastValues.seed(topic, value, ts)) this.#stats.historyValues++;
      const last = topic.last as EncodedEvent;
      if (wait.sent.has(topic) || live.has(topic) || !topic.subscribers.has(session)) continue;
      this.#emitSnapshot(session, topic, this.#feed.snapshotOf(last));
      wait.sent.add(topic);
    }
    this.control(session, this.#snapshotEnd(wait, live));
  }

  /** snapshot_end, listing the concrete topics of the subscribe that have no value yet. */
  #snapshotEnd(wait: SnapshotWait, live: ReadonlySet<Topic> | undefined): ControlMessage {
    const missing = wait.concrete.filter((pattern) => {
      const topic = this.#table.find(pattern);
      return topic === undefined || (topic.last === undefined && live?.has(topic) !== true);
    });
    return missing.length > 0
      ? { e: "snapshot_end", id: wait.id, missing }
      : { e: "snapshot_end", id: wait.id };
  }
}
