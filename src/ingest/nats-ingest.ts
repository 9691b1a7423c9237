import type { Msg, NatsConnection, NatsError, Subscription } from "nats";
import {
  EventEncoder,
  EventFlag,
  decodeFeedPayload,
  feedFieldProblem,
  nowMicros,
  toMarketEvent,
  topicOfSubject,
  type FeedFieldProblem,
  type FeedRejectReason,
  type MarketEventType,
} from "../protocol/index.ts";
import { EncodedEvent, type Topic } from "../fanout/index.ts";
import { SubjectOwners, type InterestListener, type SubjectOwner } from "../subscriptions/index.ts";
import { RateLimitedLog, type Logger } from "../logging/index.ts";
import type { NatsLink } from "./nats-link.ts";
import { IngestStats } from "./stats.ts";

export interface IngestOptions {
  /** First subject token of feed subjects (`md` → `md.<venue>.<symbol>.<type>`). */
  readonly subjectPrefix: string;
  /** Largest feed payload accepted, in bytes. */
  readonly maxFeedPayloadBytes: number;
}

/** Where validated feed events go: the fan-out (the Hub satisfies it). */
export interface IngestSink {
  /** The topic of a concrete name (created on first use; keeps the sequence counter). */
  topic(name: string): Topic;
  publish(topic: Topic, event: EncodedEvent): void;
}

/** The sink before attach(): a message cannot arrive then (start() subscribes, and it needs a sink). */
const NOT_ATTACHED: IngestSink = {
  topic: () => {
    throw new TypeError("NatsIngest used before attach()");
  },
  publish: () => {
    throw new TypeError("NatsIngest used before attach()");
  },
};

/** One NATS subscription, held while some client wants its pattern. */
interface Interest {
  /** Increasing; the smallest id among matching interests owns a subject (see #owners). */
  readonly id: number;
  readonly tokens: readonly string[];
  subscription: Subscription | undefined;
}

/** Per-subject cache, so the per-message work is one map get. */
interface SubjectState {
  readonly topic: Topic;
  readonly type: MarketEventType;
  /** Kept current by #owners as interests come and go. */
  readonly owner: SubjectOwner;
  /** The NATS connection generation ({@link NatsLink.epoch}) of the subject's last message. */
  epoch: number;
}

/**
 * NATS → fan-out. The only module that imports the NATS client.
 *
 * Interest follows demand: a NATS subscription exists exactly while some client holds its pattern.
 * Overlapping patterns (`xnas.*.quote` and `xnas.AAPL.>`) are separate NATS subscriptions, so one
 * message may arrive twice; only the delivery through the oldest matching subscription is processed.
 * New subscriptions never change a subject's owner (ids grow); a removal re-elects it.
 */
export class NatsIngest implements InterestListener {
  readonly stats: IngestStats;
  readonly #interests = new Map<string, Interest>();
  readonly #subjects = new Map<string, SubjectState>();
  /** Which interest owns each subject, updated per affected subject (issue 10 §4: not a scan of all). */
  readonly #owners = new SubjectOwners();
  readonly #encoder = new EventEncoder();
  readonly #rejectLog: RateLimitedLog;
  readonly #prefixLength: number;
  #sink: IngestSink = NOT_ATTACHED;
  #nextId = 1;

  constructor(
    /** The NATS connection, shared with the feed-history reader; the node starts and stops it. */
    private readonly link: NatsLink,
    private readonly options: IngestOptions,
    private readonly log: Logger,
  ) {
    this.stats = new IngestStats(link.stats);
    this.#prefixLength = options.subjectPrefix.length + 1;
    this.#rejectLog = new RateLimitedLog(log, 5000);
  }

  /** Second wiring phase: where validated events go. Before start(). */
  attach(sink: IngestSink): void {
    this.#sink = sink;
  }

  get connected(): boolean {
    return this.link.connected;
  }

  /** NATS subscriptions currently held. */
  get subscriptionCount(): number {
    return this.#interests.size;
  }

  /**
   * Subscribes to every pattern wanted so far once the link is connected (patterns wanted later are
   * subscribed at once). Resolves once connected; the link's reconnects are automatic and counted.
   */
  async start(): Promise<void> {
    if (this.#sink === NOT_ATTACHED) throw new TypeError("NatsIngest.start() before attach()");
    this.link.onReconnect(() => this.#skipOutage());
    const nc = await this.link.connectedOnce();
    for (const [pattern, interest] of this.#interests) this.#subscribe(nc, pattern, interest);
  }

  /**
   * After a NATS reconnect (the same server back, or another cluster member), every topic received so far
   * skips one sequence number: feed messages published during the outage never reached this gateway,
   * and the step in `q` tells clients so instead of hiding it (proto/PROTOCOL.md, Sequence numbers).
   */
  #skipOutage(): void {
    for (const state of this.#subjects.values()) state.topic.seq++;
    this.stats.outageSkips += this.#subjects.size;
  }

  patternActive(pattern: string, tokens: readonly string[]): void {
    const interest: Interest = { id: this.#nextId++, tokens, subscription: undefined };
    this.#interests.set(pattern, interest);
    this.#owners.add(tokens, interest.id);
    const nc = this.link.connection;
    if (nc !== undefined && !nc.isClosed()) this.#subscribe(nc, pattern, interest);
  }

  patternIdle(pattern: string): void {
    const interest = this.#interests.get(pattern);
    if (interest === undefined) return;
    this.#interests.delete(pattern);
    this.#owners.delete(interest.tokens, interest.id);
    interest.subscription?.unsubscribe();
  }

  /** The hub forgot a topic nobody held (its cache bound): the subject's state goes too. */
  topicForgotten(topic: string): void {
    const subject = `${this.options.subjectPrefix}.${topic}`;
    const state = this.#subjects.get(subject);
    if (state === undefined) return;
    this.#subjects.delete(subject);
    this.#owners.untrack(state.topic.tokens);
  }

  #subscribe(nc: NatsConnection, pattern: string, interest: Interest): void {
    if (interest.subscription !== undefined) return; // start() and patternActive() may both reach it
    interest.subscription = nc.subscribe(`${this.options.subjectPrefix}.${pattern}`, {
      callback: (error, msg) => this.#onMessage(interest, error, msg),
    });
  }

  /** Per message: only enqueues into socket outboxes (a slow callback stalls the NATS publisher). */
  #onMessage(interest: Interest, error: NatsError | null, msg: Msg): void {
    if (error !== null) {
      this.stats.subscriptionErrors++;
      this.log.error({ err: error }, "nats subscription error");
      return;
    }
    this.stats.messagesIn++;
    const subject = msg.subject;
    let state = this.#subjects.get(subject);
    if (state === undefined) {
      const parsed = topicOfSubject(subject, this.#prefixLength);
      if (!parsed.ok) {
        this.#reject(parsed.reason, subject);
        return;
      }
      const topic = this.#sink.topic(parsed.topic);
      state = { topic, type: parsed.type, owner: this.#owners.track(topic.tokens), epoch: this.link.epoch };
      this.#subjects.set(subject, state);
    }
    if (state.owner.id !== interest.id) {
      this.stats.duplicatesSuppressed++;
      return;
    }
    const decoded = decodeFeedPayload(msg.data, this.options.maxFeedPayloadBytes);
    if (!decoded.ok) {
      this.#reject(decoded.reason, subject);
      return;
    }
    const problem = feedFieldProblem(state.type, decoded.fields);
    if (problem !== undefined) {
      this.#reject(problem.reason, subject, problem);
      return;
    }
    const topic = state.topic;
    let event = toMarketEvent(state.type, topic.name, ++topic.seq, nowMicros(), decoded.fields);
    if (state.epoch !== this.link.epoch) {
      // The connection was replaced since this subject's last message: what was published meanwhile
      // never reached us, and `q` (ours) stays consecutive, so the loss is flagged (issue 10 §2).
      state.epoch = this.link.epoch;
      event = { ...event, f: EventFlag.RESYNC };
      this.stats.resyncs++;
    }
    this.stats.eventsAccepted++;
    this.#sink.publish(topic, new EncodedEvent(event, this.#encoder.encode(event)));
  }

  #reject(reason: FeedRejectReason, subject: string, problem?: FeedFieldProblem): void {
    this.stats.countRejected(reason);
    const fields = { reason, subject: subject.slice(0, 200) };
    if (problem === undefined) this.#rejectLog.warn(fields, `feed message rejected: ${reason}`);
    else
      this.#rejectLog.warn({ ...fields, field: problem.field }, `feed message rejected: ${problem.detail}`);
  }
}
