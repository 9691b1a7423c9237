/**
 * Bounds on the feed-history reader's work (issue 11 §3: with 20,000 subjects stored, twenty clients
 * subscribing to 7 wildcards each caused ~205,000 NATS requests in 35 s, CPU over 110 %, /metrics
 * unanswered for 20 s, and one timed-out lookup kept 10,000 direct gets running for 8 s, results
 * discarded).
 *
 * - Lookups in flight gateway-wide: at most {@link MAX_LOOKUPS_IN_FLIGHT}; one past it is refused at
 *   once (the snapshot completes without history) and counted.
 * - Reads (one request each) in flight gateway-wide: at most {@link MAX_READS_IN_FLIGHT}; the others wait
 *   their turn in order.
 * - Overlapping lookups share: a subject's read, and a pattern's subject listing, already in flight
 *   are joined instead of requested again (counted as shared).
 * - Nobody waits past the hub's history timeout: a lookup stops issuing reads once it has passed
 *   (counted as abandoned) and returns what it has.
 */
export const MAX_LOOKUPS_IN_FLIGHT = 32;
export const MAX_READS_IN_FLIGHT = 64;

export class HistoryLimits {
  lookupsInFlight = 0;
  readsInFlight = 0;
  /** Lookups refused at {@link MAX_LOOKUPS_IN_FLIGHT}. */
  lookupsRefused = 0;
  /** Lookups that stopped reading at their deadline. */
  lookupsAbandoned = 0;
  /** Reads and subject listings joined instead of requested again. */
  shared = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #inFlight = new Map<string, Promise<unknown>>();

  constructor(
    readonly maxLookups = MAX_LOOKUPS_IN_FLIGHT,
    readonly maxReads = MAX_READS_IN_FLIGHT,
  ) {}

  /** Starts a lookup; false (counted) when too many are in flight. Pair with {@link endLookup}. */
  startLookup(): boolean {
    if (this.lookupsInFlight >= this.maxLookups) {
      this.lookupsRefused++;
      return false;
    }
    this.lookupsInFlight++;
    return true;
  }

  endLookup(): void {
    this.lookupsInFlight--;
  }

  /** `run()`'s result, shared with every caller of the same `key` while it is in flight. */
  share<T>(key: string, run: () => Promise<T>): Promise<T> {
    const existing = this.#inFlight.get(key);
    if (existing !== undefined) {
      this.shared++;
      return existing as Promise<T>;
    }
    const started = run().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, started);
    return started;
  }

  /** Runs one read when a slot among {@link maxReads} is free. */
  async read<T>(run: () => Promise<T>): Promise<T> {
    if (this.readsInFlight >= this.maxReads) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.readsInFlight++;
    }
    try {
      return await run();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter (readsInFlight unchanged), else it is freed.
      if (next !== undefined) next();
      else this.readsInFlight--;
    }
  }
}
