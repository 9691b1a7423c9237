/**
 * The feed: publishes `md.<venue>.<symbol>.<type>` messages in the feed format (proto/PROTOCOL.md
 * "Feed input") to NATS at a target rate, round-robin over the topics, each stamped with its publish
 * time in `te` (µs), so a client's receive time minus `te` is the end-to-end latency.
 */
import { Packr } from "msgpackr";
import { FeedPublisher } from "../src/ingest/index.ts";
import { nowUs } from "./clock.ts";

const packr = new Packr({ useRecords: false });
/** Rate control tick; each tick publishes what is due since the start. */
const TICK_MS = 5;
/** After a stall, publish at most this much of a second's worth at once instead of a burst. */
const MAX_CATCH_UP_S = 0.05;

export interface FeedOptions {
  readonly natsUrl: string;
  readonly subjectPrefix: string;
  /** Topics `<venue>.<symbol>.<type>`, published in turn. */
  readonly topics: readonly string[];
  readonly ratePerS: number;
  /** Stop after this many (0 = no limit). */
  readonly messages: number;
  /** Pad each message to at least this many bytes (0 = none). */
  readonly feedBytes: number;
}

/** Feed payload fields of a type, varying with the sequence so consecutive values differ. */
function fields(type: string, i: number, te: number): Record<string, number | string> {
  const tick = i % 200;
  switch (type) {
    case "trade":
      return { te, p: 187.25 + tick / 100, z: 100 + tick };
    case "bar":
      return { te, o: 187.25, h: 187.5 + tick / 100, l: 187, c: 187.3 + tick / 100, v: 1000 + tick };
    default:
      return { te, bp: 187.25 + tick / 100, bz: 100 + tick, ap: 187.27 + tick / 100, az: 300 + tick };
  }
}

export class Feed {
  /** Messages published per topic index. */
  readonly perTopic: number[];
  published = 0;
  /** `performance.now()` of the last publish. */
  lastPublishMs = 0;
  /** Largest and smallest message size published, in bytes. */
  maxBytes = 0;
  minBytes = Number.POSITIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #startedMs = 0;
  #done: (() => void) | undefined;
  readonly #subjects: string[];
  readonly #types: string[];

  private constructor(
    private readonly publisher: FeedPublisher,
    private readonly options: FeedOptions,
  ) {
    this.perTopic = options.topics.map(() => 0);
    this.#subjects = options.topics.map((t) => `${options.subjectPrefix}.${t}`);
    this.#types = options.topics.map((t) => t.slice(t.lastIndexOf(".") + 1));
  }

  static async connect(options: FeedOptions): Promise<Feed> {
    return new Feed(await FeedPublisher.connect(options.natsUrl, "tickwire-loadtest"), options);
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts publishing; resolves when stopped or when `messages` are out. */
  start(): Promise<void> {
    this.#startedMs = performance.now();
    const done = new Promise<void>((resolve) => (this.#done = resolve));
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#tick();
    return done;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#done?.();
    this.#done = undefined;
  }

  /** Resolves when nats-server has everything published so far. */
  flush(): Promise<void> {
    return this.publisher.flush();
  }

  close(): Promise<void> {
    this.stop();
    return this.publisher.close();
  }

  #tick(): void {
    const { ratePerS, messages, feedBytes } = this.options;
    const elapsedS = (performance.now() - this.#startedMs) / 1000;
    let due = Math.floor(ratePerS * elapsedS) - this.published;
    due = Math.min(due, Math.max(1, Math.ceil(ratePerS * MAX_CATCH_UP_S)));
    if (messages > 0) due = Math.min(due, messages - this.published);
    const count = this.perTopic.length;
    for (let k = 0; k < due; k++) {
      const t = this.#next;
      this.#next = t + 1 === count ? 0 : t + 1;
      const payload = fields(this.#types[t]!, this.published, nowUs());
      let bytes = packr.pack(payload);
      if (feedBytes > bytes.length) {
        // An unknown key: tickwire ignores it (proto/PROTOCOL.md "Feed input"), NATS carries it.
        payload["x"] = "x".repeat(feedBytes - bytes.length - 3);
        bytes = packr.pack(payload);
      }
      this.publisher.publish(this.#subjects[t]!, bytes);
      this.perTopic[t]!++;
      this.published++;
      if (bytes.length > this.maxBytes) this.maxBytes = bytes.length;
      if (bytes.length < this.minBytes) this.minBytes = bytes.length;
    }
    if (due > 0) this.lastPublishMs = performance.now();
    if (messages > 0 && this.published >= messages) this.stop();
  }
}
