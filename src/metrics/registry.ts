import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from "prom-client";

/**
 * Where the numbers come from. Structural, so metrics/ depends on no other module: the hot path keeps
 * plain counters and this file turns them into Prometheus values at scrape time (PERF-NOTES: no
 * prom-client call per message).
 */
export interface MetricsSources {
  readonly hub: {
    readonly connections: () => number;
    readonly subscriptions: () => number;
    readonly patterns: () => number;
    readonly topics: () => number;
    /** Connections currently conflated (over the soft watermark, or lagging). */
    readonly slowConnections: () => number;
    /** Connections currently conflated because they lag (issue 12). */
    readonly laggingConnections: () => number;
    /** Bytes accepted for sending but not yet written to the kernel, over all connections. */
    readonly bufferedBytes: () => number;
    /** Upper bounds, ms, of `stats.lagBuckets`. */
    readonly lagBucketsMs: readonly number[];
    readonly stats: {
      readonly connectionsOpened: number;
      readonly connectionsClosed: ReadonlyMap<string, number>;
      readonly eventsRouted: number;
      readonly eventsUnrouted: number;
      readonly eventsOut: number;
      readonly framesOut: number;
      readonly bytesOut: number;
      readonly dropsBackpressure: number;
      readonly conflatedMaxHz: number;
      readonly conflatedSlow: number;
      readonly slowEpisodes: number;
      readonly lagEpisodes: number;
      readonly probesSent: number;
      readonly probesDropped: number;
      readonly pongsUnmatched: number;
      /** Answered probes per lag bucket (not cumulative; bounds in `lagBucketsMs`, the last +Inf). */
      readonly lagBuckets: readonly number[];
      readonly lagSumMs: number;
      readonly lagCount: number;
      readonly heartbeats: number;
      readonly historyLookups: number;
      readonly historyTimeouts: number;
      readonly historyOverflows: number;
      readonly historyValues: number;
      readonly controlMessages: number;
      readonly controlFramesOut: number;
      readonly controlFramesDropped: number;
      readonly clientErrors: ReadonlyMap<number, number>;
    };
  };
  readonly ingest: {
    readonly natsSubscriptions: () => number;
    readonly stats: {
      readonly state: string;
      readonly messagesIn: number;
      readonly eventsAccepted: number;
      readonly duplicatesSuppressed: number;
      readonly disconnects: number;
      readonly reconnects: number;
      readonly errors: number;
      readonly rejected: ReadonlyMap<string, number>;
    };
    /** Feed-history errors (requests that failed, stored messages that failed validation). */
    readonly historyErrors: () => number;
  };
  readonly gateway: {
    readonly stats: {
      readonly upgradesRejectedSubprotocol: number;
      readonly upgradesRejectedDraining: number;
      readonly framesTooBig: number;
      readonly internalErrors: number;
    };
  };
}

export const NATS_STATES = ["connecting", "connected", "reconnecting", "closed"] as const;
const CLOSE_REASONS = [
  "normal",
  "going_away",
  "message_too_big",
  "slow_consumer",
  "rate_limited",
  "abnormal",
  "internal_error",
  "other",
];

export function createMetrics(sources: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const { hub, ingest, gateway } = sources;

  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  const labelled = (
    name: string,
    help: string,
    label: string,
    known: readonly string[],
    read: () => ReadonlyMap<string | number, number>,
  ): void => {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        for (const value of known) this.labels(value).inc(0);
        for (const [value, n] of read()) this.labels(String(value)).inc(n);
      },
    });
  };

  gauge("tickwire_connections", "Open WebSocket connections.", hub.connections);
  counter(
    "tickwire_connections_opened_total",
    "WebSocket connections accepted.",
    () => hub.stats.connectionsOpened,
  );
  labelled(
    "tickwire_connections_closed_total",
    "WebSocket connections closed, by reason.",
    "reason",
    CLOSE_REASONS,
    () => hub.stats.connectionsClosed,
  );
  labelled(
    "tickwire_upgrades_rejected_total",
    "WebSocket upgrades refused, by reason.",
    "reason",
    [],
    () =>
      new Map([
        ["subprotocol", gateway.stats.upgradesRejectedSubprotocol],
        ["draining", gateway.stats.upgradesRejectedDraining],
      ]),
  );
  counter(
    "tickwire_client_frames_too_big_total",
    "Client frames over max-message-bytes (connection closed with 1009).",
    () => gateway.stats.framesTooBig,
  );
  counter(
    "tickwire_internal_errors_total",
    "Unexpected exceptions caught while handling a client frame (connection closed with 1011).",
    () => gateway.stats.internalErrors,
  );
  gauge("tickwire_subscriptions", "Subscriptions held (connection × pattern).", hub.subscriptions);
  gauge(
    "tickwire_subscription_patterns",
    "Distinct subscription patterns with at least one subscriber.",
    hub.patterns,
  );
  gauge("tickwire_topics", "Concrete topics seen since start (each keeps its sequence counter).", hub.topics);
  counter(
    "tickwire_control_messages_total",
    "Control frames received from clients.",
    () => hub.stats.controlMessages,
  );
  counter(
    "tickwire_control_frames_sent_total",
    "Replies and control events written.",
    () => hub.stats.controlFramesOut,
  );
  counter(
    "tickwire_control_frames_dropped_total",
    "Replies and control events refused by the WebSocket layer (socket over max-backpressure-bytes).",
    () => hub.stats.controlFramesDropped,
  );
  labelled(
    "tickwire_client_errors_total",
    "Error replies sent to clients, by protocol error code.",
    "code",
    [],
    () => hub.stats.clientErrors,
  );

  counter(
    "tickwire_feed_messages_total",
    "Messages received from NATS on feed subjects.",
    () => ingest.stats.messagesIn,
  );
  counter(
    "tickwire_feed_events_accepted_total",
    "Feed messages validated, sequenced and fanned out.",
    () => ingest.stats.eventsAccepted,
  );
  labelled(
    "tickwire_feed_rejected_total",
    "Malformed feed messages dropped, by reason.",
    "reason",
    [],
    () => ingest.stats.rejected,
  );
  counter(
    "tickwire_feed_duplicates_suppressed_total",
    "Second deliveries of one NATS message through overlapping subscriptions.",
    () => ingest.stats.duplicatesSuppressed,
  );

  counter(
    "tickwire_events_routed_total",
    "Events with at least one subscriber.",
    () => hub.stats.eventsRouted,
  );
  counter(
    "tickwire_events_unrouted_total",
    "Events that arrived with no subscriber left.",
    () => hub.stats.eventsUnrouted,
  );
  counter("tickwire_events_sent_total", "Data events written to sockets.", () => hub.stats.eventsOut);
  counter(
    "tickwire_frames_sent_total",
    "WebSocket messages carrying data events (one message may carry an array of events).",
    () => hub.stats.framesOut,
  );
  counter(
    "tickwire_sent_bytes_total",
    "Bytes of data-event messages written to sockets.",
    () => hub.stats.bytesOut,
  );
  labelled(
    "tickwire_events_dropped_total",
    "Events a socket did not get and no CONFLATED event stands for, by reason.",
    "reason",
    ["backpressure"],
    () => new Map([["backpressure", hub.stats.dropsBackpressure]]),
  );
  labelled(
    "tickwire_events_conflated_total",
    "Updates merged away into CONFLATED events (each counted once), by cause.",
    "cause",
    ["max_hz", "slow_consumer"],
    () =>
      new Map([
        ["max_hz", hub.stats.conflatedMaxHz],
        ["slow_consumer", hub.stats.conflatedSlow],
      ]),
  );
  counter(
    "tickwire_slow_consumer_episodes_total",
    "Times a connection went over the soft watermark (conflated, or closed for onSlow disconnect).",
    () => hub.stats.slowEpisodes,
  );
  gauge(
    "tickwire_slow_connections",
    "Connections conflated right now (over the soft watermark, or lagging).",
    hub.slowConnections,
  );
  labelled(
    "tickwire_conflation_episodes_total",
    "Times a connection started conflating, by cause: bytes (over the soft watermark), lag (probe late past max-lag-ms, or sent more than it reads in that time).",
    "cause",
    ["bytes", "lag"],
    () =>
      new Map([
        ["bytes", hub.stats.slowEpisodes],
        ["lag", hub.stats.lagEpisodes],
      ]),
  );
  gauge(
    "tickwire_lagging_connections",
    "Connections conflated right now because they lag (probe late past max-lag-ms, or behind on bytes).",
    hub.laggingConnections,
  );
  counter("tickwire_lag_probes_total", "Lag probes (WebSocket pings) sent.", () => hub.stats.probesSent);
  counter(
    "tickwire_lag_probes_dropped_total",
    "Lag probes refused by the WebSocket layer (socket over max-backpressure-bytes; retried).",
    () => hub.stats.probesDropped,
  );
  counter(
    "tickwire_pongs_unmatched_total",
    "Pongs that answered no probe in flight (unsolicited or wrong payload; ignored).",
    () => hub.stats.pongsUnmatched,
  );
  registry.registerMetric(
    pulledHistogram(
      "tickwire_client_lag_seconds",
      "End-to-end lag of answered probes: ping sent to pong received, through every buffer in between.",
      hub.lagBucketsMs.map((ms) => ms / 1000),
      () => ({ counts: hub.stats.lagBuckets, sum: hub.stats.lagSumMs / 1000, count: hub.stats.lagCount }),
    ),
  );
  gauge(
    "tickwire_buffered_bytes",
    "Bytes accepted for sending but not yet written to the kernel, all connections.",
    hub.bufferedBytes,
  );
  counter(
    "tickwire_heartbeat_rounds_total",
    "Heartbeat rounds (one heartbeat event to every connection each).",
    () => hub.stats.heartbeats,
  );
  counter(
    "tickwire_history_lookups_total",
    "Subscribes that read last values from the feed history (JetStream).",
    () => hub.stats.historyLookups,
  );
  counter(
    "tickwire_history_values_total",
    "Last values taken from the feed history into the gateway's cache.",
    () => hub.stats.historyValues,
  );
  counter(
    "tickwire_history_timeouts_total",
    "History lookups not answered within --history-timeout-ms (snapshot completed without them).",
    () => hub.stats.historyTimeouts,
  );
  counter(
    "tickwire_history_overflows_total",
    "Snapshot waits cut short because the connection held too many live frames meanwhile.",
    () => hub.stats.historyOverflows,
  );
  counter(
    "tickwire_history_errors_total",
    "Feed-history requests that failed (stream missing, NATS error, invalid stored message).",
    ingest.historyErrors,
  );

  gauge("tickwire_nats_connected", "1 while the NATS connection is up.", () =>
    ingest.stats.state === "connected" ? 1 : 0,
  );
  new Gauge({
    name: "tickwire_nats_state",
    help: "NATS connection state (1 for the current state).",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      for (const state of NATS_STATES) this.labels(state).set(ingest.stats.state === state ? 1 : 0);
    },
  });
  gauge(
    "tickwire_nats_subscriptions",
    "NATS subscriptions held (follows client demand).",
    ingest.natsSubscriptions,
  );
  counter("tickwire_nats_disconnects_total", "NATS connection losses.", () => ingest.stats.disconnects);
  counter("tickwire_nats_reconnects_total", "NATS reconnections.", () => ingest.stats.reconnects);
  counter("tickwire_nats_errors_total", "NATS errors reported by the client.", () => ingest.stats.errors);
  return registry;
}

/**
 * A histogram whose bucket counts are kept as plain numbers by the hot path and read at scrape time
 * (prom-client's Histogram only takes `observe()` calls, which PERF-NOTES keeps off the hot path).
 * `counts` are per bucket, not cumulative, with one more than `bounds` (+Inf).
 */
function pulledHistogram(
  name: string,
  help: string,
  bounds: readonly number[],
  read: () => { readonly counts: readonly number[]; readonly sum: number; readonly count: number },
): Metric {
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get: () => {
      const { counts, sum, count } = read();
      const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
      let cumulative = 0;
      bounds.forEach((le, i) => {
        cumulative += counts[i] ?? 0;
        values.push({ value: cumulative, labels: { le }, metricName: `${name}_bucket` });
      });
      values.push({ value: count, labels: { le: "+Inf" }, metricName: `${name}_bucket` });
      values.push({ value: sum, labels: {}, metricName: `${name}_sum` });
      values.push({ value: count, labels: {}, metricName: `${name}_count` });
      return Promise.resolve({ name, help, type: "histogram", aggregator: "sum", values });
    },
  };
  // The registry needs only name, help, type and get() (prom-client 15 registry.js); a Metric class
  // cannot be fed counts.
  return metric as unknown as Metric;
}
