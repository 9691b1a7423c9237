import type { MarketEvent } from "../wire/index.ts";

/**
 * The SDK's own notices and results. The protocol's data events (MarketEvent, SnapshotEndEvent,
 * HeartbeatEvent) are src/wire's, handed to callers as decoded; unknown keys and event types from a
 * newer gateway pass through untouched (forward compatibility, PROTOCOL.md "Conventions").
 */

/**
 * The SDK's notice that a topic's stream is not complete: `kind` "missed" when the sequence jumped
 * (updates were lost; the SDK then fetches a fresh snapshot of the topic), "conflated" when the gateway
 * merged updates into one CONFLATED event (the value is current; `missed` updates were merged away).
 * Callers that only care whether they saw every update can treat both alike.
 */
export interface GapNotice {
  readonly e: "gap";
  readonly kind: "missed" | "conflated";
  /** Topic. */
  readonly t: string;
  /** `q` of the last event seen on the topic before this one. */
  readonly prevQ: number;
  /** `q` of the event that revealed the gap. */
  readonly q: number;
  /** Updates the caller did not get one by one (0 when the sequence went backwards). */
  readonly missed: number;
}

/** What an async iterator over a subscription yields: data events and, in stream order, gap notices. */
export type StreamItem = MarketEvent | GapNotice;

/** Connection states: `connecting` (first attempt), `open`, `reconnecting` (waiting to retry), `closed`. */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** Why a connection ended. */
export interface Disconnect {
  /**
   * `closed`: the server or network closed it (see code/reason); `watchdog`: no frame of any kind for
   * 3 heartbeat periods; `connect_timeout`: the upgrade did not complete in time; `error`: the
   * connection could not be made (refused, DNS, HTTP error).
   */
  readonly cause: "closed" | "watchdog" | "connect_timeout" | "error";
  /** WebSocket close code (1006 when none was received). */
  readonly code: number;
  readonly reason: string;
  /** The server's `retryAfterMs` hint, when it sent one (close 1001 or 4007). */
  readonly retryAfterMs?: number;
}

/** Emitted on every state transition. */
export interface StateChange {
  readonly state: ConnectionState;
  /** Reconnect attempts since the last healthy connection. */
  readonly attempt: number;
  /** `reconnecting`: how long until the next attempt. */
  readonly delayMs?: number;
  /** `reconnecting` and `closed` after a loss: what ended the previous connection. */
  readonly disconnect?: Disconnect;
}

/** Running totals of one client, across reconnects. */
export interface ClientStats {
  /** Data events received. */
  eventsReceived: number;
  /** Sequence gaps seen (kind "missed"). */
  gaps: number;
  /** Updates lost in those gaps. */
  missedUpdates: number;
  /** CONFLATED events received. */
  conflatedEvents: number;
  /** Updates merged away into them. */
  conflatedUpdates: number;
  /** Connections made after the first. */
  reconnects: number;
  /** Fresh snapshots fetched because of a gap. */
  resyncs: number;
  /** The connection's counters from the last heartbeat (protocol v1.2), if any came. */
  server: { sent: number; conflated: number; dropped: number } | undefined;
  /**
   * How far behind this connection reads, ms, from the last heartbeat's `lag` (protocol v1.5); undefined
   * before the first heartbeat of a connection and when the gateway runs no lag probes. See
   * `client.lagMs`.
   */
  lagMs: number | undefined;
}

/** Per-topic outcome of a subscribe, as the gateway reported it. */
export interface TopicError {
  readonly topic: string;
  /** 4002 (bad pattern) or 4004 (unknown event type; for unsubscribe: not subscribed). */
  readonly code: number;
  readonly msg: string;
}

/** The gateway's result of a subscribe. */
export interface SubscribeResult {
  /** Valid patterns now held, in request order. */
  readonly subscribed: readonly string[];
  /** One entry per invalid pattern. */
  readonly errors: readonly TopicError[];
  /** Effective per-topic rate when one applies (protocol v1.2). */
  readonly maxHz?: number;
}

/** The gateway's result of an unsubscribe. */
export interface UnsubscribeResult {
  readonly unsubscribed: readonly string[];
  readonly errors: readonly TopicError[];
}
