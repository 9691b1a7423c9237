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
  /**
   * Sends a WebSocket ping with `payload` (≤ 125 bytes), queued behind the frames sent before it, so
   * its pong proves the client read them; returns a {@link SendResult}. The answer comes back through
   * the hub's `pong`.
   */
  ping(payload: Uint8Array): SendResult;
  /** Starts a graceful WebSocket close with a code and a short reason (≤ 123 bytes). */
  close(code: number, reason: string): void;
}

/**
 * Result of {@link FrameSink.send}, with uWebSockets.js 20.30's values and meaning (`WebSocket.send`
 * returns them as they are; test/send-result.test.ts checks them against the real binding).
 */
export const SendResult = {
  /** Backpressure: accepted and buffered; the socket has unsent bytes that will drain over time. */
  BACKPRESSURE: 0,
  /** Sent: written to the kernel (nothing left buffered). */
  SENT: 1,
  /** Dropped: not sent, the socket was over its `maxBackpressure` limit. */
  DROPPED: 2,
} as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];
