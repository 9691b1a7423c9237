import { FeedStatus, encodeControl, nowMicros } from "../protocol/index.ts";
import type { FeedState } from "./feed-state.ts";
import type { LagProbes } from "./lag-probes.ts";
import type { Outboxes } from "./outboxes.ts";
import { TICK_MS } from "./rate-limit.ts";
import { ControlFrame, SessionMode, type Session } from "./session.ts";
import type { HubStats } from "./stats.ts";

/**
 * Slots of the heartbeat wheel at most: a period is cut into this many slots (each at least one hub
 * tick), and each tick sends the heartbeats of the slots that fell due since the previous one.
 */
export const HEARTBEAT_SLOTS = 100;

/**
 * Heartbeats: every `periodMs`, every connection, busy or idle, gets a `heartbeat` control event with
 * its sent, conflated and dropped counters, so a client can tell a quiet market from a dead link, and,
 * when lag probes run, its lag (ms). Driven by the hub's tick.
 *
 * Spread over the period, not all at once: a connection joins one slot of a wheel of up to
 * {@link HEARTBEAT_SLOTS} when it opens (its phase: the slot just sent, so its first heartbeat comes one
 * period later) and keeps it; each tick sends the slots that fell due. One round over all connections in
 * one event-loop turn cost ~11 µs per connection (encode, then a write of its own at the next flush):
 * 56 ms at 5,000 connections per worker, ~200 ms at 17,000; a slot is 1/100 of that.
 */
export class Heartbeats {
  /** Sessions by slot; a session stays in its slot (its phase) until it closes. */
  readonly #slots: Set<Session>[];
  readonly #slotMs: number;
  readonly #startMs: number;
  /** Slots sent since the start (absolute count); slot `#sentSlots` is due at start + (n + 1) · slotMs. */
  #sentSlots = 0;

  constructor(
    /** Heartbeat period, ms; 0 = no heartbeats. */
    private readonly periodMs: number,
    private readonly outboxes: Outboxes,
    private readonly stats: HubStats,
    private readonly probes: LagProbes,
    nowMs: number,
    /** The feed's state: `feed: "down"` rides on heartbeats while it is down. */
    private readonly feed: FeedState,
  ) {
    const slots = periodMs <= 0 ? 0 : Math.max(1, Math.min(HEARTBEAT_SLOTS, Math.floor(periodMs / TICK_MS)));
    this.#slots = Array.from({ length: slots }, () => new Set<Session>());
    this.#slotMs = slots === 0 ? 0 : periodMs / slots;
    this.#startMs = nowMs;
  }

  /**
   * A connection opened: it takes the slot sent last, so its first heartbeat comes one period from now
   * (within one slot), then one every period.
   */
  add(session: Session): void {
    const slots = this.#slots.length;
    if (slots === 0) return;
    const slot = (((this.#sentSlots - 1) % slots) + slots) % slots;
    session.heartbeatSlot = slot;
    (this.#slots[slot] as Set<Session>).add(session);
  }

  /** A connection closed: it leaves its slot. */
  remove(session: Session): void {
    if (session.heartbeatSlot < 0) return;
    this.#slots[session.heartbeatSlot]?.delete(session);
    session.heartbeatSlot = -1;
  }

  /**
   * Sends the slots that fell due by `nowMs` (hub clock, ms). After a stall longer than a period every
   * slot is sent once, not once per period missed.
   */
  tick(nowMs: number): void {
    const slots = this.#slots.length;
    if (slots === 0) return;
    const due = Math.floor((nowMs - this.#startMs) / this.#slotMs);
    if (due <= this.#sentSlots) return;
    // Queued outboxes are written first, so that each heartbeat's `sent` counts what went before it.
    this.outboxes.flushQueued();
    const ts = nowMicros();
    const from = Math.max(this.#sentSlots, due - slots);
    for (let n = from; n < due; n++) {
      this.#send(this.#slots[n % slots] as Set<Session>, nowMs, ts);
      // A period is complete when its last slot is sent: every connection got one heartbeat in it.
      if (n % slots === slots - 1) this.stats.heartbeats++;
    }
    this.#sentSlots = due;
  }

  /** One slot's connections get their counters. A session holding behind a snapshot wait is skipped. */
  #send(slot: Set<Session>, nowMs: number, ts: number): void {
    for (const session of slot) {
      if (session.closed) {
        slot.delete(session);
        session.heartbeatSlot = -1;
        continue;
      }
      if ((session.mode & SessionMode.HOLDING) !== 0) continue;
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
  }
}
