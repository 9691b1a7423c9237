import type { Session } from "./session.ts";
import type { HubStats } from "./stats.ts";

/** Default of `--max-history-lookups-per-connection`. */
export const DEFAULT_HISTORY_LOOKUPS_PER_CONNECTION = 4;

/** One connection's lookups: how many run, and the ones waiting for a slot, in order. */
interface SlotState {
  inFlight: number;
  readonly waiting: (() => void)[];
}

/**
 * Feed-history lookups in flight per connection (`--max-history-lookups-per-connection`; issue 11 §3).
 * The reader bounds lookups gateway-wide (32 in flight, ingest/history-limits.ts) and refuses the ones
 * past it, so one connection sending many subscribes with many patterns took every slot and the other
 * connections' snapshots came without history. Past its own bound a connection's lookups wait, in
 * order, for one of its own to finish: its snapshots stay complete when the history is quick, and
 * its flood delays only itself. The wait counts against the request's `--history-timeout-ms`: a lookup
 * whose request stopped waiting (timed out, ended, connection closed) is never started. Shared by the
 * subscribes' snapshots (one lookup per pattern) and the `topics` listings (topic-directory.ts).
 */
export class HistorySlots {
  readonly #bySession = new Map<Session, SlotState>();

  constructor(
    readonly perConnection: number,
    private readonly stats: HubStats,
  ) {}

  /** Connections with lookups running or waiting (0 once they are all over). */
  get connections(): number {
    return this.#bySession.size;
  }

  /**
   * Runs `lookup` once one of `session`'s slots is free; resolves undefined without running it when
   * `abandoned()` is true by then (counted in `historyLookupsDropped`). Waiting is counted in
   * `historyLookupsQueued`.
   */
  async run<T>(session: Session, abandoned: () => boolean, lookup: () => Promise<T>): Promise<T | undefined> {
    let state = this.#bySession.get(session);
    if (state === undefined) {
      state = { inFlight: 0, waiting: [] };
      this.#bySession.set(session, state);
    }
    if (state.inFlight >= this.perConnection) {
      this.stats.historyLookupsQueued++;
      const queue = state.waiting;
      await new Promise<void>((resolve) => queue.push(resolve));
    } else {
      state.inFlight++;
    }
    try {
      if (abandoned()) {
        this.stats.historyLookupsDropped++;
        return undefined;
      }
      return await lookup();
    } finally {
      // The slot passes straight to the next waiter (inFlight unchanged), else it is freed.
      const next = state.waiting.shift();
      if (next !== undefined) next();
      else if (--state.inFlight === 0) this.#bySession.delete(session);
    }
  }
}
