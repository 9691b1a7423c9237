import { FEED_REJECT_REASONS, type FeedRejectReason } from "../protocol/index.ts";

export const NatsState = {
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RECONNECTING: "reconnecting",
  CLOSED: "closed",
} as const;
export type NatsState = (typeof NatsState)[keyof typeof NatsState];

/** Plain counters of the ingest, exported by metrics/ at scrape time. */
export class IngestStats {
  state: NatsState = NatsState.CONNECTING;
  /** NATS messages received on feed subjects (valid or not, duplicates included). */
  messagesIn = 0;
  /** Messages that passed validation and were sequenced and fanned out. */
  eventsAccepted = 0;
  /** Deliveries of one message through a second, overlapping NATS subscription (ignored). */
  duplicatesSuppressed = 0;
  disconnects = 0;
  reconnects = 0;
  errors = 0;
  readonly rejected = new Map<FeedRejectReason, number>(FEED_REJECT_REASONS.map((r) => [r, 0]));

  countRejected(reason: FeedRejectReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }
}
