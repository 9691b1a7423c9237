import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateWheel, TICK_MS } from "./rate-limit.ts";
import { RateState, type Session, type Topic } from "./session.ts";
import { quote, request, setup, subscribed } from "./hub.test-support.ts";

const state = (): RateState => new RateState({} as Session, {} as Topic, 100, 0);

describe("RateWheel", () => {
  it("takes states when due, never before, and removes them on request", () => {
    const wheel = new RateWheel();
    const soon = state();
    const late = state();
    const gone = state();
    wheel.schedule(soon, 100);
    wheel.schedule(late, 1e12);
    wheel.schedule(gone, 100);
    assert.equal(wheel.size, 3);
    wheel.remove(gone);
    assert.equal(gone.scheduled, false);
    const due: RateState[] = [];
    wheel.takeDue(100 - TICK_MS, due);
    assert.deepEqual(due, []);
    wheel.takeDue(100, due);
    assert.deepEqual(due, [soon]);
    assert.equal(wheel.size, 1);
    wheel.remove(late);
    wheel.remove(late);
    assert.equal(wheel.size, 0);
  });
});

describe("maxHz state goes with its connection (issue 11 §4)", () => {
  it("connections closed with updates held back by the slowest rate leave nothing in the timer wheel", async () => {
    const { hub, clock } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    const sessions = [];
    for (let i = 0; i < 50; i++) {
      sessions.push((await subscribed(hub, ["xnas.AAPL.quote"], "json", { maxHz: 0.01 })).session);
    }
    hub.publish(topic, quote("xnas.AAPL.quote"));
    clock.nowMs += 10;
    hub.publish(topic, quote("xnas.AAPL.quote"));
    assert.equal(hub.pendingRatedCount, 50, "each connection holds one update back for 100 s");
    for (const session of sessions.slice(0, 25)) {
      request(hub, session, { method: "unsubscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    }
    assert.equal(hub.pendingRatedCount, 25, "unsubscribing drops the held update");
    for (const session of sessions) hub.closed(session, 1000);
    assert.equal(hub.pendingRatedCount, 0, "closing drops the rest");
    for (const session of sessions) assert.equal(session.rates, null);
    assert.equal(hub.connectionCount, 0);
  });
});
