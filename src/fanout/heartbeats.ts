import { FeedStatus, encodeControl, nowMicros } from "../protocol/index.ts";
import type { FeedState } from "./feed-state.ts";
import type { LagProbes } from "./lag-probes.ts";
import type { Outboxes } from "./outboxes.ts";
import { ControlFrame, SessionMode, type Session } from "./session.ts";
import type { HubStats } from "./stats.ts";

/**
 * Heartbeats: every `periodMs`, every connection, busy or idle, gets a `heartbeat` control event with
 * its sent, conflated and dropped counters, so a client can tell a quiet market from a dead link, and,
 * when lag probes run, its lag (ms). Driven by the hub's tick.
 */
export class Heartbeats {
  #nextMs: number;

  constructor(
    /** Heartbeat period, ms; 0 = no heartbeats. */
    private readonly periodMs: number,
    private readonly sessions: ReadonlySet<Session>,
    private readonly outboxes: Outboxes,
    private readonly stats: HubStats,
    private readonly probes: LagProbes,
    nowMs: number,
    /** The feed's state: `feed: "down"` rides on heartbeats while it is down. */
    private readonly feed: FeedState,
  ) {
    this.#nextMs = nowMs + periodMs;
  }

  /** Sends a round when one is due at `nowMs` (hub clock, ms). */
  tick(nowMs: number): void {
    if (this.periodMs <= 0 || nowMs < this.#nextMs) return;
    this.#nextMs = nowMs + this.periodMs;
    this.#send(nowMs);
  }

  /**
   * Every connection gets its counters; queued outboxes are written first so `sent` is exact. A session
   * holding behind a snapshot wait is skipped (its counters would overtake the frames it holds).
   */
  #send(nowMs: number): void {
    this.outboxes.flushQueued();
    const ts = nowMicros();
    for (const session of this.sessions) {
      if (session.closed || (session.mode & SessionMode.HOLDING) !== 0) continue;
      const lag = this.probes.heartbeatLag(session, nowMs);
      const message = {
        e: "heartbeat",
        ts,
        sent: session.eventsSent,
        conflated: session.eventsConflated,
        dropped: session.eventsDropped,
        ...(lag < 0 ? {} : { lag }),
        ...(this.feed.up ? {} : { feed: FeedStatus.DOWN }),
      } as const;
      this.outboxes.enqueueControl(session, new ControlFrame(encodeControl(message, session.encoding)));
    }
    this.stats.heartbeats++;
  }
}
