import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { Session } from "./session.ts";
import type { HistorySlots } from "./history-slots.ts";
import type { HistorySource } from "./snapshots.ts";

/** Most topics one `topics` request lists (PROTOCOL.md "Discovery"); a request may ask for fewer. */
export const MAX_TOPICS_LISTED = 1000;

/** What a `topics` request answers. */
export interface TopicListing {
  /** Known topics matching the pattern, sorted, at most the limit. */
  readonly topics: readonly string[];
  /** True when more topics match than were listed. */
  readonly truncated: boolean;
}

/**
 * The known topics: those with a value in the gateway's cache, and those the feed history holds a message
 * for, so a client can tell a pattern that matches nothing (`xnsa.*.quote`, a typo) from a quiet market.
 */
export class TopicDirectory {
  constructor(
    private readonly table: SubscriptionTable<Session, EncodedEvent>,
    private readonly history: HistorySource | undefined,
    /** Longest wait for the feed history, ms; past it the cache's topics are listed alone. */
    private readonly historyTimeoutMs: number,
    /** The per-connection bound on feed-history lookups, shared with snapshots (history-slots.ts). */
    private readonly slots: HistorySlots,
  ) {}

  /**
   * The known topics matching `pattern` (already checked), at most `limit`. The feed-history listing
   * takes one of `session`'s lookup slots; not started when the request has stopped waiting.
   */
  async list(pattern: string, limit: number, session: Session): Promise<TopicListing> {
    const tokens = pattern.split(".");
    const found = new Set<string>();
    this.table.forEachTopicMatching(tokens, (topic) => {
      if (topic.last !== undefined) found.add(topic.name);
    });
    const history = this.history;
    if (history?.topics !== undefined) {
      const listTopics = history.topics.bind(history);
      let timer: NodeJS.Timeout | undefined;
      let over = false;
      const stored = await Promise.race([
        this.slots.run(
          session,
          () => over || session.closed,
          () => listTopics(pattern, tokens, limit + 1),
        ),
        new Promise<undefined>(
          (resolve) => (timer = setTimeout(() => resolve(undefined), this.historyTimeoutMs)),
        ),
      ]);
      over = true;
      clearTimeout(timer);
      for (const topic of stored ?? []) found.add(topic);
    }
    const sorted = [...found].sort();
    return { topics: sorted.slice(0, limit), truncated: sorted.length > limit };
  }
}
