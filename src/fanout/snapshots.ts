import {
  EventFlag,
  encodeControl,
  nowMicros,
  patternMatches,
  type ControlMessage,
  type MarketEvent,
  type RequestId,
} from "../protocol/index.ts";
import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { CacheBound } from "./cache-bound.ts";
import type { Conflation } from "./conflation.ts";
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
import type { HistorySlots } from "./history-slots.ts";
import type { HubStats } from "./stats.ts";
import { SnapshotBound } from "./snapshot-bound.ts";
import { SNAPSHOT_CHUNK_TOPICS, SnapshotJob, SnapshotPump } from "./snapshot-pump.ts";
import type { TopicWalk } from "../subscriptions/index.ts";

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
  /**
   * Topics with a stored message matching `pattern`, at most `limit` (the discovery request). Never
   * rejects: a failure resolves to what was found (and is counted by the source).
   */
  topics?(pattern: string, tokens: readonly string[], limit: number): Promise<readonly string[]>;
}

/** What snapshots work with: each a typed part built before it (no closures, no late assignment). */
export interface SnapshotParts {
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  /** The topic bound: told after feed-history values created topics (cache-bound.ts). */
  readonly cacheBound?: CacheBound | undefined;
  readonly stats: HubStats;
  readonly outboxes: Outboxes;
  readonly lastValues: LastValues;
  /** Slow-consumer conflation: its pending values of a topic give way to a newer snapshot. */
  readonly conflation: Conflation;
  /** Feed history; undefined = none (snapshots come from the gateway's cache only). */
  readonly history: HistorySource | undefined;
  /** The per-connection bound on feed-history lookups (history-slots.ts), shared with the topic directory. */
  readonly historySlots: HistorySlots;
  /** Values per subscribe at most (snapshot-bound.ts); default DEFAULT_MAX_SNAPSHOT_VALUES. */
  readonly maxValues?: number | undefined;
  /** The feed's state: snapshots the gateway cannot vouch for are flagged STALE. */
  readonly feed: FeedState;
}

/**
 * The snapshot sequence of a subscribe: each newly matched topic's last value flagged SNAPSHOT, then
 * `snapshot_end` (with `missing`), then live. Values from the gateway's cache go out at once. When
 * some topics may only be in the feed history, the session's later frames (live events, replies) are
 * held until history answers, bounded by `historyTimeoutMs` and MAX_HELD_FRAMES, then released in order.
 * Owns the HOLDING mode bit and the session's `held`, `waiting` and `delivered`: while a session holds,
 * its control frames ({@link control}) and data events ({@link holdEvent}) queue here instead of in
 * the outbox.
 *
 * The seam rule (PROTOCOL.md, "Snapshots"): one connection never gets the same (topic, `q`) twice nor
 * a smaller `q` after a larger one. A snapshot is put into the session's stream at one point, with the
 * topic's newest value; every older value of the topic still on its way to the session is then
 * represented by it and goes: a held event at or below the snapshot's `q` is not released (the
 * session's `delivered`, kept while it holds), and a value held back by maxHz or merged by conflation is
 * superseded. Without this, a snapshot completed from history while later subscribes' waits were queued
 * saw only the live events held before the next wait, and repeated (1S, 1) or reversed (2S, 1) the ones
 * held after it (issue 10).
 */
export class Snapshots {
  readonly #table: SubscriptionTable<Session, EncodedEvent>;
  readonly #cacheBound: CacheBound | undefined;
  readonly #stats: HubStats;
  readonly #outboxes: Outboxes;
  readonly #lastValues: LastValues;
  readonly #conflation: Conflation;
  readonly #bound: SnapshotBound;
  readonly #history: HistorySource | undefined;
  readonly #feed: FeedState;
  readonly #pump: SnapshotPump;
  readonly #slots: HistorySlots;
  /** Snapshots still being produced, by their wait (the job lives on in the pump to enter topics). */
  readonly #walking = new WeakMap<SnapshotWait, SnapshotJob>();

  constructor(
    /** Longest wait for feed history, ms, before a snapshot completes without it. */
    private readonly historyTimeoutMs: number,
    parts: SnapshotParts,
  ) {
    this.#table = parts.table;
    this.#cacheBound = parts.cacheBound;
    this.#stats = parts.stats;
    this.#outboxes = parts.outboxes;
    this.#lastValues = parts.lastValues;
    this.#conflation = parts.conflation;
    this.#bound = new SnapshotBound(parts.maxValues);
    this.#history = parts.history;
    this.#feed = parts.feed;
    this.#pump = new SnapshotPump(parts.stats, (job, max) => this.#step(job, max));
    this.#slots = parts.historySlots;
  }

  /** Subscribes whose work (snapshot values, topics to enter) continues in later turns. */
  get pendingJobs(): number {
    return this.#pump.pending;
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

  /**
   * Holds one data event (standing for `n` updates) of a holding session; past MAX_HELD_FRAMES its
   * waits end at once.
   */
  holdEvent(session: Session, topic: Topic, event: EncodedEvent, n: number, carry = 0): void {
    const held = session.held as Held[];
    held.push({ topic, event, n, carry });
    if (held.length > MAX_HELD_FRAMES) this.#overflowed(session);
  }

  /** The session is closed: what it held goes. */
  forget(session: Session): void {
    session.held = null;
    session.delivered = null;
  }

  /**
   * `topics` lost a subscriber (an unsubscribe, a closed connection): those no pattern covers any more
   * are no longer received, so their cached values stop being served ({@link LastValues.lapse}).
   */
  left(topics: readonly Topic[]): void {
    for (const topic of topics) this.#lastValues.lapse(topic);
  }

  /**
   * Runs after the subscribe reply was queued; `added` are the request's patterns, `entered` its new
   * topics, `walks` its new wildcard patterns' topics still to enter (subscription-table.ts). With
   * `snapshot` false only the topics are entered. The first {@link SNAPSHOT_CHUNK_TOPICS} topics are
   * handled now, so a small subscribe completes in this call; the rest go to the pump, one chunk per
   * turn, while the connection's later frames are held as behind a history lookup (issue 11 §2).
   */
  send(
    session: Session,
    id: RequestId,
    added: readonly string[],
    entered: readonly Topic[],
    walks: readonly TopicWalk<Session, EncodedEvent>[] = [],
    snapshot = true,
  ): void {
    if (!snapshot) {
      const enter = new SnapshotJob(session, undefined, entered, [...walks]);
      this.#step(enter, SNAPSHOT_CHUNK_TOPICS);
      this.#pump.add(enter);
      return;
    }
    const concrete = added.filter((p) => !p.includes("*") && !p.includes(">"));
    const wait = new SnapshotWait(id, concrete, added);
    const job = new SnapshotJob(session, wait, entered, [...walks]);
    this.#walking.set(wait, job);
    this.#step(job, SNAPSHOT_CHUNK_TOPICS);
    if (this.#walking.has(wait)) {
      // Too large for one turn: the rest comes from the pump while the session holds.
      this.#hold(session, wait);
      if (session.waiting === wait) this.#pump.add(job);
      return;
    }
    this.#pump.add(job); // topics left to enter, if any
    const askHistory = this.#historyPatterns(wait);
    if (askHistory.length === 0) {
      this.control(session, this.#snapshotEnd(wait, undefined));
      return;
    }
    this.#hold(session, wait);
    void this.#askHistory(session, wait, askHistory);
  }

  /** The patterns of a finished walk to look up in the feed history (none when cut short). */
  #historyPatterns(wait: SnapshotWait): readonly string[] {
    if (this.#history === undefined || this.#bound.truncated(wait)) return [];
    const concrete = wait.concrete;
    return wait.patterns.filter((p) => !concrete.includes(p) || this.#table.find(p)?.last === undefined);
  }

  /**
   * Visits up to `max` topics of `job`: enters the session into its walks' topics and, while its
   * snapshot is being produced, puts each new topic's value into the stream. When the snapshot ends
   * here, the wait moves on (history, or completion).
   */
  #step(job: SnapshotJob, max: number): number {
    const offer = (topic: Topic): void => this.#offer(job, topic);
    let visited = 0;
    while (visited < max && job.next < job.entered.length) {
      visited++;
      offer(job.entered[job.next++] as Topic);
    }
    while (visited < max && job.walks.length > 0) {
      const walk = job.walks[0] as TopicWalk<Session, EncodedEvent>;
      visited += walk.step(max - visited, offer);
      if (walk.done) job.walks.shift();
    }
    if (job.wait !== undefined && job.finished) this.#snapshotWalked(job);
    return visited;
  }

  /** One topic of a job: its snapshot, while the job's snapshot is produced and admits one more. */
  #offer(job: SnapshotJob, topic: Topic): void {
    const wait = job.wait;
    if (wait === undefined) return;
    const last = topic.last;
    const session = job.session;
    if (last === undefined || !topic.subscribers.has(session)) return;
    if (!this.#bound.admits(wait)) {
      this.#snapshotWalked(job);
      return;
    }
    // At the head of the session's waits the value goes straight out (the session holds only for it).
    if (session.waiting === wait) this.#putSnapshot(session, topic, last);
    else this.#emitSnapshot(session, topic, last);
    wait.sent.add(topic);
  }

  /**
   * The job's snapshot has every value it will get from the cache (or was cut): the job only enters
   * topics from now on. A wait that holds its session asks the feed history, or completes.
   */
  #snapshotWalked(job: SnapshotJob): void {
    const wait = job.wait as SnapshotWait;
    job.wait = undefined;
    this.#walking.delete(wait);
    const session = job.session;
    if (session.waiting !== wait && !(session.held ?? []).includes(wait)) return; // send() takes it on
    if (wait.done) return;
    const askHistory = this.#historyPatterns(wait);
    if (askHistory.length > 0) {
      void this.#askHistory(session, wait, askHistory);
      return;
    }
    wait.done = true;
    if (session.waiting === wait) this.#advance(session);
  }

  /**
   * A snapshot event: held behind a snapshot wait, else straight into the outbox even while conflating,
   * so that it arrives before its `snapshot_end` (a control frame). The topic was not subscribed before
   * the request, so no older value of it is pending.
   */
  #emitSnapshot(session: Session, topic: Topic, last: EncodedEvent): void {
    if ((session.mode & SessionMode.HOLDING) !== 0) {
      this.holdEvent(session, topic, this.#feed.snapshotOf(last), 1);
      return;
    }
    this.#putSnapshot(session, topic, last);
  }

  /**
   * Puts the snapshot of `last` (the topic's newest value) into the session's stream here: what older
   * value of the topic maxHz or conflation still keeps for the session is represented by it and goes,
   * and while a hold is being released the session's `delivered` records it.
   */
  #putSnapshot(session: Session, topic: Topic, last: EncodedEvent): void {
    const q = last.event.q;
    session.rates?.get(topic)?.supersede(q);
    this.#conflation.supersede(session, topic, q);
    session.delivered?.set(topic, q);
    this.#outboxes.enqueueEvent(session, frameOf(session, this.#feed.snapshotOf(last)));
  }

  /**
   * Releases one held data event into the stream, unless an event of its topic at the same `q` or a
   * newer one went out since the hold began (a snapshot represents it): a repeat or a step back is
   * never sent. A SNAPSHOT equal to what went out is sent: it answers a subscribe made after an
   * unsubscribe of the topic (PROTOCOL.md). While conflating, an event whose topic has a merged value
   * pending (from before the hold) merges into it, so the older value cannot follow the newer one.
   */
  #release(session: Session, item: HeldEvent): void {
    const { topic, event, n, carry } = item;
    const delivered = session.delivered as Map<Topic, number>;
    const q = event.event.q;
    const before = delivered.get(topic);
    const snapshot = ((event.event.f ?? 0) & EventFlag.SNAPSHOT) !== 0;
    if (before !== undefined && (q < before || (q === before && !snapshot))) {
      if (n > 1) session.eventsConflated -= n - 1;
      return;
    }
    delivered.set(topic, q);
    if ((session.mode & SessionMode.CONFLATING) !== 0 && session.pending?.has(topic) === true) {
      this.#conflation.merge(session, topic, event, n, carry);
      return;
    }
    this.#outboxes.enqueueEvent(session, frameOf(session, event, n, carry));
  }

  /** Ends every wait of a session that holds too many frames; their history answers are ignored. */
  #overflowed(session: Session): void {
    this.#stats.historyOverflows++;
    const waits: SnapshotWait[] = session.waiting === undefined ? [] : [session.waiting];
    for (const item of session.held ?? []) if (item instanceof SnapshotWait) waits.push(item);
    for (const wait of waits) {
      wait.done = true;
      const job = this.#walking.get(wait);
      if (job === undefined) continue;
      // A snapshot still being produced is cut here (snapshot_end says truncated); its topics are still entered.
      this.#bound.cut(wait);
      this.#walking.delete(wait);
      job.wait = undefined;
      this.#pump.add(job);
    }
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
    session.delivered = new Map<Topic, number>();
  }

  async #askHistory(session: Session, wait: SnapshotWait, patterns: readonly string[]): Promise<void> {
    const history = this.#history as HistorySource;
    const wanted = (name: string): boolean => this.#table.find(name)?.last === undefined;
    this.#stats.historyLookups++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.historyTimeoutMs);
    });
    // At most --max-history-lookups-per-connection of the session's patterns are read at once; the
    // others wait for its own slots and are never started once this subscribe stopped waiting.
    let over = false;
    const abandoned = (): boolean => over || wait.done || session.closed;
    const answers = await Promise.race([
      Promise.all(
        patterns.map((p) =>
          this.#slots.run(session, abandoned, () => history.lastValues(p, p.split("."), wanted)),
        ),
      ),
      timeout,
    ]);
    over = true;
    clearTimeout(timer);
    if (answers === undefined) this.#stats.historyTimeouts++;
    if (wait.done || session.closed) return;
    wait.values = answers?.flatMap((values) => values ?? []) ?? [];
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
      // Topics with an event released right after this snapshot_end, and topics whose events wait
      // behind a later subscribe's wait (released only when that one completes).
      const live = new Set<Topic>();
      const later = new Set<Topic>();
      for (let i = 0; i < held.length; i++) {
        const item = held[i] as Held;
        if (item instanceof ControlFrame || item instanceof SnapshotWait) continue;
        if (i < next) live.add(item.topic);
        else later.add(item.topic);
      }
      session.mode &= ~SessionMode.HOLDING;
      this.#complete(session, wait, live, later);
      for (let i = 0; i < next; i++) {
        const item = held[i] as HeldEvent | ControlFrame;
        if (item instanceof ControlFrame) this.#outboxes.enqueueControl(session, item);
        else this.#release(session, item);
      }
      const rest = held[next];
      if (rest instanceof SnapshotWait) {
        session.mode |= SessionMode.HOLDING;
        session.held = held.slice(next + 1);
        session.waiting = rest;
      } else {
        session.held = null;
        session.waiting = undefined;
        session.delivered = null;
      }
    }
    const head = session.waiting;
    const job = head === undefined ? undefined : this.#walking.get(head);
    if (job !== undefined) this.#pump.add(job);
    // Feed-history values may have created topics past the bound; evicting only now, with the held
    // frames released, keeps an older held value from following a re-created topic's newer one.
    this.#cacheBound?.settle();
  }

  /**
   * History values become the last value of topics that still have none and that some pattern covers
   * (q = the topic's current sequence, 0 before any live update, so live events continue at q + 1).
   * Each topic of the subscribe not sent yet, with no live event released right after, and not already
   * delivered at its newest `q` gets its snapshot, taken here from the newest value: the topics history
   * answered, and those whose live events came while history was asked but wait behind a later
   * subscribe's wait (`later`; without their snapshot here they would show nothing until that wait
   * ends). Then snapshot_end.
   */
  #complete(session: Session, wait: SnapshotWait, live: ReadonlySet<Topic>, later: ReadonlySet<Topic>): void {
    const ts = nowMicros();
    const delivered = session.delivered as Map<Topic, number>;
    for (const value of wait.values) {
      const topic = this.#table.topic(value.t);
      // A topic nobody receives gets no value: the gateway could not vouch for it later.
      if (topic.subscribers.size === 0) continue;
      if (this.#lastValues.seed(topic, value, ts)) this.#stats.historyValues++;
      this.#snapshotAtCompletion(session, wait, topic, live, delivered);
    }
    if (later.size > 0) {
      const patterns = wait.patterns.map((p) => p.split("."));
      for (const topic of later) {
        if (patterns.some((p) => patternMatches(p, topic.tokens))) {
          this.#snapshotAtCompletion(session, wait, topic, live, delivered);
        }
      }
    }
    this.control(session, this.#snapshotEnd(wait, live));
  }

  /** One topic's snapshot when a wait completes, unless sent, about to follow live, or delivered. */
  #snapshotAtCompletion(
    session: Session,
    wait: SnapshotWait,
    topic: Topic,
    live: ReadonlySet<Topic>,
    delivered: ReadonlyMap<Topic, number>,
  ): void {
    if (wait.sent.has(topic) || live.has(topic) || !topic.subscribers.has(session)) return;
    const last = topic.last;
    if (last === undefined || (delivered.get(topic) ?? -1) >= last.event.q) return;
    if (!this.#bound.admits(wait)) return;
    this.#putSnapshot(session, topic, last);
    wait.sent.add(topic);
  }

  /** snapshot_end, listing the concrete topics of the subscribe that have no value yet. */
  #snapshotEnd(wait: SnapshotWait, live: ReadonlySet<Topic> | undefined): ControlMessage {
    const missing = wait.concrete.filter((pattern) => {
      const topic = this.#table.find(pattern);
      return topic === undefined || (topic.last === undefined && live?.has(topic) !== true);
    });
    const end: ControlMessage =
      missing.length > 0 ? { e: "snapshot_end", id: wait.id, missing } : { e: "snapshot_end", id: wait.id };
    if (!this.#bound.truncated(wait)) return end;
    this.#stats.snapshotsTruncated++;
    return { ...end, truncated: true };
  }
}
