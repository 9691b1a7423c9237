import type { Encoding, MarketEvent, RequestId } from "../protocol/index.ts";
import type { TopicEntry } from "../subscriptions/index.ts";
import type { AccessState } from "./access-state.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { FrameSink } from "./sink.ts";

/** A concrete topic as the fan-out sees it: subscribers are sessions, the last value an encoded event. */
export type Topic = TopicEntry<Session, EncodedEvent>;

/**
 * A control reply or control event queued in an outbox. Never conflated or skipped (data events are);
 * only the WebSocket layer's hard backpressure limit can refuse it, and that is counted.
 */
export class ControlFrame {
  constructor(readonly data: Uint8Array | string) {}
}

export type OutboxFrame = Uint8Array | string | ControlFrame;

/**
 * Bits of {@link Session.mode}. A session with mode 0 (the common case) takes the publish fast path:
 * its bytes go straight into the outbox. Any bit set sends its updates through the hub's slower path.
 */
export const SessionMode = {
  /** Some subscription of the session has a rate (maxHz, or the gateway's cap). */
  RATED: 1,
  /** Over the soft watermark: only the latest update per topic is kept until the socket drains. */
  CONFLATING: 2,
  /** A subscribe is waiting for feed history: frames are held to keep snapshot, snapshot_end, live. */
  HOLDING: 4,
} as const;

/**
 * Bits of {@link Session.slowCause}: why a session is conflating. Conflation ends when no bit is left.
 */
export const SlowCause = {
  /** Over the soft watermark of unsent bytes (cleared when the socket drains to it). */
  BYTES: 1,
  /** Lagging: a probe unanswered past max-lag-ms, or more written than it reads in max-lag-ms (cleared by a probe answered under the bound). */
  LAG: 2,
} as const;

/** The latest update of one topic kept for a conflating session, and how many updates it stands for. */
export interface PendingUpdate {
  event: EncodedEvent;
  /** Updates merged into it (1 = none merged). */
  n: number;
  /** Flags of the updates merged away that the merged event must still carry ({@link carriedFlags}). */
  carry: number;
}

/**
 * A data event held while a snapshot waits for feed history: the update (a live one, or a SNAPSHOT
 * variant) and how many updates it stands for. Encoded for the session when released, so that its
 * topic and `q` decide then whether a snapshot sent meanwhile already represents it.
 */
export interface HeldEvent {
  readonly topic: Topic;
  readonly event: EncodedEvent;
  /** Updates it stands for (> 1: released as CONFLATED with `n`). */
  readonly n: number;
  /** Flags carried from the updates merged into it ({@link carriedFlags}). */
  readonly carry: number;
}

/** What a holding session keeps, in order: data events, control frames, and later snapshot waits. */
export type Held = HeldEvent | ControlFrame | SnapshotWait;

/** Options of one subscription pattern other than the defaults (every update, conflate when slow). */
export interface SubscriptionPolicy {
  /** Events per second per topic (0 = every update), as reported in the subscribe result. */
  readonly hz: number;
  /** Shortest time between two events of one topic, ms (0 = every update). */
  readonly intervalMs: number;
  readonly disconnectOnSlow: boolean;
}

/**
 * Rate state of one (session, topic) pair under a maxHz: when the last event went out, and the latest
 * update held back since, with how many updates it stands for.
 */
export class RateState {
  lastSentMs = Number.NEGATIVE_INFINITY;
  pending: EncodedEvent | undefined = undefined;
  /** Updates `pending` stands for. */
  merged = 0;
  /** Flags carried from the updates merged away behind `pending` ({@link carriedFlags}). */
  carry = 0;
  /** Whether the state sits in the hub's timer wheel. */
  scheduled = false;
  constructor(
    readonly session: Session,
    readonly topic: Topic,
    /** Shortest time between two events, ms (0 = no limit: the pair takes the plain path). */
    public intervalMs: number,
    /** {@link Session.policyEpoch} the interval was computed at. */
    public epoch: number,
  ) {}

  /**
   * A snapshot at `q` now represents the topic on this session: a held-back update with that `q` or an
   * older one would repeat it or go backwards, so it goes, and its merges leave the session's conflated
   * count (which counts only what the client is told about).
   */
  supersede(q: number): void {
    if (this.pending === undefined || this.pending.event.q > q) return;
    if (this.merged > 1) this.session.eventsConflated -= this.merged - 1;
    this.pending = undefined;
    this.merged = 0;
    this.carry = 0;
  }
}

/**
 * A subscribe whose snapshot waits for feed history (JetStream) on topics the gateway has no value for.
 * Until it completes, its session's later frames are held (see {@link Session.held}).
 */
export class SnapshotWait {
  /** History answered (or timed out); the snapshot can be completed when this wait reaches the head. */
  done = false;
  /** Topics whose snapshot this subscribe already sent, from the gateway's cache. */
  readonly sent = new Set<Topic>();
  /** What the history answered (empty after a timeout). */
  values: readonly MarketEvent[] = [];
  constructor(
    readonly id: RequestId,
    /** Concrete (non-wildcard) patterns of the subscribe: reported in `missing` when they have no value. */
    readonly concrete: readonly string[],
    /** Every pattern of the subscribe whose topics may have history. */
    readonly patterns: readonly string[],
  ) {}
}

/**
 * Per-connection state of the fan-out, created when the socket opens. Counters are plain numbers; fields
 * stay flat on the session (one hidden class, no indirection on the publish loop), and each group says
 * which part alone writes it.
 */
export class Session {
  // Written only by Outboxes (enqueueEvent / enqueueControl) and emptied by its OutboxWriter.
  /** Frames queued this event-loop turn, written in one corked batch. */
  readonly outbox: OutboxFrame[] = [];
  queued = false;
  /** Control frames in `outbox` (0 lets the flush skip looking for them). */
  controlQueued = 0;
  closed = false;
  /** {@link SessionMode} bits; 0 = fast path. */
  mode = 0;
  /** Data events written to this socket (snapshots and CONFLATED events included). */
  eventsSent = 0;
  /** Updates merged away into CONFLATED events (by maxHz or by slow-consumer conflation). */
  eventsConflated = 0;
  /** Updates this socket lost without a CONFLATED event standing for them (WebSocket layer refusals). */
  eventsDropped = 0;
  // ControlPlane's admission (token bucket).
  /** Control-message tokens left. */
  tokens: number;
  refilledAtMs: number;
  /** Control messages refused in a row for rate; past the burst the connection is closed. */
  rejectedInARow = 0;
  /** Heartbeats' wheel slot (the connection's heartbeat phase); -1 = in none. */
  heartbeatSlot = -1;

  // Created on first need, so an idle connection stays small (bench/idle-memory.ts).
  // Delivery's rate limiting (maxHz):
  /** Subscription options other than the defaults, by pattern (maxHz, onSlow). */
  policies: Map<string, SubscriptionPolicy> | null = null;
  /** Bumped when `policies` changes; rate states recompute their interval when theirs is older. */
  policyEpoch = 0;
  /** Per-topic rate state of rated sessions, created on a topic's first update. */
  rates: Map<Topic, RateState> | null = null;

  // Conflation's (slow consumers):
  /** While conflating: the latest update per topic, in first-merged order. */
  pending: Map<Topic, PendingUpdate> | null = null;
  /** When conflation started (ms, hub clock); meaningful while conflating. */
  slowSinceMs = 0;
  /** Why the session is conflating: {@link SlowCause} bits (0 = not conflating). */
  slowCause = 0;

  // LagProbes' (end-to-end lag, src/fanout/lag-probes.ts):
  /** Bytes of every frame written to this socket (data and control), as handed to the WebSocket layer. */
  bytesOut = 0;
  /** When the probe in flight was sent (ms, hub clock); -1 = none in flight. */
  probeSentMs = -1;
  /** `bytesOut` when the probe in flight was sent. */
  probeBytes = 0;
  /** When a probe fell due, waiting to ride on the next corked write (ms, hub clock); -1 = none due. */
  probeDueMs = -1;
  /** When the last probe was sent (ms, hub clock), answered or not. */
  lastProbeMs = Number.NEGATIVE_INFINITY;
  /** `bytesOut` at the send of the last answered probe: the client has read at least this much. */
  ackedBytes = 0;
  /** When the last probe was answered (ms, hub clock). */
  ackedAtMs = 0;
  /** Lag of the last answered probe, ms (send to answer); -1 = none answered yet. */
  lagMs = -1;
  /** Largest lag answered since the previous heartbeat, ms; -1 = none answered since. */
  worstLagMs = -1;
  /** Read throughput the client has shown, bytes per ms (0 = not measured). */
  readBytesPerMs = 0;
  /** Whether `readBytesPerMs` was measured while the client was behind (its limit, not just the offered rate). */
  readRateIsLimit = false;

  // Snapshots' (holding behind feed history):
  /** While holding: frames and later snapshot waits, in the order they were produced. */
  held: Held[] | null = null;
  /** The snapshot wait that holds the session, if any. */
  waiting: SnapshotWait | undefined = undefined;
  /**
   * While holding: per topic, the highest `q` released to the outbox since the hold began (snapshots
   * included). A held event at or below it is already represented and is not released (see
   * snapshots.ts); null when not holding.
   */
  delivered: Map<Topic, number> | null = null;

  // AccessPolicy's (--auth jwt; null with --auth none):
  /** Identity, grants, deadline and frames waiting for a token verification. */
  access: AccessState | null = null;

  /** msgpack connection (binary frames); false for JSON (text frames). */
  readonly isBinary: boolean;

  constructor(
    readonly encoding: Encoding,
    readonly sink: FrameSink,
    controlBurst: number,
    nowMs: number,
  ) {
    this.tokens = controlBurst;
    this.refilledAtMs = nowMs;
    this.isBinary = encoding === "msgpack";
  }
}

/**
 * The bytes of `event` for this session; standing for `n` > 1 updates, its CONFLATED variant with the
 * `carry` flags of the updates merged into it.
 */
export function frameOf(session: Session, event: EncodedEvent, n = 1, carry = 0): Uint8Array | string {
  if (n > 1) return event.conflated(n, session.isBinary, carry);
  return session.isBinary ? event.msgpack : event.json;
}
