import type { CloseCode } from "../protocol/index.ts";
// The one pure file of metrics/ that inner folders may import (.dependency-cruiser.cjs: stats-describe-metrics).
import { snapshotOf, type MetricDescriptor, type MetricSnapshot } from "../metrics/descriptor.ts";

/** Label values for closed connections: a small fixed set (never a connection id). */
export const CloseReason = {
  NORMAL: "normal",
  GOING_AWAY: "going_away",
  TOO_BIG: "message_too_big",
  SLOW_CONSUMER: "slow_consumer",
  RATE_LIMITED: "rate_limited",
  UNAUTHORISED: "unauthorised",
  LIMIT: "limit",
  ABNORMAL: "abnormal",
  INTERNAL_ERROR: "internal_error",
  OTHER: "other",
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

export function closeReasonOf(code: number): CloseReason {
  switch (code as CloseCode | 1005 | 1006) {
    case 1000:
    case 1005:
      return CloseReason.NORMAL;
    case 1001:
      return CloseReason.GOING_AWAY;
    case 1009:
      return CloseReason.TOO_BIG;
    case 4007:
      return CloseReason.SLOW_CONSUMER;
    case 4008:
      return CloseReason.RATE_LIMITED;
    case 4001:
      return CloseReason.UNAUTHORISED;
    case 4006:
      return CloseReason.LIMIT;
    case 1006:
      return CloseReason.ABNORMAL;
    case 1011:
      return CloseReason.INTERNAL_ERROR;
    default:
      return CloseReason.OTHER;
  }
}

/** Upper bounds (ms) of the client-lag histogram's buckets (exported in seconds). */
export const LAG_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000] as const;

/**
 * Plain counters of the fan-out, incremented on the hot path and exported by metrics/ at scrape
 * time (PERF-NOTES: a prom-client call per message costs 0.4–0.5 µs).
 */
export class HubStats {
  connectionsOpened = 0;
  readonly connectionsClosed = new Map<CloseReason, number>();
  /** Events handed to the fan-out (after ingest validation). */
  eventsRouted = 0;
  /** Events with no subscriber when they arrived (NATS interest lags a client leaving). */
  eventsUnrouted = 0;
  /** Data events written to sockets. */
  eventsOut = 0;
  /** WebSocket messages carrying data events (one message may carry an array of events). */
  framesOut = 0;
  bytesOut = 0;
  /** Updates merged away by a subscription's maxHz (each one counted once, in a CONFLATED event's n). */
  conflatedMaxHz = 0;
  /** Updates merged away while a socket was over the soft watermark. */
  conflatedSlow = 0;
  /** Times a socket went over the soft watermark (conflation started, or onSlow "disconnect" closed it). */
  slowEpisodes = 0;
  /** Times a connection was found lagging past max-lag-ms while not conflated (conflation started, or onSlow "disconnect" closed it). */
  lagEpisodes = 0;
  /** Lag probes (WebSocket pings) sent. */
  probesSent = 0;
  /** Lag probes the WebSocket layer refused (socket over its backpressure limit; retried next tick). */
  probesDropped = 0;
  /** Pongs that answered no probe in flight (unsolicited, or a wrong payload): ignored. */
  pongsUnmatched = 0;
  /** Answered probes by lag: counts per {@link LAG_BUCKETS_MS} bucket (not cumulative), the last one +Inf. */
  readonly lagBuckets: number[] = new Array<number>(LAG_BUCKETS_MS.length + 1).fill(0);
  /** Sum of the answered probes' lags, ms. */
  lagSumMs = 0;
  /** Answered probes. */
  lagCount = 0;
  /** Heartbeat rounds sent (one frame per connection each). */
  heartbeats = 0;
  /** Subscribes that asked the feed history for last values. */
  historyLookups = 0;
  /** History lookups that did not answer within historyTimeoutMs (the snapshot completed without them). */
  historyTimeouts = 0;
  /** Snapshot waits ended early because the session held too many frames meanwhile. */
  historyOverflows = 0;
  /** Feed-history lookups (one per pattern) that waited for one of their connection's slots (history-slots.ts). */
  historyLookupsQueued = 0;
  /** Of those, lookups never started: their subscribe stopped waiting first (timeout, end, close). */
  historyLookupsDropped = 0;
  /** Last values taken from the feed history into the gateway's cache. */
  historyValues = 0;
  /** Snapshots cut short at --max-snapshot-values (`snapshot_end` with `truncated: true`). */
  snapshotsTruncated = 0;
  /** Steps of subscribe work (snapshot values, topics entered) run on a later event-loop turn (snapshot-pump.ts). */
  snapshotChunks = 0;
  /** Topics nobody held, forgotten past --max-topics (cache-bound.ts). */
  topicsEvicted = 0;
  /** Of those, topics evicted while wildcard patterns (and no exact one) covered them (cache-bound.ts). */
  topicsEvictedCovered = 0;
  /** Events the WebSocket layer refused (socket over its backpressure limit). */
  dropsBackpressure = 0;
  controlMessages = 0;
  /** Replies and control events written. */
  controlFramesOut = 0;
  /** Replies and control events refused by the WebSocket layer (socket over its backpressure limit). */
  controlFramesDropped = 0;
  /** Error replies sent, by protocol error code. */
  readonly clientErrors = new Map<number, number>();
  // Access control (--auth jwt; the verifier counts accepted and refused tokens itself):
  /** Connections closed with 4001 for sending no valid token within --auth-timeout-ms. */
  authTimeouts = 0;
  /** Connections closed with 4001 because their token expired without a refresh. */
  authExpired = 0;
  /** Connections closed with 4001 because their upgrade's `Authorization: Bearer` token was refused. */
  authBearerRejected = 0;
  /** Authentications refused with 4006: the `sub` already had `tw.maxConnections` connections. */
  authConnectionLimit = 0;
  /** Subscriptions removed because a refreshed token no longer covered them. */
  authSubscriptionsRemoved = 0;

  /** One answered probe's lag, ms (once per probe, never per message). */
  observeLag(lagMs: number): void {
    let i = 0;
    while (i < LAG_BUCKETS_MS.length && lagMs > (LAG_BUCKETS_MS[i] as number)) i++;
    this.lagBuckets[i] = (this.lagBuckets[i] as number) + 1;
    this.lagSumMs += lagMs;
    this.lagCount++;
  }

  countClose(reason: CloseReason): void {
    this.connectionsClosed.set(reason, (this.connectionsClosed.get(reason) ?? 0) + 1);
  }

  countClientError(code: number): void {
    this.clientErrors.set(code, (this.clientErrors.get(code) ?? 0) + 1);
  }

  /** Every fan-out metric as plain numbers, the hub's gauges included (summable over worker processes). */
  snapshot(live: HubGauges): MetricSnapshot {
    return snapshotOf(HUB_METRICS, { stats: this, live });
  }
}

/** The hub's values that are read, not counted: given to {@link HubStats.snapshot} at scrape time. */
export interface HubGauges {
  readonly connections: number;
  readonly subscriptions: number;
  readonly patterns: number;
  readonly topics: number;
  /** Connections currently conflated (over the soft watermark, or lagging). */
  readonly slowConnections: number;
  /** Connections currently conflated because they lag (a probe late past max-lag-ms, or behind on bytes). */
  readonly laggingConnections: number;
  /** Bytes accepted for sending but not yet written to the kernel, over all connections. */
  readonly bufferedBytes: number;
}

type HubSource = { readonly stats: HubStats; readonly live: HubGauges };

/** The fan-out's metrics: names, help and labels as scraped from /metrics. */
export const HUB_METRICS: readonly MetricDescriptor<HubSource>[] = [
  {
    name: "tickwire_connections",
    type: "gauge",
    help: "Open WebSocket connections.",
    read: (s) => s.live.connections,
  },
  {
    name: "tickwire_connections_opened_total",
    type: "counter",
    help: "WebSocket connections accepted.",
    read: (s) => s.stats.connectionsOpened,
  },
  {
    name: "tickwire_connections_closed_total",
    type: "counter",
    help: "WebSocket connections closed, by reason.",
    label: { name: "reason", values: Object.values(CloseReason) },
    read: (s) => s.stats.connectionsClosed,
  },
  {
    name: "tickwire_subscriptions",
    type: "gauge",
    help: "Subscriptions held (connection × pattern).",
    read: (s) => s.live.subscriptions,
  },
  {
    name: "tickwire_subscription_patterns",
    type: "gauge",
    help: "Distinct subscription patterns with at least one subscriber.",
    read: (s) => s.live.patterns,
  },
  {
    name: "tickwire_topics",
    type: "gauge",
    help: "Concrete topics seen since start (each keeps its sequence counter).",
    read: (s) => s.live.topics,
  },
  {
    name: "tickwire_control_messages_total",
    type: "counter",
    help: "Control frames received from clients.",
    read: (s) => s.stats.controlMessages,
  },
  {
    name: "tickwire_control_frames_sent_total",
    type: "counter",
    help: "Replies and control events written.",
    read: (s) => s.stats.controlFramesOut,
  },
  {
    name: "tickwire_control_frames_dropped_total",
    type: "counter",
    help: "Replies and control events refused by the WebSocket layer (socket over max-backpressure-bytes).",
    read: (s) => s.stats.controlFramesDropped,
  },
  {
    name: "tickwire_client_errors_total",
    type: "counter",
    help: "Error replies sent to clients, by protocol error code.",
    label: { name: "code", values: [] },
    read: (s) => s.stats.clientErrors,
  },
  {
    name: "tickwire_auth_closed_total",
    type: "counter",
    help: "Connections closed with 4001 under --auth jwt, by reason.",
    label: { name: "reason", values: ["auth_timeout", "expired", "bearer_rejected"] },
    read: (s) =>
      new Map([
        ["auth_timeout", s.stats.authTimeouts],
        ["expired", s.stats.authExpired],
        ["bearer_rejected", s.stats.authBearerRejected],
      ]),
  },
  {
    name: "tickwire_auth_connection_limit_total",
    type: "counter",
    help: "Authentications refused with 4006: the sub already had tw.maxConnections connections on this node.",
    read: (s) => s.stats.authConnectionLimit,
  },
  {
    name: "tickwire_auth_subscriptions_removed_total",
    type: "counter",
    help: "Subscriptions removed because a refreshed token's grants no longer covered them.",
    read: (s) => s.stats.authSubscriptionsRemoved,
  },
  {
    name: "tickwire_events_routed_total",
    type: "counter",
    help: "Events with at least one subscriber.",
    read: (s) => s.stats.eventsRouted,
  },
  {
    name: "tickwire_events_unrouted_total",
    type: "counter",
    help: "Events that arrived with no subscriber left.",
    read: (s) => s.stats.eventsUnrouted,
  },
  {
    name: "tickwire_events_sent_total",
    type: "counter",
    help: "Data events written to sockets.",
    read: (s) => s.stats.eventsOut,
  },
  {
    name: "tickwire_frames_sent_total",
    type: "counter",
    help: "WebSocket messages carrying data events (one message may carry an array of events).",
    read: (s) => s.stats.framesOut,
  },
  {
    name: "tickwire_sent_bytes_total",
    type: "counter",
    help: "Bytes of data-event messages written to sockets.",
    read: (s) => s.stats.bytesOut,
  },
  {
    name: "tickwire_events_dropped_total",
    type: "counter",
    help: "Events a socket did not get and no CONFLATED event stands for, by reason.",
    label: { name: "reason", values: ["backpressure"] },
    read: (s) => new Map([["backpressure", s.stats.dropsBackpressure]]),
  },
  {
    name: "tickwire_events_conflated_total",
    type: "counter",
    help: "Updates merged away into CONFLATED events (each counted once), by cause.",
    label: { name: "cause", values: ["max_hz", "slow_consumer"] },
    read: (s) =>
      new Map([
        ["max_hz", s.stats.conflatedMaxHz],
        ["slow_consumer", s.stats.conflatedSlow],
      ]),
  },
  {
    name: "tickwire_slow_consumer_episodes_total",
    type: "counter",
    help: "Times a connection went over the soft watermark (conflated, or closed for onSlow disconnect).",
    read: (s) => s.stats.slowEpisodes,
  },
  {
    name: "tickwire_slow_connections",
    type: "gauge",
    help: "Connections conflated right now (over the soft watermark, or lagging).",
    read: (s) => s.live.slowConnections,
  },
  {
    name: "tickwire_conflation_episodes_total",
    type: "counter",
    help: "Times a connection started conflating, by cause: bytes (over the soft watermark), lag (probe late past max-lag-ms, or sent more than it reads in that time).",
    label: { name: "cause", values: ["bytes", "lag"] },
    read: (s) =>
      new Map([
        ["bytes", s.stats.slowEpisodes],
        ["lag", s.stats.lagEpisodes],
      ]),
  },
  {
    name: "tickwire_lagging_connections",
    type: "gauge",
    help: "Connections conflated right now because they lag (probe late past max-lag-ms, or behind on bytes).",
    read: (s) => s.live.laggingConnections,
  },
  {
    name: "tickwire_lag_probes_total",
    type: "counter",
    help: "Lag probes (WebSocket pings) sent.",
    read: (s) => s.stats.probesSent,
  },
  {
    name: "tickwire_lag_probes_dropped_total",
    type: "counter",
    help: "Lag probes refused by the WebSocket layer (socket over max-backpressure-bytes; retried).",
    read: (s) => s.stats.probesDropped,
  },
  {
    name: "tickwire_pongs_unmatched_total",
    type: "counter",
    help: "Pongs that answered no probe in flight (unsolicited or wrong payload; ignored).",
    read: (s) => s.stats.pongsUnmatched,
  },
  {
    name: "tickwire_client_lag_seconds",
    type: "histogram",
    help: "End-to-end lag of answered probes: ping sent to pong received, through every buffer in between.",
    buckets: LAG_BUCKETS_MS.map((ms) => ms / 1000),
    read: (s) => ({ counts: s.stats.lagBuckets, sum: s.stats.lagSumMs / 1000, count: s.stats.lagCount }),
  },
  {
    name: "tickwire_buffered_bytes",
    type: "gauge",
    help: "Bytes accepted for sending but not yet written to the kernel, all connections.",
    read: (s) => s.live.bufferedBytes,
  },
  {
    name: "tickwire_heartbeat_rounds_total",
    type: "counter",
    help: "Heartbeat periods completed (every connection got one heartbeat in each, at its own phase).",
    read: (s) => s.stats.heartbeats,
  },
  {
    name: "tickwire_history_lookups_total",
    type: "counter",
    help: "Subscribes that read last values from the feed history (JetStream).",
    read: (s) => s.stats.historyLookups,
  },
  {
    name: "tickwire_history_lookups_queued_total",
    type: "counter",
    help: "Feed-history lookups (one per pattern) that waited for one of their connection's --max-history-lookups-per-connection slots.",
    read: (s) => s.stats.historyLookupsQueued,
  },
  {
    name: "tickwire_history_lookups_dropped_total",
    type: "counter",
    help: "Feed-history lookups that waited for a connection slot and were never started: their subscribe stopped waiting first.",
    read: (s) => s.stats.historyLookupsDropped,
  },
  {
    name: "tickwire_history_values_total",
    type: "counter",
    help: "Last values taken from the feed history into the gateway's cache.",
    read: (s) => s.stats.historyValues,
  },
  {
    name: "tickwire_history_timeouts_total",
    type: "counter",
    help: "History lookups not answered within --history-timeout-ms (snapshot completed without them).",
    read: (s) => s.stats.historyTimeouts,
  },
  {
    name: "tickwire_history_overflows_total",
    type: "counter",
    help: "Snapshot waits cut short because the connection held too many live frames meanwhile.",
    read: (s) => s.stats.historyOverflows,
  },
  {
    name: "tickwire_snapshots_truncated_total",
    type: "counter",
    help: "Snapshots cut short at --max-snapshot-values (snapshot_end with truncated: true).",
    read: (s) => s.stats.snapshotsTruncated,
  },
  {
    name: "tickwire_snapshot_chunks_total",
    type: "counter",
    help: "Steps of a large subscribe (up to 256 topics: snapshot values, topics entered) run on a later event-loop turn.",
    read: (s) => s.stats.snapshotChunks,
  },
  {
    name: "tickwire_topics_evicted_total",
    type: "counter",
    help: "Topics nobody held by exact name, forgotten past --max-topics (their next q starts above every forgotten one).",
    read: (s) => s.stats.topicsEvicted,
  },
  {
    name: "tickwire_topics_evicted_covered_total",
    type: "counter",
    help: "Of tickwire_topics_evicted_total, topics held only through wildcard patterns (re-created by their next update).",
    read: (s) => s.stats.topicsEvictedCovered,
  },
];
