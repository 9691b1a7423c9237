import type { Conflation } from "./conflation.ts";
import { SlowCause, type Session } from "./session.ts";
import { sendProbe } from "./probe-send.ts";
import type { HubStats } from "./stats.ts";

/** The end-to-end lag rule's options (part of HubOptions). */
export interface LagOptions {
  /**
   * Longest lag, ms (default 1000), before a connection is conflated: a probe unanswered this long, or
   * more bytes written than the client has shown it reads in this long. 0 = probes only measure.
   */
  readonly maxLagMs: number;
  /**
   * Period of the lag probes (WebSocket pings), ms (default 250), of a connection not yet shown to keep
   * up (see {@link relaxedIntervalMs}); 0 = no probes, no lag rule.
   */
  readonly probeIntervalMs: number;
  /**
   * The WebSocket idle timeout, ms (the gateway's `--idle-timeout-ms`; 0 = none). While probes run, uWS
   * sends no pings of its own and the probes' pongs are what keep an answering client from being idle,
   * so no probe period is longer than a third of it.
   */
  readonly idleTimeoutMs: number;
}

/**
 * The smallest byte allowance of the throughput rule while the client's throughput is known only as a
 * lower bound (what it was offered and read): room for a fast client's bursts.
 */
export const LAG_FLOOR_BYTES = 64 * 1024;

/**
 * The smallest byte allowance once the client has been measured behind (its read rate is its limit).
 * Smaller than {@link LAG_FLOOR_BYTES}: for the 20 kB/s reader of issue 12, 64 KiB is 3.2 s of data,
 * past the ~2 s promise; 16 KiB is 0.8 s.
 */
export const LAG_FLOOR_MEASURED_BYTES = 16 * 1024;

/**
 * A probe answered at least this fraction of max-lag-ms late says the client was behind when it was
 * sent, so the throughput measured over it is the client's limit, not just what it was offered.
 */
const BEHIND_FRACTION = 0.25;

/**
 * A tick this late (ms after the previous one) means the process itself stalled (GC, a descheduled
 * core): answers may be sitting unread in the sockets, and timers run before I/O, so no connection is
 * judged on that tick.
 */
const STALL_MS = 100;

/**
 * The probe sweep (send due probes, find laggards) runs at most this often (ms), not on every 10 ms hub
 * tick: at 20,000 connections per process every tick would walk 2 M sessions a second for a rule whose
 * bound is max-lag-ms. A lagging connection does not wait for it: its next probe goes out with the pong.
 */
export const PROBE_SWEEP_MS = 50;

/**
 * A connection written less than this since its last probe is quiet: it can only lag by not reading at
 * all, which a probe shows just as well a little later, so it is probed every {@link relaxedIntervalMs}
 * instead of every probe-interval-ms. At 5,000 mostly idle connections per worker, pings sent alone were
 * a quarter of the worker's CPU (bench/results/2026-11-30-connections-100k.md).
 */
export const QUIET_BYTES = 16 * 1024;

/**
 * The probe period, ms, of a connection that is quiet ({@link QUIET_BYTES}) or keeping up (its last probe
 * came back within {@link BEHIND_FRACTION} of max-lag-ms): max-lag-ms. A client that stops reading is then
 * found within about twice max-lag-ms, the bound the lag rule promises anyway, and a gateway of busy,
 * healthy connections answers a quarter of the pongs it would at probe-interval-ms (each costs the
 * gateway a receive, and on one machine waking its client: bench/results/2026-11-30-probe-cost-analysis.md).
 * Never shorter than probe-interval-ms, and never longer than a third of the idle timeout, so the pongs
 * still come well inside it.
 */
export function relaxedIntervalMs(options: LagOptions): number {
  const { probeIntervalMs, maxLagMs, idleTimeoutMs } = options;
  const relaxed = Math.max(probeIntervalMs, maxLagMs);
  if (idleTimeoutMs <= 0) return relaxed;
  return Math.min(relaxed, Math.max(probeIntervalMs, Math.floor(idleTimeoutMs / 3)));
}

/** What the probes work with: each a typed part built before them. */
export interface LagProbeParts {
  readonly stats: HubStats;
  readonly conflation: Conflation;
  /** Open sessions. */
  readonly sessions: ReadonlySet<Session>;
  /** Monotonic clock, ms. */
  readonly now: () => number;
  /** Called when a session's lag conflation ends, so the latest values go out (Delivery.drained). */
  readonly caughtUp: (session: Session) => void;
}

/**
 * End-to-end lag per connection (issue 12). The gateway's byte watermark sees only the bytes its own
 * socket holds; the kernel's buffers on both ends and any proxy in between hide a slow reader from it
 * (PERF-NOTES: a 20 kB/s reader saw 35 s old prices after 40 s, never conflated). A WebSocket ping is
 * answered only after the client has read everything sent before it (RFC 6455 §5.5.2–3), so a ping
 * carrying its send time measures how far behind the client reads, whatever sits in between.
 *
 * At most one probe is in flight per connection. One falls due `probeIntervalMs` after the last (a
 * connection written less than {@link QUIET_BYTES} since, or whose last probe came back within a quarter
 * of `maxLagMs`, {@link relaxedIntervalMs} after it) and rides
 * on the connection's next corked write ({@link sendProbe} from the outbox writer: no syscall or TCP
 * segment of its own, which on a busy gateway is most of a probe's cost); a connection with nothing
 * written by the next sweep gets it alone. A lagging connection gets its next probe with each pong. A connection is lagging when its probe
 * has been unanswered for more than `maxLagMs`, or when the bytes written since its last answered probe
 * exceed what it reads in `maxLagMs` at the throughput it has shown (at least {@link LAG_FLOOR_BYTES},
 * or {@link LAG_FLOOR_MEASURED_BYTES} once measured while behind), crediting what it reads meanwhile. A lagging connection is conflated ({@link Conflation.lagging}) until a probe
 * comes back within `maxLagMs`. Checks run on a sweep every {@link PROBE_SWEEP_MS}, never per message.
 */
export class LagProbes {
  #lastTickMs = Number.NEGATIVE_INFINITY;
  #lastSweepMs = Number.NEGATIVE_INFINITY;
  /** A hub tick since the last sweep came late (the process stalled): the next sweep judges no one. */
  #stalled = false;

  constructor(
    private readonly options: LagOptions,
    private readonly parts: LagProbeParts,
  ) {}

  /** Whether probes run (probeIntervalMs > 0). */
  get enabled(): boolean {
    return this.options.probeIntervalMs > 0;
  }

  /**
   * The connection's lag for a heartbeat, whole ms: the largest answered probe's since the previous
   * heartbeat (else the last answered one's), or the age of the one in flight when larger (a lower bound
   * of how far behind it reads); starts the next heartbeat's window. -1 when probes are off.
   */
  heartbeatLag(session: Session, nowMs: number): number {
    if (!this.enabled) return -1;
    const inFlight = session.probeSentMs >= 0 ? nowMs - session.probeSentMs : 0;
    const answered = session.worstLagMs >= 0 ? session.worstLagMs : session.lagMs;
    session.worstLagMs = -1;
    return Math.max(0, Math.round(Math.max(answered, inFlight)));
  }

  /**
   * The hub's tick (hub clock, ms): every {@link PROBE_SWEEP_MS}, sends the probes that are due (or marks
   * them to ride on the next write) and conflates the connections found lagging.
   */
  tick(nowMs: number): void {
    if (!this.enabled) return;
    if (nowMs - this.#lastTickMs > STALL_MS) this.#stalled = true;
    this.#lastTickMs = nowMs;
    if (nowMs - this.#lastSweepMs < PROBE_SWEEP_MS) return;
    this.#lastSweepMs = nowMs;
    const stalled = this.#stalled;
    this.#stalled = false;
    const { probeIntervalMs, maxLagMs } = this.options;
    const relaxedMs = relaxedIntervalMs(this.options);
    const keepingUpMs = BEHIND_FRACTION * maxLagMs;
    const { conflation, stats } = this.parts;
    for (const session of this.parts.sessions) {
      if (session.closed) continue;
      const lagging = (session.slowCause & SlowCause.LAG) !== 0;
      const used = maxLagMs > 0 && !lagging ? this.#allowanceUsed(session, nowMs) : 0;
      if (session.probeSentMs < 0) {
        if (session.probeDueMs >= 0 || lagging) {
          // Due since the last sweep and no write took it (or lagging: no data is written to ride on).
          sendProbe(session, nowMs, stats);
        } else {
          const sinceMs = nowMs - session.lastProbeMs;
          const relaxed =
            session.bytesOut - session.probeBytes < QUIET_BYTES ||
            (session.lagMs >= 0 && session.lagMs < keepingUpMs);
          // Past half its allowance, the traffic outpaces what the client has shown it reads (a ramp, a
          // burst, or a rate measured in quiet times): probed now, not at its period. A client that keeps
          // up answers at once and is measured again long before the allowance is spent; without this, a
          // connection on a relaxed period whose traffic jumps would be conflated on a stale rate.
          if (sinceMs >= (relaxed ? relaxedMs : probeIntervalMs) || used > 0.5) session.probeDueMs = nowMs;
        }
      }
      if (maxLagMs === 0 || stalled || lagging) continue;
      // Lagging by the probe in flight's age, or by the bytes written past what it reads in max-lag-ms.
      const late = session.probeSentMs >= 0 && nowMs - session.probeSentMs > maxLagMs;
      if (late || used > 1) conflation.lagging(session);
    }
  }

  /**
   * A pong arrived (the WebSocket layer's pong handler). One that echoes the probe in flight ends it:
   * the lag and the throughput are measured, and a lagging connection answered within max-lag-ms is
   * released. Any other pong (unsolicited ones are allowed by RFC 6455 §5.5.3) is counted and ignored.
   */
  pong(session: Session, payload: ArrayBuffer): void {
    const stats = this.parts.stats;
    if (session.closed || session.probeSentMs < 0 || payload.byteLength !== 8) {
      stats.pongsUnmatched++;
      return;
    }
    const sentMs = new DataView(payload).getFloat64(0);
    if (sentMs !== session.probeSentMs) {
      stats.pongsUnmatched++;
      return;
    }
    const nowMs = this.parts.now();
    const lagMs = nowMs - sentMs;
    const { maxLagMs } = this.options;
    // Throughput: the bytes written between the previous answered probe's send and this one's were read
    // between the previous answer and this one.
    const bytes = session.probeBytes - session.ackedBytes;
    const spanMs = nowMs - session.ackedAtMs;
    if (session.lagMs >= 0 && bytes > 0 && spanMs > 0) {
      const sample = bytes / spanMs;
      if (lagMs >= BEHIND_FRACTION * maxLagMs) {
        session.readBytesPerMs = sample;
        session.readRateIsLimit = true;
      } else if (sample > session.readBytesPerMs) {
        session.readBytesPerMs = sample;
      }
    }
    session.ackedBytes = session.probeBytes;
    session.ackedAtMs = nowMs;
    session.lagMs = lagMs;
    if (lagMs > session.worstLagMs) session.worstLagMs = lagMs;
    session.probeSentMs = -1;
    stats.observeLag(lagMs);
    if ((session.slowCause & SlowCause.LAG) === 0) return;
    if (lagMs <= maxLagMs) {
      this.parts.conflation.caughtUp(session);
      this.parts.caughtUp(session);
    } else {
      // Still behind: measure again at once (rule 5: "probed again at once each time it answers").
      sendProbe(session, nowMs, stats);
    }
  }

  /**
   * The share of its byte allowance the connection has used: the bytes written to it beyond what it has
   * read by now at its measured throughput, over what it reads in max-lag-ms at that throughput, with a
   * floor. Until the client has been seen behind, its throughput is only a lower bound (what it was
   * offered), and the larger floor leaves a fast client room for bursts.
   */
  #allowanceUsed(session: Session, nowMs: number): number {
    const rate = session.readBytesPerMs;
    const unread = session.bytesOut - (session.ackedBytes + rate * (nowMs - session.ackedAtMs));
    const floor = session.readRateIsLimit ? LAG_FLOOR_MEASURED_BYTES : LAG_FLOOR_BYTES;
    return unread / Math.max(rate * this.options.maxLagMs, floor);
  }
}
