import type { CloseCode } from "../protocol/index.ts";

/** Label values for closed connections: a small fixed set (never a connection id). */
export const CloseReason = {
  NORMAL: "normal",
  GOING_AWAY: "going_away",
  TOO_BIG: "message_too_big",
  SLOW_CONSUMER: "slow_consumer",
  RATE_LIMITED: "rate_limited",
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
  /** Last values taken from the feed history into the gateway's cache. */
  historyValues = 0;
  /** Events the WebSocket layer refused (socket over its backpressure limit). */
  dropsBackpressure = 0;
  controlMessages = 0;
  /** Replies and control events written. */
  controlFramesOut = 0;
  /** Replies and control events refused by the WebSocket layer (socket over its backpressure limit). */
  controlFramesDropped = 0;
  /** Error replies sent, by protocol error code. */
  readonly clientErrors = new Map<number, number>();

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
}
