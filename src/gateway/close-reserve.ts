/**
 * Room kept above `--max-backpressure-bytes` so that a close frame always fits in uWS's buffer.
 *
 * uWS 20.30 drops any send, the close frame of `end(code, reason)` included, once a socket's buffered
 * amount is over its `maxBackpressure`; the client then sees 1006 when the connection ends, not the
 * documented code (issue 11 §2: slow consumers closed after a snapshot storm saw 1006 instead of 4007;
 * reproduced here: 2 MB buffered over a 2 MB limit, then `end(4007)`, and the client saw 1006). uWS
 * checks the limit before a send, so one send overshoots it.
 *
 * So the adapter applies `--max-backpressure-bytes` itself, with uWS's semantics (a send is refused,
 * DROPPED, when the socket is already over it), and gives uWS that limit plus
 * {@link CLOSE_FRAME_HEADROOM_BYTES}: room for the one overshooting frame and the close frame. A frame
 * too large for the headroom is refused too. A close frame is at most 2 + 2 + 123 bytes.
 *
 * A close frame still waits behind the bytes buffered before it: the client sees the code once it has
 * read them. uWS keeps the socket open for that (checked here: 4.4 MB buffered, a client that resumed
 * reading 12 s later still got 4007 with the default idle timeout of 120 s).
 */
export const CLOSE_FRAME_HEADROOM_BYTES = 1024 * 1024;

/** Bytes kept for the close frame itself, inside the headroom. */
const CLOSE_FRAME_BYTES = 1024;

/** The `maxBackpressure` given to uWS for a configured `--max-backpressure-bytes`. */
export function uwsBackpressureLimit(maxBackpressureBytes: number): number {
  return maxBackpressureBytes + CLOSE_FRAME_HEADROOM_BYTES;
}

/**
 * Whether a frame may be sent on a socket with `bufferedBytes` unsent: not when the socket is over the
 * configured limit (uWS's own rule), nor when the frame would leave no room for a close frame.
 */
export function maySend(
  bufferedBytes: number,
  frame: Uint8Array | string,
  maxBackpressureBytes: number,
): boolean {
  if (bufferedBytes > maxBackpressureBytes) return false;
  // UTF-8 takes at most 3 bytes per UTF-16 unit: an upper bound without encoding the text.
  const frameBytes = typeof frame === "string" ? frame.length * 3 : frame.byteLength;
  return bufferedBytes + frameBytes <= uwsBackpressureLimit(maxBackpressureBytes) - CLOSE_FRAME_BYTES;
}
