import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, setup, messages, quote, subscribed, turn } from "./hub.test-support.ts";

describe("Hub: heartbeat", () => {
  it("sends every connection its sent, conflated and dropped counters each period, after what it was sent", async () => {
    const { hub, clock } = setup({ heartbeatMs: 1000 });
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    const idle = await subscribed(hub, ["xnas.MSFT.quote"]);
    for (let i = 0; i < 3; i++) hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    hub.tick(clock.nowMs + 999);
    await turn();
    assert.equal(messages(a.sink).filter((m) => m["e"] === "heartbeat").length, 0, "not before the period");
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    hub.tick(clock.nowMs + 1000);
    await turn();
    const got = messages(a.sink);
    const beat = got.at(-1) ?? {};
    assert.equal(beat["e"], "heartbeat");
    assert.equal(typeof beat["ts"], "number");
    assert.deepEqual(
      { sent: beat["sent"], conflated: beat["conflated"], dropped: beat["dropped"] },
      {
        sent: 4,
        conflated: 0,
        dropped: 0,
      },
    );
    assert.equal(got.length - 1, 4, "the counters match the events before the heartbeat");
    assert.equal(messages(idle.sink).at(-1)?.["e"], "heartbeat", "an idle connection gets one too");
  });

  it("counts updates merged by maxHz in the heartbeat", async () => {
    const { hub, clock } = setup({ heartbeatMs: 1000 });
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json", { maxHz: 1 });
    for (let i = 0; i < 5; i++) hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    hub.tick(clock.nowMs + 1000);
    await turn();
    const got = messages(a.sink);
    assert.deepEqual(
      got.map((m) => [m["e"], m["n"] ?? m["conflated"]]),
      [
        ["quote", undefined],
        ["quote", 4],
        ["heartbeat", 3],
      ],
    );
  });

  it("spreads heartbeats over the period: each connection keeps its phase, one per period, none in one turn for all", async () => {
    const { hub, clock } = setup({ heartbeatMs: 1000 });
    const clients: ReturnType<typeof connect>[] = [];
    const openedAt: number[] = [];
    const beatsOf = (c: (typeof clients)[number]): number =>
      messages(c.sink).filter((m) => m["e"] === "heartbeat").length;
    /** When each connection got each heartbeat (the tick it was queued on). */
    const at: number[][] = [];
    let mostInOneTick = 0;
    for (let t = 0; t < 4000; t += 10) {
      // 20 connections opened 50 ms apart over the first period: 20 phases.
      if (t % 50 === 0 && clients.length < 20) {
        clients.push(connect(hub, "json"));
        openedAt.push(clock.nowMs);
        at.push([]);
      }
      const before = clients.map(beatsOf);
      clock.nowMs += 10;
      hub.tick(clock.nowMs);
      await turn();
      let inTick = 0;
      clients.forEach((c, i) => {
        const got = beatsOf(c) - (before[i] as number);
        assert.ok(got <= 1, "at most one heartbeat per tick");
        if (got === 1) {
          inTick++;
          at[i]?.push(clock.nowMs);
        }
      });
      mostInOneTick = Math.max(mostInOneTick, inTick);
    }
    assert.ok(mostInOneTick <= 2, `heartbeats spread over the period (${mostInOneTick} in one tick)`);
    at.forEach((times, i) => {
      const first = times[0] as number;
      const opened = openedAt[i] as number;
      // The first heartbeat comes within one period of the open (the test saw every tick since).
      assert.ok(
        first - opened <= 1000,
        `connection ${i}: first heartbeat ${first - opened} ms after opening`,
      );
      for (let k = 1; k < times.length; k++) {
        assert.equal(
          (times[k] as number) - (times[k - 1] as number),
          1000,
          `connection ${i}: one per period`,
        );
      }
    });
    // Every connection: every heartbeat it got, one per period since it opened.
    clients.forEach((c, i) => {
      assert.equal(beatsOf(c), Math.floor((clock.nowMs - (openedAt[i] as number)) / 1000), `connection ${i}`);
    });
    assert.equal(hub.stats.heartbeats, Math.floor((clock.nowMs - 1000) / 1000), "periods completed");
  });

  it("stops a closed connection's heartbeats and sends each slot once after a stall longer than a period", async () => {
    const { hub, clock } = setup({ heartbeatMs: 1000 });
    const gone = connect(hub, "json");
    const kept = connect(hub, "json");
    hub.closed(gone.session, 1000);
    clock.nowMs += 5000;
    hub.tick(clock.nowMs);
    await turn();
    assert.equal(messages(gone.sink).length, 0, "no heartbeat after close");
    assert.equal(
      messages(kept.sink).filter((m) => m["e"] === "heartbeat").length,
      1,
      "one heartbeat after the stall, not one per missed period",
    );
  });
});
