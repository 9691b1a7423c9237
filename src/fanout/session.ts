import type { Encoding } from "../protocol/index.ts";
import type { FrameSink } from "./sink.ts";

/**
 * A control reply or control event queued in an outbox. Never skipped for a slow socket (data events
 * are); only the WebSocket layer's hard backpressure limit can refuse it, and that is counted.
 */
export class ControlFrame {
  constructor(readonly data: Uint8Array | string) {}
}

export type OutboxFrame = Uint8Array | string | ControlFrame;

/**
 * Per-connection state, created at upgrade and held as the socket's typed user data. Counters are
 * plain numbers; `flush` is bound once here so the per-turn flush allocates no closure.
 */
export class Session {
  /** Frames queued this event-loop turn, written in one corked batch by the hub. */
  readonly outbox: OutboxFrame[] = [];
  queued = false;
  closed = false;
  /** Data events written to this socket. */
  eventsSent = 0;
  /** Data events this socket did not get (slow consumer or backpressure). */
  eventsDropped = 0;
  /** Control-message token bucket. */
  tokens: number;
  refilledAtMs: number;
  /** Control messages refused in a row for rate; past the burst the connection is closed. */
  rejectedInARow = 0;
  /** Set by the hub: writes `outbox` to `sink` (bound to this session). */
  flush: () => void = () => undefined;

  constructor(
    readonly id: number,
    readonly encoding: Encoding,
    readonly sink: FrameSink,
    controlBurst: number,
    nowMs: number,
  ) {
    this.tokens = controlBurst;
    this.refilledAtMs = nowMs;
  }

  get isBinary(): boolean {
    return this.encoding === "msgpack";
  }
}
