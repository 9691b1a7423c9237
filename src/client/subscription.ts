import { Emitter } from "./emitter.ts";
import type { BarEvent, MarketEvent, QuoteEvent, TradeEvent } from "../wire/index.ts";
import type { GapNotice, StreamItem, SubscribeResult, TopicError, UnsubscribeResult } from "./events.ts";
import { PatternSet } from "./pattern-set.ts";

/** Options of one subscribe. */
export interface SubscribeOptions {
  /** Ask for the last value of every matched topic first (default true). Resubscribes always ask. */
  readonly snapshot?: boolean;
  /** At most this many events per second per topic (protocol v1.2; a v1.1 gateway refuses it with 4000). */
  readonly maxHz?: number;
  /** What the gateway does when this connection cannot keep up (protocol v1.2; default "conflate"). */
  readonly onSlow?: "conflate" | "disconnect";
  /**
   * Items an async iterator over this subscription may hold for a consumer that is behind (default
   * 65536). Past it the iterator throws {@link IteratorOverflowError} instead of growing without bound.
   */
  readonly bufferLimit?: number;
}

/** Events of one subscription: only the topics its patterns match. */
export interface SubscriptionEvents {
  trade: TradeEvent;
  quote: QuoteEvent;
  bar: BarEvent;
  /** Every data event, whatever its type. */
  event: MarketEvent;
  /** A gap or a CONFLATED event on one of its topics, before the event that revealed it. */
  gap: GapNotice;
  /** The subscription ended with an error (a resubscribe after reconnect was refused). */
  error: Error;
  /** The gateway accepted the subscription again on a new connection. */
  resubscribed: SubscribeResult;
}

/** An async iterator fell too far behind (see {@link SubscribeOptions.bufferLimit}). */
export class IteratorOverflowError extends Error {
  override readonly name = "IteratorOverflowError";
  readonly code = "TICKWIRE_ERR_ITERATOR_OVERFLOW";
  constructor(limit: number) {
    super(`async iterator fell ${limit} items behind the stream (bufferLimit ${limit}); consume faster`);
  }
}

/**
 * The client's side of one subscription: the patterns it routes there and the calls that drive it. It
 * lives outside the class so that none of it is SDK API (it is not in the `.d.ts` of `Subscription`).
 */
export interface SubscriptionControl {
  readonly subscription: Subscription;
  /** Patterns routed to the subscription: the requested ones until the reply, then the valid ones. */
  readonly patterns: PatternSet;
  /** The first reply, or a resubscribe's. */
  accepted(result: SubscribeResult, first: boolean): void;
  /** A data event of one of its topics. */
  deliver(event: MarketEvent): void;
  /** A gap notice of one of its topics, before the event that revealed it. */
  deliverGap(notice: GapNotice): void;
  /** The end: iterators finish (or throw `error`). */
  end(error: Error | undefined): void;
}

/** How a subscription asks its client to unsubscribe it. */
export type ReleaseSubscription = (subscription: Subscription) => Promise<UnsubscribeResult>;

/** Makes a subscription and the client's control of it; set once by {@link Subscription}'s static block. */
let create: (
  release: ReleaseSubscription,
  requested: readonly string[],
  options: SubscribeOptions,
  onListenerError: (error: unknown) => void,
) => SubscriptionControl;

/** Makes a subscription of `requested` patterns; only the client calls this. */
export function openSubscription(
  release: ReleaseSubscription,
  requested: readonly string[],
  options: SubscribeOptions,
  onListenerError: (error: unknown) => void,
): SubscriptionControl {
  return create(release, requested, options, onListenerError);
}

const DEFAULT_BUFFER_LIMIT = 65_536;

/**
 * A set of patterns subscribed together. It holds the gateway's result (`subscribed`, `errors`,
 * `maxHz`), emits the events of its topics to callbacks, and is an async iterable of them for scripts:
 *
 * ```ts
 * const sub = await client.subscribe(["xnas.AAPL.quote"]);
 * for await (const item of sub) if (item.e === "gap") console.error(item); else console.log(item.bp);
 * ```
 *
 * Leaving the loop (break, return, throw) unsubscribes. Reconnects are invisible here apart from the
 * snapshot events and gap notices they bring.
 */
export class Subscription implements AsyncIterable<StreamItem> {
  /** The options it was subscribed with. */
  readonly options: SubscribeOptions;
  readonly #release: ReleaseSubscription;
  readonly #patterns: PatternSet;
  readonly #emitter: Emitter<SubscriptionEvents>;
  readonly #queues = new Set<ItemQueue>();
  #result: SubscribeResult = { subscribed: [], errors: [] };
  #ended = false;
  #error: Error | undefined;

  static {
    create = (release, requested, options, onListenerError) => {
      const sub = new Subscription(release, requested, options, onListenerError);
      return {
        subscription: sub,
        patterns: sub.#patterns,
        accepted: (result, first) => sub.#accepted(result, first),
        deliver: (event) => sub.#deliver(event),
        deliverGap: (notice) => sub.#deliverGap(notice),
        end: (error) => sub.#end(error),
      };
    };
  }

  /** Made by the client's `subscribe`, not by callers. */
  private constructor(
    release: ReleaseSubscription,
    requested: readonly string[],
    options: SubscribeOptions,
    onListenerError: (error: unknown) => void,
  ) {
    this.options = options;
    this.#release = release;
    this.#patterns = new PatternSet(requested);
    this.#emitter = new Emitter(onListenerError);
  }

  /** Valid patterns the gateway holds for this subscription, in request order. */
  get subscribed(): readonly string[] {
    return this.#result.subscribed;
  }

  /** The gateway's per-topic errors (invalid patterns) of the first subscribe. */
  get errors(): readonly TopicError[] {
    return this.#result.errors;
  }

  /** Effective per-topic rate, when the gateway applies one (protocol v1.2). */
  get maxHz(): number | undefined {
    return this.#result.maxHz;
  }

  /** Whether the subscription has ended (unsubscribed, client closed, or refused on resubscribe). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof SubscriptionEvents>(
    type: K,
    listener: (value: SubscriptionEvents[K]) => void,
  ): () => void {
    return this.#emitter.on(type, listener);
  }

  /** Removes this subscription's patterns (those no other subscription of the client holds). */
  unsubscribe(): Promise<UnsubscribeResult> {
    return this.#release(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamItem> {
    const queue = new ItemQueue(this.options.bufferLimit ?? DEFAULT_BUFFER_LIMIT);
    if (this.#ended) queue.end(this.#error);
    else this.#queues.add(queue);
    return {
      next: () => queue.next(),
      return: async () => {
        this.#queues.delete(queue);
        queue.end(undefined);
        if (!this.#ended) await this.unsubscribe();
        return { done: true, value: undefined };
      },
    };
  }

  #accepted(result: SubscribeResult, first: boolean): void {
    if (first) {
      this.#result = result;
      for (const p of this.#patterns.list()) if (!result.subscribed.includes(p)) this.#patterns.delete(p);
    } else {
      this.#result = { ...this.#result, ...(result.maxHz === undefined ? {} : { maxHz: result.maxHz }) };
      this.#emitter.emit("resubscribed", result);
    }
  }

  #deliver(event: MarketEvent): void {
    const emitter = this.#emitter;
    emitter.emit(event.e, event);
    emitter.emit("event", event);
    this.#push(event);
  }

  #deliverGap(notice: GapNotice): void {
    this.#emitter.emit("gap", notice);
    this.#push(notice);
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (error !== undefined) this.#emitter.emit("error", error);
    for (const queue of this.#queues) queue.end(error);
    this.#queues.clear();
  }

  #push(item: StreamItem): void {
    for (const queue of this.#queues) {
      if (!queue.push(item)) {
        this.#queues.delete(queue);
        queue.end(new IteratorOverflowError(queue.limit));
      }
    }
  }
}

/** A bounded FIFO between the socket and one `for await` loop. */
class ItemQueue {
  #items: StreamItem[] = [];
  #head = 0;
  #waiter: { resolve: (r: IteratorResult<StreamItem>) => void; reject: (e: Error) => void } | undefined;
  #done = false;
  #error: Error | undefined;

  constructor(readonly limit: number) {}

  /** False when the queue is full (the caller ends it). */
  push(item: StreamItem): boolean {
    if (this.#done) return true;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value: item });
      return true;
    }
    if (this.#items.length - this.#head >= this.limit) return false;
    this.#items.push(item);
    return true;
  }

  end(error: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter === undefined) return;
    if (error !== undefined) waiter.reject(error);
    else waiter.resolve({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<StreamItem>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head++] as StreamItem;
      // Compact now and then so a long-lived queue does not keep consumed items.
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#done) {
      const error = this.#error;
      this.#error = undefined; // throw once, then report done like any finished iterator
      return error !== undefined ? Promise.reject(error) : Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }
}
