import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { Session, Topic } from "./session.ts";
import type { HubStats } from "./stats.ts";

/** Default of `--max-topics`: about 100 MB of topic entries and cached values (~1 KB each, issue 11 §2). */
export const DEFAULT_MAX_TOPICS = 100_000;

/**
 * Bounds the topics the gateway keeps (`--max-topics`). Every subject the feed delivers becomes a topic
 * entry (sequence counter, subscribers, last value, the ingest's per-subject state) that used to be kept
 * for the life of the process: 200,000 subjects published once under a wildcard somebody held once
 * stayed at ~1 KB each after everybody left, and 25,000 new subjects a second ran the heap out
 * (issue 11 §2). Past the bound, topics nobody holds are forgotten, oldest first, down to 90 % of it
 * (counted as `tickwire_topics_evicted_total`); the table numbers topics created afterwards from above
 * every forgotten topic's `q`, so no connection sees a `q` go backwards.
 *
 * Topics a held pattern matches are never evicted: they are being delivered. When nothing can be evicted
 * the next scan waits until the table has grown by another 10 % of the bound, so a wildcard held over an
 * ever-growing feed costs one scan per 10 % of growth, not one per new topic.
 */
export class CacheBound {
  #nextScanAt: number;

  constructor(
    readonly maxTopics: number,
    private readonly stats: HubStats,
  ) {
    this.#nextScanAt = maxTopics + 1;
  }

  /** A topic was just created (never evicted by this call). */
  created(table: SubscriptionTable<Session, EncodedEvent>, created: Topic): void {
    const count = table.topicCount;
    if (count < this.#nextScanAt) return;
    const target = Math.floor(this.maxTopics * 0.9);
    let excess = count - target;
    for (const topic of table.topics()) {
      if (excess <= 0) break;
      if (topic === created) continue;
      if (table.forget(topic)) {
        this.stats.topicsEvicted++;
        excess--;
      }
    }
    const step = Math.max(1, Math.floor(this.maxTopics * 0.1));
    this.#nextScanAt = Math.max(this.maxTopics + 1, table.topicCount + (excess > 0 ? step : 1));
  }
}
