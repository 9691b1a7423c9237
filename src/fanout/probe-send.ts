import type { Session } from "./session.ts";
import { SendResult } from "./sink.ts";
import type { HubStats } from "./stats.ts";

/** The probe payload, shared: the WebSocket layer copies it before `ping` returns. */
const PROBE_PAYLOAD = new DataView(new ArrayBuffer(8));
const PROBE_BYTES = new Uint8Array(PROBE_PAYLOAD.buffer);

/**
 * Sends one probe now: a WebSocket ping carrying the send time (float64, ms, hub clock), queued behind
 * everything written to the socket before it. Inside a `cork` it shares the data's syscall and TCP segment.
 * Used by `LagProbes` (src/fanout/lag-probes.ts) and by the outbox writer, which sends a due probe at the end of the
 * session's corked write (its own file: the writer must not depend on the lag rule's parts).
 */
export function sendProbe(session: Session, nowMs: number, stats: HubStats): void {
  PROBE_PAYLOAD.setFloat64(0, nowMs);
  const result = session.sink.ping(PROBE_BYTES);
  session.lastProbeMs = nowMs;
  session.probeDueMs = -1;
  // A ping the WebSocket layer refused (over its backpressure limit) is not in flight: the next sweep
  // tries again, and the byte watermarks deal with that socket meanwhile.
  if (result === SendResult.DROPPED) {
    stats.probesDropped++;
    return;
  }
  session.probeSentMs = nowMs;
  session.probeBytes = session.bytesOut;
  stats.probesSent++;
}
