import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, EventFlag } from "../protocol/index.ts";
import type { Hub } from "./hub.ts";
import {
  LAG_FLOOR_BYTES,
  LAG_FLOOR_MEASURED_BYTES,
  PROBE_SWEEP_MS,
  QUIET_BYTES,
  relaxedIntervalMs,
} from "./lag-probes.ts";
import {
  connect,
  messages,
  quote,
  setup,
  subscribed,
  turn,
  type FakeClock,
  type MemorySink,
} from "./hub.test-support.ts";
import type { Session } from "./session.ts";

const LAG = { maxLagMs: 300, probeIntervalMs: 100 };

/** Moves the hub's clock by `ms` in 10-ms ticks (a jump past 100 ms reads as a stalled process). */
function advance(hub: Hub, clock: FakeClock, ms: number): void {
  for (let left = ms; left > 0; left -= 10) {
    clock.nowMs += Math.min(10, left);
    hub.tick(clock.nowMs);
  }
}

/** Advances in 10-ms ticks until `done` holds (at most `maxMs`: a sweep every PROBE_SWEEP_MS must get there). */
function advanceUntil(hub: Hub, clock: FakeClock, done: () => boolean, what: string, maxMs = 500): void {
  for (let waited = 0; !done(); waited += 10) {
    assert.ok(waited < maxMs, `${what} within ${maxMs} ms`);
    advance(hub, clock, 10);
  }
}

/** Advances until every client has a probe in flight. */
function untilProbed(hub: Hub, clock: FakeClock, ...clients: { session: Session }[]): void {
  advanceUntil(hub, clock, () => clients.every((c) => c.session.probeSentMs >= 0), "a probe in flight");
}

/** The client answers the last ping it got, as a WebSocket library does once it has read up to it. */
function answer(hub: Hub, client: { session: Session; sink: MemorySink }): void {
  const payload = client.sink.pings.at(-1);
  assert.ok(payload !== undefined, "a probe was sent");
  hub.pong(client.session, Uint8Array.from(payload).buffer);
}

describe("Hub: lag probes", () => {
  it("keeps at most one probe in flight, carrying its send time; with nothing written, a due probe goes alone at the next sweep", () => {
    const { hub, clock } = setup(LAG);
    const client = connect(hub);
    advanceUntil(hub, clock, () => client.session.probeDueMs >= 0, "the first probe due");
    assert.equal(client.sink.pings.length, 0, "due, waiting for a write to ride on");
    advance(hub, clock, PROBE_SWEEP_MS);
    assert.equal(client.sink.pings.length, 1, "no write came: sent alone at the next sweep");
    assert.equal(client.sink.pingLog[0]!.corked, false);
    const sentMs = new DataView(Uint8Array.from(client.sink.pings[0]!).buffer).getFloat64(0);
    assert.equal(sentMs, client.session.probeSentMs);
    advance(hub, clock, 200);
    assert.equal(client.sink.pings.length, 1, "none while one is in flight");
    answer(hub, client);
    assert.equal(client.session.lagMs, clock.nowMs - sentMs);
    advanceUntil(hub, clock, () => client.sink.pings.length === 2, "the next probe");
    assert.ok(clock.nowMs - sentMs >= LAG.probeIntervalMs, "not before a period");
    assert.equal(hub.stats.lagCount, 1);
    assert.equal(hub.stats.probesSent, 2);
  });

  it("sends a due probe at the end of the connection's next corked write, behind its frames", async () => {
    const { hub, clock } = setup(LAG);
    const client = await subscribed(hub, ["xnas.*.quote"]);
    advanceUntil(hub, clock, () => client.session.probeDueMs >= 0, "a probe due");
    const framesBefore = client.sink.frames.length;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    assert.equal(client.sink.pings.length, 1);
    assert.deepEqual(client.sink.pingLog[0], { corked: true, afterFrames: framesBefore + 1 });
    assert.equal(client.session.probeDueMs, -1);
    assert.equal(client.session.probeBytes, client.session.bytesOut, "it measures the frames before it");
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    assert.equal(client.sink.pings.length, 1, "one in flight at most");
  });

  it("conflates a connection whose probe is unanswered past max-lag-ms, keeps replies and heartbeats going, probes it again with each answer, and sends the latest values when a probe comes back in time", async () => {
    const { hub, clock } = setup({ ...LAG, heartbeatMs: 100 });
    const slow = await subscribed(hub, ["xnas.*.quote"], "json");
    const fast = await subscribed(hub, ["xnas.*.quote"]);
    const aapl = hub.topic("xnas.AAPL.quote");
    untilProbed(hub, clock, slow, fast);
    answer(hub, fast);
    const slowSentMs = slow.session.probeSentMs;
    advanceUntil(hub, clock, () => clock.nowMs - slowSentMs >= LAG.maxLagMs - 10, "almost max-lag-ms");
    assert.equal(hub.laggingConnectionCount, 0, "not yet past the bound");
    if (fast.session.probeSentMs >= 0) answer(hub, fast);
    advance(hub, clock, PROBE_SWEEP_MS + 10);
    assert.equal(hub.laggingConnectionCount, 1);
    assert.equal(hub.slowConnectionCount, 1);
    assert.equal(hub.stats.lagEpisodes, 1);
    await turn();
    slow.sink.frames.length = 0;
    const updates = [quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote")];
    for (const u of updates) hub.publish(aapl, u);
    advance(hub, clock, 100);
    await turn();
    const got = messages(slow.sink);
    assert.deepEqual(
      got.map((m) => m["e"]),
      ["heartbeat"],
      "no data while lagging; the heartbeat goes out",
    );
    assert.ok((got[0]!["lag"] as number) > LAG.maxLagMs, "the heartbeat says how far behind it is");
    assert.equal(messages(fast.sink).filter((m) => m["e"] === "quote").length, 3);
    const pings = slow.sink.pings.length;
    answer(hub, slow);
    assert.equal(hub.laggingConnectionCount, 1, "answered, but later than max-lag-ms: still lagging");
    assert.deepEqual(
      messages(slow.sink).filter((m) => m["e"] === "quote"),
      [],
      "nothing released on a late answer",
    );
    assert.equal(slow.sink.pings.length, pings + 1, "a lagging connection is probed again at once");
    advance(hub, clock, 20);
    answer(hub, slow);
    assert.equal(hub.laggingConnectionCount, 0);
    assert.equal(hub.slowConnectionCount, 0);
    assert.deepEqual(
      messages(slow.sink).filter((m) => m["e"] === "quote"),
      [{ ...updates[2]!.event, f: EventFlag.CONFLATED, n: 3 }],
    );
  });

  it("closes a connection that never answers with 4007 once it has been conflated for slow-close-ms", () => {
    const { hub, clock } = setup({ ...LAG, slowCloseMs: 1000 });
    const mute = connect(hub);
    untilProbed(hub, clock, mute);
    const sentMs = mute.session.probeSentMs;
    advanceUntil(hub, clock, () => hub.laggingConnectionCount === 1, "conflated");
    assert.ok(clock.nowMs - sentMs > LAG.maxLagMs, "max-lag-ms after its first probe");
    assert.ok(clock.nowMs - sentMs <= LAG.maxLagMs + PROBE_SWEEP_MS + 10, "at the first sweep past it");
    advance(hub, clock, 990);
    assert.equal(mute.sink.closes.length, 0);
    advance(hub, clock, 20);
    assert.equal(mute.sink.closes.length, 1);
    const [close] = mute.sink.closes;
    assert.ok(close !== undefined);
    assert.equal(close.code, CloseCode.SLOW_CONSUMER);
    assert.match(close.reason, /lagging for \d+ ms, no probe answered within max-lag-ms/);
    hub.closed(mute.session, close.code);
    assert.equal(hub.laggingConnectionCount, 0);
  });

  it("conflates by bytes before the probe is late once the client has shown its read rate while behind", async () => {
    const { hub, clock } = setup(LAG);
    const reader = await subscribed(hub, ["xnas.*.quote"]);
    const topic = hub.topic("xnas.AAPL.quote");
    untilProbed(hub, clock, reader);
    answer(hub, reader); // baseline
    const baselineMs = clock.nowMs;
    // 40 kB written, then a probe answered 150 ms after it was sent (behind: ≥ a quarter of max-lag-ms).
    reader.session.bytesOut += 40_000;
    untilProbed(hub, clock, reader);
    advance(hub, clock, 150);
    answer(hub, reader);
    assert.equal(reader.session.readRateIsLimit, true);
    const rate = 40_000 / (clock.nowMs - baselineMs);
    assert.equal(reader.session.readBytesPerMs, rate);
    // Allowance: rate × max-lag-ms beyond what it read since the answer (nothing in flight is late yet).
    const allowance = rate * LAG.maxLagMs;
    assert.ok(allowance > LAG_FLOOR_MEASURED_BYTES, "above the floor, so the rate is what counts");
    const readBy = (ms: number): number => reader.session.ackedBytes + rate * (ms - reader.session.ackedAtMs);
    reader.session.bytesOut = Math.floor(readBy(clock.nowMs) + allowance) - 100;
    advance(hub, clock, PROBE_SWEEP_MS);
    assert.equal(hub.laggingConnectionCount, 0, "within the allowance");
    reader.session.bytesOut = Math.ceil(readBy(clock.nowMs + PROBE_SWEEP_MS) + allowance) + 100;
    advance(hub, clock, PROBE_SWEEP_MS);
    assert.equal(hub.laggingConnectionCount, 1, "past it, long before a probe is max-lag-ms old");
    assert.ok(
      reader.session.probeSentMs < 0 || clock.nowMs - reader.session.probeSentMs < LAG.maxLagMs,
      "no probe was late",
    );
    hub.publish(topic, quote("xnas.AAPL.quote"));
    assert.equal(reader.session.pending?.size, 1, "updates merge");
  });

  it("gives a client never seen behind 64 KiB beyond what it has shown it reads (room for a fast client's bursts)", async () => {
    const { hub, clock } = setup(LAG);
    const fast = await subscribed(hub, ["xnas.*.quote"]);
    untilProbed(hub, clock, fast);
    answer(hub, fast);
    fast.session.bytesOut += 60_000;
    advance(hub, clock, PROBE_SWEEP_MS);
    assert.equal(hub.laggingConnectionCount, 0);
    fast.session.bytesOut += 6000;
    advance(hub, clock, PROBE_SWEEP_MS);
    assert.equal(hub.laggingConnectionCount, 1);
  });

  it("ignores and counts a pong that answers no probe, and judges nobody on a sweep after the process stalled", () => {
    const { hub, clock } = setup(LAG);
    const client = connect(hub);
    hub.pong(client.session, new ArrayBuffer(0));
    untilProbed(hub, clock, client);
    hub.pong(client.session, new Float64Array([1]).buffer);
    assert.equal(hub.stats.pongsUnmatched, 2);
    const sentMs = client.session.probeSentMs;
    assert.ok(sentMs >= 0, "still in flight");
    clock.nowMs += 1000;
    hub.tick(clock.nowMs);
    assert.equal(hub.laggingConnectionCount, 0, "a 1 s stall: the pong may be waiting unread");
    advance(hub, clock, PROBE_SWEEP_MS);
    assert.equal(hub.laggingConnectionCount, 1, "judged on the next sweep");
  });

  it("puts the largest lag answered since the previous heartbeat in the heartbeat, then starts over", async () => {
    const { hub, clock } = setup({ ...LAG, heartbeatMs: 1000 });
    const client = connect(hub, "json");
    untilProbed(hub, clock, client);
    advance(hub, clock, 250);
    answer(hub, client);
    const worst = client.session.lagMs;
    assert.ok(worst >= 250);
    /** Answers every probe at once until `ms` have passed: lags of at most one tick. */
    const answerPromptly = (ms: number): void => {
      for (let left = ms; left > 0; left -= 10) {
        advance(hub, clock, 10);
        if (client.session.probeSentMs >= 0) answer(hub, client);
      }
    };
    answerPromptly(200);
    assert.ok(client.session.lagMs <= 10, "the last answer was prompt");
    const beats = (): Record<string, unknown>[] =>
      messages(client.sink).filter((m) => m["e"] === "heartbeat");
    // Heartbeats are queued on the tick and written on the next turn.
    for (let waited = 0; beats().length === 0; waited += 10) {
      assert.ok(waited < 1100, "a heartbeat within its period");
      answerPromptly(10);
      await turn();
    }
    assert.equal(beats()[0]!["lag"], worst, "the worst since the previous heartbeat, not the last");
    answerPromptly(1000);
    await turn();
    assert.equal(beats().length, 2);
    assert.ok((beats()[1]!["lag"] as number) <= 10, "a new window: only prompt answers in it");
  });

  it("relaxes the probe period to max-lag-ms, under a third of the idle timeout, never under probe-interval-ms", () => {
    const at = (probeIntervalMs: number, maxLagMs: number, idleTimeoutMs: number): number =>
      relaxedIntervalMs({ probeIntervalMs, maxLagMs, idleTimeoutMs });
    assert.equal(at(250, 1000, 120_000), 1000, "the defaults: max-lag-ms");
    assert.equal(at(250, 60_000, 120_000), 40_000, "a third of the idle timeout at most");
    assert.equal(at(250, 60_000, 0), 60_000, "no idle timeout: max-lag-ms");
    assert.equal(
      at(2000, 60_000, 8000),
      2666,
      "the smallest idle timeout (probe-interval-ms at most a quarter)",
    );
    assert.equal(at(250, 0, 120_000), 250, "max-lag-ms 0: never below the period");
    assert.equal(at(250, 100, 120_000), 250, "never below the period");
  });

  it("probes a quiet connection, or one whose last probe came back promptly, every relaxed period; a busy one that answered late every probe-interval-ms", () => {
    const { hub, clock } = setup(LAG);
    const quiet = connect(hub);
    const keepingUp = connect(hub);
    const late = connect(hub);
    untilProbed(hub, clock, quiet, keepingUp, late);
    answer(hub, quiet);
    answer(hub, keepingUp);
    // Answered a quarter of max-lag-ms after it was sent: behind when probed, though not lagging.
    clock.nowMs = late.session.probeSentMs + LAG.maxLagMs / 4;
    answer(hub, late);
    assert.ok(keepingUp.session.lagMs < LAG.maxLagMs / 4 && late.session.lagMs === LAG.maxLagMs / 4);
    const firstMs = {
      quiet: quiet.session.lastProbeMs,
      keepingUp: keepingUp.session.lastProbeMs,
      late: late.session.lastProbeMs,
    };
    // Written after their probes went out: neither is quiet.
    keepingUp.session.bytesOut += QUIET_BYTES;
    late.session.bytesOut += QUIET_BYTES;
    const secondMs: { quiet?: number; keepingUp?: number; late?: number } = {};
    advanceUntil(
      hub,
      clock,
      () => {
        if (quiet.sink.pings.length === 2) secondMs.quiet ??= quiet.session.probeSentMs;
        if (keepingUp.sink.pings.length === 2) secondMs.keepingUp ??= keepingUp.session.probeSentMs;
        if (late.sink.pings.length === 2) secondMs.late ??= late.session.probeSentMs;
        return Object.keys(secondMs).length === 3;
      },
      "the second probes",
      800,
    );
    const relaxedMs = relaxedIntervalMs({ ...LAG, idleTimeoutMs: 0 });
    assert.equal(relaxedMs, LAG.maxLagMs);
    const gap = (which: keyof typeof firstMs): number => secondMs[which]! - firstMs[which];
    assert.ok(gap("late") < relaxedMs, `late: ${gap("late")} ms`);
    assert.ok(gap("late") >= LAG.probeIntervalMs, `late: ${gap("late")} ms`);
    assert.ok(gap("quiet") >= relaxedMs, `quiet: ${gap("quiet")} ms`);
    assert.ok(gap("keepingUp") >= relaxedMs, `keeping up: ${gap("keepingUp")} ms`);
  });

  it("probes at once a connection whose traffic outpaces its measured throughput, instead of conflating it on a stale rate", () => {
    const { hub, clock } = setup(LAG);
    const client = connect(hub);
    untilProbed(hub, clock, client);
    answer(hub, client); // keeping up, nothing written: a relaxed period, and no throughput measured yet
    const answeredMs = clock.nowMs;
    // A burst past half the allowance (the 64 KiB floor), within it.
    client.session.bytesOut += LAG_FLOOR_BYTES / 2 + 1000;
    advanceUntil(hub, clock, () => client.session.probeSentMs >= 0, "a probe", 2 * PROBE_SWEEP_MS + 10);
    assert.ok(
      clock.nowMs - answeredMs < relaxedIntervalMs({ ...LAG, idleTimeoutMs: 0 }),
      "before its period",
    );
    assert.equal(hub.laggingConnectionCount, 0);
    answer(hub, client);
    assert.ok(client.session.readBytesPerMs > 0, "its throughput measured over the burst");
    // As much again: what it has read is known from the answer, so it is not lagging.
    client.session.bytesOut += LAG_FLOOR_BYTES / 2 + 1000;
    advance(hub, clock, PROBE_SWEEP_MS);
    assert.equal(hub.laggingConnectionCount, 0);
  });

  it("sends no probes and no lag in heartbeats when probe-interval-ms is 0", async () => {
    const { hub, clock } = setup({ probeIntervalMs: 0, heartbeatMs: 100 });
    const client = connect(hub, "json");
    advance(hub, clock, 110);
    await turn();
    assert.equal(client.sink.pings.length, 0);
    const beat = messages(client.sink).find((m) => m["e"] === "heartbeat");
    assert.ok(beat !== undefined && !("lag" in beat));
  });
});
