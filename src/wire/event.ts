import type { FeedStatus } from "./codes.ts";
import type { MarketEventType } from "./topic.ts";

/**
 * Data events of protocol v1 (proto/PROTOCOL.md, "Data events"), as the gateway encodes them and the SDK
 * hands them to callers. Key order here is the wire order (msgpack and JSON alike): `e`, `t`, `q`, `te`,
 * `ts`, then `f` and `n` when set, then the payload keys of the type.
 */
interface EventHeader {
  /** Topic, `<venue>.<symbol>.<type>`. */
  readonly t: string;
  /** Per-topic sequence number, assigned by the gateway (per gateway process), starting at 1. */
  readonly q: number;
  /** Venue event time, integer microseconds since the epoch. */
  readonly te: number;
  /** Gateway time when the event was encoded for sending, integer microseconds since the epoch. */
  readonly ts: number;
  /** Flags bitset: 1 SNAPSHOT, 2 CONFLATED, 4 STALE, 8 RESYNC ({@link EventFlag}); absent means 0. */
  readonly f?: number;
  /** For a CONFLATED event: how many updates it stands for (n ≥ 2). */
  readonly n?: number;
}

export interface TradeEvent extends EventHeader {
  readonly e: "trade";
  /** Price. */
  readonly p: number;
  /** Size. */
  readonly z: number;
}
export interface QuoteEvent extends EventHeader {
  readonly e: "quote";
  readonly bp: number;
  readonly bz: number;
  readonly ap: number;
  readonly az: number;
}
export interface BarEvent extends EventHeader {
  readonly e: "bar";
  readonly o: number;
  readonly h: number;
  readonly l: number;
  readonly c: number;
  readonly v: number;
}
/** A market data event. */
export type MarketEvent = TradeEvent | QuoteEvent | BarEvent;

/** Payload keys per event type, in wire order. */
export const PAYLOAD_KEYS = {
  trade: ["p", "z"],
  quote: ["bp", "bz", "ap", "az"],
  bar: ["o", "h", "l", "c", "v"],
} as const satisfies Record<MarketEventType, readonly string[]>;

/** Payload keys that are sizes or volumes: they must not be negative. */
export const NON_NEGATIVE_KEYS: ReadonlySet<string> = new Set(["z", "bz", "az", "v"]);

/**
 * Sent once after the snapshot events of a subscribe; `id` is the subscribe request's id. `missing`
 * (only when non-empty) lists the concrete topics of that subscribe that have no last value yet.
 */
export interface SnapshotEndEvent {
  readonly e: "snapshot_end";
  readonly id: string | number;
  /** Concrete topics of that subscribe without a last value yet (protocol v1.2; absent when none). */
  readonly missing?: readonly string[];
  /** The snapshot stopped at `--max-snapshot-values`: some matched topics got no value (protocol v1.8; absent when not). */
  readonly truncated?: true;
}

/**
 * Sent to every connection every heartbeat period, busy or idle, so that a client can tell a quiet
 * market from a dead link. Counters are this connection's, since it opened, at the moment of sending.
 */
export interface HeartbeatEvent {
  readonly e: "heartbeat";
  /** Gateway time, integer microseconds since the epoch. */
  readonly ts: number;
  /** Data events written to this connection (snapshots and CONFLATED events included). */
  readonly sent: number;
  /** Updates merged away into CONFLATED events (the sum of their `n - 1`). */
  readonly conflated: number;
  /** Updates this connection lost without a CONFLATED event standing for them. */
  readonly dropped: number;
  /**
   * How far behind this connection reads, whole ms (protocol v1.5): the last lag probe's round trip, or
   * the age of the probe still unanswered when larger. Absent when the gateway runs no lag probes.
   */
  readonly lag?: number;
  /** `"down"` while the gateway's feed is down (protocol v1.9); absent while it is up. */
  readonly feed?: FeedStatus;
}

/**
 * Sent to every connection when the gateway loses its feed (its NATS connection) and when it regains
 * it, and to a connection that opens while the feed is down (protocol v1.9). While the feed
 * is down no live event can arrive, and snapshots are flagged STALE.
 */
export interface FeedEvent {
  readonly e: "feed";
  readonly state: FeedStatus;
  /** Gateway time of the change, integer microseconds since the epoch. */
  readonly ts: number;
}
