import { FEED_REJECT_REASONS, type FeedRejectReason } from "../protocol/index.ts";
// The one pure file of metrics/ that inner folders may import (.dependency-cruiser.cjs: stats-describe-metrics).
import { snapshotOf, type MetricDescriptor, type MetricSnapshot } from "../metrics/descriptor.ts";

export const NatsState = {
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RECONNECTING: "reconnecting",
  CLOSED: "closed",
} as const;
export type NatsState = (typeof NatsState)[keyof typeof NatsState];

/** Plain counters of one NATS connection ({@link NatsLink}). */
export class NatsLinkStats {
  state: NatsState = NatsState.CONNECTING;
  disconnects = 0;
  reconnects = 0;
  /** Errors reported by the NATS client on the connection. */
  errors = 0;
  /** First-connection attempts that failed (server not reachable, refused, timed out). */
  connectFailures = 0;
}

/** Plain counters of the ingest, exported by metrics/ at scrape time. */
export class IngestStats {
  /** NATS messages received on feed subjects (valid or not, duplicates included). */
  messagesIn = 0;
  /** Messages that passed validation and were sequenced and fanned out. */
  eventsAccepted = 0;
  /** Deliveries of one message through a second, overlapping NATS subscription (ignored). */
  duplicatesSuppressed = 0;
  /** Errors the NATS client reported on a feed subscription. */
  subscriptionErrors = 0;
  /** Sequence numbers skipped after NATS reconnects (one per topic received so far, per reconnect). */
  outageSkips = 0;
  /** Events flagged RESYNC: a topic's first event after the NATS connection was replaced. */
  resyncs = 0;
  readonly rejected = new Map<FeedRejectReason, number>(FEED_REJECT_REASONS.map((r) => [r, 0]));

  /** @param link the counters of the ingest's NATS connection (state, disconnects, …) */
  constructor(readonly link: NatsLinkStats) {}

  /** State of the ingest's NATS connection. */
  get state(): NatsState {
    return this.link.state;
  }

  get disconnects(): number {
    return this.link.disconnects;
  }

  get reconnects(): number {
    return this.link.reconnects;
  }

  get connectFailures(): number {
    return this.link.connectFailures;
  }

  /** NATS client errors: on the connection and on feed subscriptions. */
  get errors(): number {
    return this.link.errors + this.subscriptionErrors;
  }

  countRejected(reason: FeedRejectReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  /** Every ingest metric as plain numbers (summable over worker processes). */
  snapshot(live: IngestGauges): MetricSnapshot {
    return snapshotOf(INGEST_METRICS, { stats: this, live });
  }
}

/** The ingest's values that are read, not counted: given to {@link IngestStats.snapshot} at scrape time. */
export interface IngestGauges {
  /** NATS subscriptions held (follows client demand). */
  readonly natsSubscriptions: number;
  /** Feed-history errors (requests that failed, stored messages that failed validation). */
  readonly historyErrors: number;
  /** Feed-history lookups refused, abandoned at their deadline, and reads shared (history-limits.ts). */
  readonly historyLimits?: {
    readonly lookupsRefused: number;
    readonly lookupsAbandoned: number;
    readonly shared: number;
    readonly readsInFlight: number;
  };
}

type IngestSource = { readonly stats: IngestStats; readonly live: IngestGauges };

/** The ingest's metrics: names, help and labels as scraped from /metrics. */
export const INGEST_METRICS: readonly MetricDescriptor<IngestSource>[] = [
  {
    name: "tickwire_feed_messages_total",
    type: "counter",
    help: "Messages received from NATS on feed subjects.",
    read: (s) => s.stats.messagesIn,
  },
  {
    name: "tickwire_feed_events_accepted_total",
    type: "counter",
    help: "Feed messages validated, sequenced and fanned out.",
    read: (s) => s.stats.eventsAccepted,
  },
  {
    name: "tickwire_feed_rejected_total",
    type: "counter",
    help: "Malformed feed messages dropped, by reason.",
    label: { name: "reason", values: FEED_REJECT_REASONS },
    read: (s) => s.stats.rejected,
  },
  {
    name: "tickwire_feed_duplicates_suppressed_total",
    type: "counter",
    help: "Second deliveries of one NATS message through overlapping subscriptions.",
    read: (s) => s.stats.duplicatesSuppressed,
  },
  {
    name: "tickwire_feed_resyncs_total",
    type: "counter",
    help: "Events flagged RESYNC: a topic's first event after the NATS connection was replaced.",
    read: (s) => s.stats.resyncs,
  },
  {
    name: "tickwire_history_errors_total",
    type: "counter",
    help: "Feed-history requests that failed (stream missing, NATS error, invalid stored message).",
    read: (s) => s.live.historyErrors,
  },
  {
    name: "tickwire_history_lookups_refused_total",
    type: "counter",
    help: "Feed-history lookups refused with 32 in flight (the snapshot completed without history).",
    read: (s) => s.live.historyLimits?.lookupsRefused ?? 0,
  },
  {
    name: "tickwire_history_lookups_abandoned_total",
    type: "counter",
    help: "Feed-history lookups that stopped reading at --history-timeout-ms (nobody waited any more).",
    read: (s) => s.live.historyLimits?.lookupsAbandoned ?? 0,
  },
  {
    name: "tickwire_history_reads_shared_total",
    type: "counter",
    help: "Feed-history reads joined while the same read was in flight for another subscribe.",
    read: (s) => s.live.historyLimits?.shared ?? 0,
  },
  {
    name: "tickwire_history_reads_in_flight",
    type: "gauge",
    help: "Feed-history requests in flight (at most 64 gateway-wide).",
    read: (s) => s.live.historyLimits?.readsInFlight ?? 0,
  },
  {
    name: "tickwire_nats_connected",
    type: "gauge",
    help: "1 while the NATS connection is up.",
    read: (s) => (s.stats.state === NatsState.CONNECTED ? 1 : 0),
  },
  {
    name: "tickwire_nats_state",
    type: "gauge",
    help: "NATS connection state (1 for the current state).",
    label: { name: "state", values: Object.values(NatsState) },
    read: (s) => new Map(Object.values(NatsState).map((state) => [state, s.stats.state === state ? 1 : 0])),
  },
  {
    name: "tickwire_nats_subscriptions",
    type: "gauge",
    help: "NATS subscriptions held (follows client demand).",
    read: (s) => s.live.natsSubscriptions,
  },
  {
    name: "tickwire_nats_disconnects_total",
    type: "counter",
    help: "NATS connection losses.",
    read: (s) => s.stats.disconnects,
  },
  {
    name: "tickwire_nats_reconnects_total",
    type: "counter",
    help: "NATS reconnections.",
    read: (s) => s.stats.reconnects,
  },
  {
    name: "tickwire_feed_outage_skips_total",
    type: "counter",
    help: "Sequence numbers skipped after NATS reconnects (one per known topic), so clients see the outage's gap in q.",
    read: (s) => s.stats.outageSkips,
  },
  {
    name: "tickwire_nats_connect_failures_total",
    type: "counter",
    help: "Failed attempts at the first NATS connection (server not reachable); retried every nats-reconnect-wait-ms.",
    read: (s) => s.stats.connectFailures,
  },
  {
    name: "tickwire_nats_errors_total",
    type: "counter",
    help: "NATS errors reported by the client.",
    read: (s) => s.stats.errors,
  },
];
