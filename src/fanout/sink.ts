/**
 * What the hot path needs from a client connection. The gateway adapter implements it over a uWS
 * WebSocket; nothing in fanout/ knows which server library is underneath (cf. undici's Dispatcher).
 */
export interface FrameSink {
  /** Queues one WebSocket message; returns a {@link SendResult}. */
  send(frame: Uint8Array | string, isBinary: boolean): SendResult;
  /** Runs `fn` with writes coalesced into one syscall. */
  cork(fn: () => void): void;
  /** Bytes accepted by `send` but not yet written to the kernel. */
  bufferedBytes(): number;
  /** Starts a graceful WebSocket close with a code and a short reason (≤ 123 bytes). */
  close(code: number, reason: string): void;
}

/** Result of {@link FrameSink.send}; the values are uWebSockets.js's. */
export const SendResult = {
  /** Written, or buffered below the limit. */
  SENT: 0,
  /** Buffered; the socket is now over its drain threshold. */
  BACKPRESSURE: 1,
  /** Not sent: the socket's backpressure limit was exceeded. */
  DROPPED: 2,
} as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];
