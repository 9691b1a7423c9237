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

/** Per-connection state of the fan-out, created when the socket opens. Counters are plain numbers. */
export class Session {
  /** Frames queued this event-loop turn, written in one corked batch by the hub. */
  readonly outbox: OutboxFrame[] = [];
  queued = false;
  /** Control frames in `outbox` (0 lets the flush skip looking for them). */
  controlQueued = 0;
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
