import { ErrorCode, NatsError, type JetStreamManager, type NatsConnection } from "nats";
import { HistoryStreamError } from "../errors/index.ts";
import {
  checkFeedFields,
  decodeFeedPayload,
  toMarketEvent,
  topicOfSubject,
  type MarketEvent,
} from "../protocol/index.ts";
import type { HistorySource } from "../fanout/index.ts";
import { RateLimitedLog, type Logger } from "../logging/index.ts";
import type { NatsLink } from "./nats-link.ts";
import { historyStreamConfig } from "./history-stream.ts";
import { JsApiError, jsApiErrorCode } from "./js-api-errors.ts";
import { HistoryLimits } from "./history-limits.ts";

export interface HistoryOptions {
  /** JetStream stream keeping the last feed message per subject. */
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly maxFeedPayloadBytes: number;
  /** After this long nobody waits for a lookup (the hub's --history-timeout-ms): it stops reading. */
  readonly lookupTimeoutMs?: number;
}

/** Subjects read for one wildcard pattern at most (a `>` over a huge universe stays bounded). */
const MAX_SUBJECTS_PER_PATTERN = 10_000;
/** Concurrent last-message requests per lookup (gateway-wide: history-limits.ts). */
const CONCURRENCY = 16;
/** After the stream turned out missing (or JetStream off), lookups return nothing this long. */
const UNAVAILABLE_BACKOFF_MS = 30_000;

/**
 * Last values from the feed history: a JetStream stream over `<prefix>.>` keeping the last message per
 * subject. Wildcards are expanded with stream info's `subjects_filter`; each subject's last message is
 * read with a direct get (`last_by_subj`) when the stream allows it, else through the stream API.
 * Stored messages are validated like live ones; invalid ones are counted and skipped.
 */
export class JetStreamHistory implements HistorySource {
  /** Requests that failed (stream missing, JetStream off, NATS errors) and stored messages that failed validation. */
  errors = 0;
  /** Lookups and reads in flight, refused, shared and abandoned (history-limits.ts). */
  readonly limits = new HistoryLimits();
  readonly #log: RateLimitedLog;
  #jsm: Promise<JetStreamManager> | undefined;
  #jsmOf: NatsConnection | undefined;
  #allowDirect: boolean | undefined;
  #unavailableUntilMs = 0;

  constructor(
    /** The NATS connection (shared with the ingest), waited for when the gateway is not connected yet. */
    private readonly link: NatsLink,
    private readonly options: HistoryOptions,
    log: Logger,
  ) {
    this.#log = new RateLimitedLog(log, 30_000);
  }

  async lastValues(
    pattern: string,
    tokens: readonly string[],
    wanted: (topic: string) => boolean,
  ): Promise<readonly MarketEvent[]> {
    if (performance.now() < this.#unavailableUntilMs) return [];
    if (!this.limits.startLookup()) return [];
    try {
      return await this.#lookup(pattern, tokens, wanted);
    } finally {
      this.limits.endLookup();
    }
  }

  async #lookup(
    pattern: string,
    tokens: readonly string[],
    wanted: (topic: string) => boolean,
  ): Promise<readonly MarketEvent[]> {
    const deadline = performance.now() + (this.options.lookupTimeoutMs ?? 500);
    // Before the first NATS connection this waits; the hub's --history-timeout-ms bounds the wait.
    const nc = await this.link.connectedOnce();
    if (nc.isClosed()) return [];
    const { stream, subjectPrefix } = this.options;
    const prefixLength = subjectPrefix.length + 1;
    const limits = this.limits;
    try {
      const jsm = await this.#manager(nc);
      const subject = `${subjectPrefix}.${pattern}`;
      let subjects: readonly string[];
      if (tokens.includes("*") || tokens.includes(">")) {
        subjects = await limits.share(`info ${subject}`, () =>
          limits.read(async () => {
            const info = await jsm.streams.info(stream, { subjects_filter: subject });
            this.#allowDirect = info.config.allow_direct === true;
            return Object.keys(info.state.subjects ?? {}).slice(0, MAX_SUBJECTS_PER_PATTERN);
          }),
        );
      } else {
        subjects = [subject];
        // Once per reader: whether the stream allows direct get (the wildcard branch reads it above).
        this.#allowDirect ??= (await jsm.streams.info(stream)).config.allow_direct === true;
      }
      subjects = subjects.filter((s) => wanted(s.slice(prefixLength)));
      const values: MarketEvent[] = [];
      for (let i = 0; i < subjects.length; i += CONCURRENCY) {
        if (performance.now() > deadline) {
          // Nobody waits for the rest: the snapshot completed without it.
          limits.lookupsAbandoned++;
          break;
        }
        const chunk = subjects.slice(i, i + CONCURRENCY);
        const read = await Promise.all(
          chunk.map((s) => limits.share(s, () => limits.read(() => this.#last(jsm, s, prefixLength)))),
        );
        for (const value of read) if (value !== undefined) values.push(value);
      }
      return values;
    } catch (error) {
      this.#failed(error);
      return [];
    }
  }

  /** Topics with a stored message matching `pattern`, at most `limit` (the discovery request). */
  async topics(pattern: string, _tokens: readonly string[], limit: number): Promise<readonly string[]> {
    if (performance.now() < this.#unavailableUntilMs) return [];
    // One lookup of the gateway's budget, shared with identical listings in flight (history-limits.ts).
    if (!this.limits.startLookup()) return [];
    try {
      return await this.limits.share(`topics ${limit} ${pattern}`, () => this.#topics(pattern, limit));
    } finally {
      this.limits.endLookup();
    }
  }

  async #topics(pattern: string, limit: number): Promise<readonly string[]> {
    const nc = await this.link.connectedOnce();
    if (nc.isClosed()) return [];
    const { stream, subjectPrefix } = this.options;
    const prefixLength = subjectPrefix.length + 1;
    try {
      const jsm = await this.#manager(nc);
      const info = await jsm.streams.info(stream, { subjects_filter: `${subjectPrefix}.${pattern}` });
      const found: string[] = [];
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const topic = topicOfSubject(subject, prefixLength);
        if (topic.ok) found.push(topic.topic);
        if (found.length >= limit) break;
      }
      return found;
    } catch (error) {
      this.#failed(error);
      return [];
    }
  }

  async #last(
    jsm: JetStreamManager,
    subject: string,
    prefixLength: number,
  ): Promise<MarketEvent | undefined> {
    const { stream, maxFeedPayloadBytes } = this.options;
    let data: Uint8Array;
    try {
      const stored =
        this.#allowDirect === true
          ? await (jsm as JetStreamManager & WithDirect).direct.getMessage(stream, { last_by_subj: subject })
          : await jsm.streams.getMessage(stream, { last_by_subj: subject });
      data = stored.data;
    } catch (error) {
      if (isNotFound(error)) return undefined; // nothing stored for this subject yet
      throw error;
    }
    const topic = topicOfSubject(subject, prefixLength);
    const decoded = topic.ok ? decodeFeedPayload(data, maxFeedPayloadBytes) : undefined;
    if (
      !topic.ok ||
      decoded === undefined ||
      !decoded.ok ||
      checkFeedFields(topic.type, decoded.fields) !== undefined
    ) {
      this.errors++;
      return undefined;
    }
    return toMarketEvent(topic.type, topic.topic, 0, 0, decoded.fields);
  }

  /**
   * Creates the history stream unless it exists: every `<prefix>.>` subject, the last message of each,
   * in memory, direct get allowed. Embedded mode calls this; a deployment creates its own (README).
   */
  async ensureStream(maxBytes = 256 * 1024 * 1024): Promise<void> {
    const nc = await this.link.connectedOnce();
    const { stream, subjectPrefix } = this.options;
    try {
      const jsm = await this.#manager(nc);
      try {
        await jsm.streams.info(stream);
        return;
      } catch (error) {
        if (jsApiErrorCode(error) !== JsApiError.STREAM_NOT_FOUND) throw error;
      }
      await this.#create(jsm, stream, subjectPrefix, maxBytes);
    } catch (cause) {
      throw new HistoryStreamError(stream, { cause });
    }
  }

  async #create(
    jsm: JetStreamManager,
    stream: string,
    subjectPrefix: string,
    maxBytes: number,
  ): Promise<void> {
    await jsm.streams.add(
      historyStreamConfig({ name: stream, subjectPrefix, storage: "memory", replicas: 1, maxBytes }),
    );
  }

  #manager(nc: NatsConnection): Promise<JetStreamManager> {
    if (this.#jsm === undefined || this.#jsmOf !== nc) {
      this.#jsmOf = nc;
      this.#jsm = nc.jetstreamManager({ checkAPI: false });
    }
    return this.#jsm;
  }

  #failed(error: unknown): void {
    this.errors++;
    const message = error instanceof Error ? error.message : String(error);
    if (isUnavailable(error)) {
      this.#unavailableUntilMs = performance.now() + UNAVAILABLE_BACKOFF_MS;
      this.#log.warn(
        { stream: this.options.stream, err: message },
        "feed history unavailable; snapshots come from the gateway's cache only (retrying in 30 s)",
      );
      return;
    }
    this.#log.warn({ stream: this.options.stream, err: message }, "feed history lookup failed");
  }
}

/**
 * nats.js 2.29's manager implements the direct-get API (`JetStreamManagerImpl.direct`, the
 * `$JS.API.DIRECT.GET` request) but its public interface does not declare it yet.
 */
interface WithDirect {
  readonly direct: {
    getMessage(stream: string, query: { last_by_subj: string }): Promise<{ readonly data: Uint8Array }>;
  };
}

/** Nothing stored for a subject: the stream API's 10037, or a direct get's 404 status (no API error body). */
function isNotFound(error: unknown): boolean {
  return (
    jsApiErrorCode(error) === JsApiError.NO_MESSAGE_FOUND ||
    // A direct get answers "404 Message Not Found" in its status header, with no API error body.
    (error instanceof NatsError && error.code === (ErrorCode.JetStream404NoMessages as string))
  );
}

/** The history cannot answer for a while: stream missing, JetStream off, or nobody answering (503). */
function isUnavailable(error: unknown): boolean {
  const code = jsApiErrorCode(error);
  return (
    code === JsApiError.STREAM_NOT_FOUND ||
    code === JsApiError.NOT_ENABLED ||
    code === JsApiError.NOT_ENABLED_FOR_ACCOUNT ||
    (error instanceof NatsError && error.code === (ErrorCode.NoResponders as string))
  );
}
