import {
  connect,
  Events,
  DebugEvents,
  type Msg,
  type NatsConnection,
  type NatsError,
  type Subscription,
} from "nats";
import {
  EventEncoder,
  checkFeedFields,
  decodeFeedPayload,
  nowMicros,
  toMarketEvent,
  topicOfSubject,
  type FeedRejectReason,
  type MarketEventType,
} from "../protocol/index.ts";
import { EncodedEvent, type Hub, type Topic } from "../fanout/index.ts";
import { SubjectOwners, type InterestListener, type SubjectOwner } from "../subscriptions/index.ts";
import { RateLimitedLog, type Logger } from "../logging/index.ts";
import { IngestStats, NatsState } from "./stats.ts";

export interface IngestOptions {
  /** NATS server URL(s), comma-separated. */
  readonly url: string;
  /** First subject token of feed subjects (`md` → `md.<venue>.<symbol>.<type>`). */
  readonly subjectPrefix: string;
  /** Largest feed payload accepted, in bytes. */
  readonly maxFeedPayloadBytes: number;
  readonly pingIntervalMs: number;
  readonly maxPingsOut: number;
  readonly reconnectWaitMs: number;
}

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
  readonly stats = new IngestStats();
  readonly #interests = new Map<string, Interest>();
  readonly #subjects = new Map<string, SubjectState>();
  /** Which interest owns each subject, updated per affected subject (issue 10 §4: not a scan of all). */
  readonly #owners = new SubjectOwners();
  readonly #encoder = new EventEncoder();
  readonly #rejectLog: RateLimitedLog;
  readonly #prefixLength: number;
  #nc: NatsConnection | undefined;
  /** Set by stop(): a connection that completes afterwards is closed at once. */
  #stopped = false;
  readonly #onConnected: ((nc: NatsConnection) => void)[] = [];
  #nextId = 1;

  constructor(
    private readonly hub: Hub,
    private readonly options: IngestOptions,
    private readonly log: Logger,
  ) {
    this.#prefixLength = options.subjectPrefix.length + 1;
    this.#rejectLog = new RateLimitedLog(log, 5000);
  }

  get connected(): boolean {
    return this.stats.state === NatsState.CONNECTED;
  }

  /** The NATS connection, once started (for the feed-history reader). */
  get connection(): NatsConnection | undefined {
    return this.#nc;
  }

  /**
   * Resolves with the connection once the first one is up (at once when it is): the gateway listens
   * before NATS is connected, and the feed-history reader waits here rather than answer nothing.
   */
  connectedOnce(): Promise<NatsConnection> {
    if (this.#nc !== undefined) return Promise.resolve(this.#nc);
    return new Promise((resolve) => this.#onConnected.push(resolve));
  }

  /** NATS subscriptions currently held. */
  get subscriptionCount(): number {
    return this.#interests.size;
  }

  /**
   * Connects, retrying forever (also on the first attempt), and subscribes to every pattern wanted so
   * far. Resolves once connected; reconnects after that are automatic and counted.
   */
  async start(): Promise<void> {
    const { url, pingIntervalMs, maxPingsOut, reconnectWaitMs } = this.options;
    const nc = await connect({
      servers: url.split(",").map((s) => s.trim()),
      name: "tickwire-gateway",
      reconnect: true,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      reconnectTimeWait: reconnectWaitMs,
      reconnectJitter: Math.min(500, reconnectWaitMs),
      pingInterval: pingIntervalMs,
      maxPingOut: maxPingsOut,
      noEcho: true,
    });
    if (this.#stopped) {
      // stop() ran while the first connection was still being made (a SIGTERM during start-up): an
      // open connection here would keep the process alive after "stopped".
      await nc.close();
      this.stats.state = NatsState.CLOSED;
      return;
    }
    this.#nc = nc;
    for (const resolve of this.#onConnected.splice(0)) resolve(nc);
    this.stats.state = NatsState.CONNECTED;
    this.log.info({ server: nc.getServer() }, "nats connected");
    void this.#watchStatus(nc);
    for (const [pattern, interest] of this.#interests) this.#subscribe(nc, pattern, interest);
  }

  /** Drains subscriptions (processing what is in flight) and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) {
      this.stats.state = NatsState.CLOSED;
      return;
    }
    try {
      await nc.drain();
    } catch (cause) {
      throw new Error("nats drain failed", { cause });
    } finally {
      this.stats.state = NatsState.CLOSED;
    }
  }

  patternActive(pattern: string, tokens: readonly string[]): void {
    const interest: Interest = { id: this.#nextId++, tokens, subscription: undefined };
    this.#interests.set(pattern, interest);
    this.#owners.add(tokens, interest.id);
    if (this.#nc !== undefined && !this.#nc.isClosed()) this.#subscribe(this.#nc, pattern, interest);
  }

  patternIdle(pattern: string): void {
    const interest = this.#interests.get(pattern);
    if (interest === undefined) return;
    this.#interests.delete(pattern);
    this.#owners.delete(interest.tokens, interest.id);
    interest.subscription?.unsubscribe();
  }

  #subscribe(nc: NatsConnection, pattern: string, interest: Interest): void {
    interest.subscription = nc.subscribe(`${this.options.subjectPrefix}.${pattern}`, {
      callback: (error, msg) => this.#onMessage(interest, error, msg),
    });
  }

  /** Per message: only enqueues into socket outboxes (a slow callback stalls the NATS publisher). */
  #onMessage(interest: Interest, error: NatsError | null, msg: Msg): void {
    if (error !== null) {
      this.stats.errors++;
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
      const topic = this.hub.topic(parsed.topic);
      state = { topic, type: parsed.type, owner: this.#owners.track(topic.tokens) };
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
    const problem = checkFeedFields(state.type, decoded.fields);
    if (problem !== undefined) {
      this.#reject(problem, subject);
      return;
    }
    const topic = state.topic;
    const event = toMarketEvent(state.type, topic.name, ++topic.seq, nowMicros(), decoded.fields);
    this.stats.eventsAccepted++;
    this.hub.publish(topic, new EncodedEvent(event, this.#encoder.encode(event)));
  }

  #reject(reason: FeedRejectReason, subject: string): void {
    this.stats.countRejected(reason);
    this.#rejectLog.warn({ reason, subject: subject.slice(0, 200) }, "feed message rejected");
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      switch (status.type) {
        case Events.Disconnect:
          this.stats.disconnects++;
          this.stats.state = NatsState.RECONNECTING;
          this.log.warn({ server: status.data }, "nats disconnected; reconnecting");
          break;
        case Events.Reconnect:
          this.stats.reconnects++;
          this.stats.state = NatsState.CONNECTED;
          this.log.info({ server: status.data }, "nats reconnected");
          break;
        case DebugEvents.Reconnecting:
          this.stats.state = NatsState.RECONNECTING;
          break;
        case Events.Error:
          this.stats.errors++;
          this.log.error({ data: status.data }, "nats error");
          break;
        case Events.LDM:
          this.log.warn(
            { server: status.data },
            "nats server entering lame-duck mode; the client will move to another server",
          );
          break;
        case DebugEvents.StaleConnection:
          this.log.warn("nats connection stale (pings unanswered); reconnecting");
          break;
        case Events.Update:
        case DebugEvents.PingTimer:
        case DebugEvents.ClientInitiatedReconnect:
          break;
      }
    }
    this.stats.state = NatsState.CLOSED;
  }
}
