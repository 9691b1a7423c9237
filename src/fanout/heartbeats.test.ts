import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, messages, quote, subscribed, turn } from "./hub.test-support.ts";

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
});
