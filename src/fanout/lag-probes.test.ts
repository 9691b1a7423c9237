import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, EventFlag } from "../protocol/index.ts";
import type { Hub } from "./hub.ts";
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

/** The client answers the last ping it got, as a WebSocket library does once it has read up to it. */
function answer(hub: Hub, client: { session: Session; sink: MemorySink }): void {
  const payload = client.sink.pings.at(-1);
  assert.ok(payload !== undefined, "a probe was sent");
  hub.pong(client.session, Uint8Array.from(payload).buffer);
}

describe("Hub: lag probes", () => {
  it("keeps at most one probe in flight, carrying its send time, and the next goes out a period after the last", () => {
    const { hub, clock } = setup(LAG);
    const client = connect(hub);
    advance(hub, clock, 10);
    assert.equal(client.sink.pings.length, 1);
    const sentMs = new DataView(Uint8Array.from(client.sink.pings[0]!).buffer).getFloat64(0);
    assert.equal(sentMs, clock.nowMs);
    advance(hub, clock, 200);
    assert.equal(client.sink.pings.length, 1, "none while one is in flight");
    answer(hub, client);
    assert.equal(client.session.lagMs, 200);
    advance(hub, clock, 10);
    assert.equal(client.sink.pings.length, 2, "due: more than a period since the last");
    answer(hub, client);
    advance(hub, clock, 50);
    assert.equal(client.sink.pings.length, 2, "not before a period");
    advance(hub, clock, 50);
    assert.equal(client.sink.pings.length, 3);
    assert.equal(hub.stats.lagCount, 2);
    assert.equal(hub.stats.probesSent, 3);
  });

  it("conflates a connection whose probe is unanswered past max-lag-ms, keeps replies and heartbeats going, and sends the latest values when a probe comes back in time", async () => {
    const { hub, clock } = setup({ ...LAG, heartbeatMs: 100 });
    const slow = await subscribed(hub, ["xnas.*.quote"], "json");
    const fast = await subscribed(hub, ["xnas.*.quote"]);
    const aapl = hub.topic("xnas.AAPL.quote");
    advance(hub, clock, 10);
    answer(hub, fast);
    // The first probes went out at the first tick after subscribing (the hub's own timer may have run it).
    advance(hub, clock, 280);
    assert.equal(hub.laggingConnectionCount, 0, "not yet past the bound");
    answer(hub, fast);
    advance(hub, clock, 30);
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
    assert.ok((got[0]!["lag"] as number) > 300, "the heartbeat says how far behind it is");
    assert.equal(messages(fast.sink).filter((m) => m["e"] === "quote").length, 3);
    answer(hub, slow);
    assert.equal(hub.laggingConnectionCount, 1, "answered, but later than max-lag-ms: still lagging");
    assert.deepEqual(
      messages(slow.sink).filter((m) => m["e"] === "quote"),
      [],
      "nothing released on a late answer",
    );
    advance(hub, clock, 10);
    assert.equal(slow.sink.pings.length, 2, "a lagging connection is probed again at once");
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
    advance(hub, clock, 320);
    assert.equal(hub.laggingConnectionCount, 1, "conflated max-lag-ms after its first probe");
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
    advance(hub, clock, 10);
    answer(hub, reader); // baseline
    // 20 kB written, read in 250 ms (answered 200 ms after the probe: behind) → 80 B/ms, limit known.
    reader.session.bytesOut += 20_000;
    advance(hub, clock, 100);
    advance(hub, clock, 150);
    answer(hub, reader);
    assert.equal(reader.session.readRateIsLimit, true);
    assert.equal(Math.round(reader.session.readBytesPerMs), 80);
    // Allowance 80 B/ms × 300 ms = 24 kB beyond what it read since; a probe goes out and stays unanswered.
    advance(hub, clock, 10);
    reader.session.bytesOut += 24_000 + 80 * 10;
    advance(hub, clock, 10);
    assert.equal(hub.laggingConnectionCount, 0, "within the allowance");
    reader.session.bytesOut += 2000;
    advance(hub, clock, 10);
    assert.equal(hub.laggingConnectionCount, 1, "past it, long before the probe is 300 ms old");
    hub.publish(topic, quote("xnas.AAPL.quote"));
    assert.equal(reader.session.pending?.size, 1, "updates merge");
  });

  it("gives a client never seen behind 64 KiB beyond what it has shown it reads (room for a fast client's bursts)", async () => {
    const { hub, clock } = setup(LAG);
    const fast = await subscribed(hub, ["xnas.*.quote"]);
    advance(hub, clock, 10);
    answer(hub, fast);
    fast.session.bytesOut += 60_000;
    advance(hub, clock, 10);
    assert.equal(hub.laggingConnectionCount, 0);
    fast.session.bytesOut += 6000;
    advance(hub, clock, 10);
    assert.equal(hub.laggingConnectionCount, 1);
  });

  it("ignores and counts a pong that answers no probe, and judges nobody on a tick after the process stalled", () => {
    const { hub, clock } = setup(LAG);
    const client = connect(hub);
    hub.pong(client.session, new ArrayBuffer(0));
    advance(hub, clock, 10);
    hub.pong(client.session, new Float64Array([1]).buffer);
    assert.equal(hub.stats.pongsUnmatched, 2);
    assert.equal(client.session.probeSentMs, clock.nowMs, "still in flight");
    clock.nowMs += 1000;
    hub.tick(clock.nowMs);
    assert.equal(hub.laggingConnectionCount, 0, "a 1 s stall: the pong may be waiting unread");
    advance(hub, clock, 10);
    assert.equal(hub.laggingConnectionCount, 1, "judged on the next tick");
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
