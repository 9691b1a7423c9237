import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventFlag } from "../protocol/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import { setup, messages, quote, request, resynced, subscribed, turn } from "./hub.test-support.ts";

/** The event as a client decodes it when it stands for `n` updates. */
const conflated = (update: EncodedEvent, n: number): unknown => ({
  ...update.event,
  f: EventFlag.CONFLATED,
  n,
});

describe("Hub: maxHz", () => {
  it("sends the first update at once, merges the rest of the interval into one CONFLATED event with n, sent when the interval ends", async () => {
    const { hub, clock } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json", { maxHz: 4 });
    const topic = hub.topic("xnas.AAPL.quote");
    const first = quote("xnas.AAPL.quote", 1);
    hub.publish(topic, first);
    await turn();
    assert.deepEqual(messages(a.sink), [first.event]);
    a.sink.frames.length = 0;
    clock.nowMs += 10;
    hub.publish(topic, quote("xnas.AAPL.quote", 2));
    hub.publish(topic, quote("xnas.AAPL.quote", 3));
    const last = quote("xnas.AAPL.quote", 4);
    hub.publish(topic, last);
    hub.tick(clock.nowMs);
    await turn();
    assert.deepEqual(messages(a.sink), [], "nothing before the interval ends");
    clock.nowMs = 1000 + 250;
    hub.tick(clock.nowMs);
    await turn();
    assert.deepEqual(messages(a.sink), [conflated(last, 3)], "the latest value, standing for 3 updates");
    assert.equal(a.session.eventsConflated, 2);
    assert.equal(hub.stats.conflatedMaxHz, 2);
  });

  it("carries RESYNC from an update merged away by the interval into the CONFLATED event, and not into the next one", async () => {
    const { hub, clock } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json", { maxHz: 4 });
    const topic = hub.topic("xnas.AAPL.quote");
    hub.publish(topic, quote("xnas.AAPL.quote", 1));
    await turn();
    a.sink.frames.length = 0;
    clock.nowMs += 10;
    hub.publish(topic, resynced(quote("xnas.AAPL.quote", 2)));
    const last = quote("xnas.AAPL.quote", 3);
    hub.publish(topic, last);
    clock.nowMs = 1000 + 250;
    hub.tick(clock.nowMs);
    await turn();
    assert.deepEqual(messages(a.sink), [{ ...last.event, f: EventFlag.CONFLATED | EventFlag.RESYNC, n: 2 }]);
    a.sink.frames.length = 0;
    clock.nowMs += 10;
    hub.publish(topic, quote("xnas.AAPL.quote", 4));
    const next = quote("xnas.AAPL.quote", 5);
    hub.publish(topic, next);
    clock.nowMs += 250;
    hub.tick(clock.nowMs);
    await turn();
    assert.deepEqual(messages(a.sink), [conflated(next, 2)], "the carry went with the event that said it");
  });

  it("delivers a single update held back by the interval as it is, unflagged", async () => {
    const { hub, clock } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json", { maxHz: 2 });
    const topic = hub.topic("xnas.AAPL.quote");
    hub.publish(topic, quote("xnas.AAPL.quote"));
    clock.nowMs += 100;
    const held = quote("xnas.AAPL.quote");
    hub.publish(topic, held);
    await turn();
    a.sink.frames.length = 0;
    clock.nowMs += 400;
    hub.tick(clock.nowMs);
    await turn();
    assert.deepEqual(messages(a.sink), [held.event]);
    assert.equal(a.session.eventsConflated, 0);
  });

  it("limits each topic on its own", async () => {
    const { hub, clock } = setup();
    const a = await subscribed(hub, ["xnas.*.quote"], "json", { maxHz: 1 });
    const aapl = quote("xnas.AAPL.quote");
    const msft = quote("xnas.MSFT.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), aapl);
    hub.publish(hub.topic("xnas.MSFT.quote"), msft);
    clock.nowMs += 1;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    assert.deepEqual(messages(a.sink), [aapl.event, msft.event]);
  });

  it("gives every update of a topic that an every-update pattern of the same connection also matches", async () => {
    const { hub, clock } = setup();
    const a = await subscribed(hub, ["xnas.*.quote"], "json", { maxHz: 1 });
    request(hub, a.session, {
      method: "subscribe",
      id: 2,
      params: { topics: ["xnas.AAPL.quote"], snapshot: false },
    });
    await turn();
    a.sink.frames.length = 0;
    const updates = [quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote")];
    for (const u of updates) {
      hub.publish(hub.topic("xnas.AAPL.quote"), u);
      clock.nowMs += 1;
    }
    await turn();
    assert.deepEqual(
      messages(a.sink),
      updates.map((u) => u.event),
    );
  });

  it("reports the effective rate in the reply; the gateway cap limits every subscription", async () => {
    const { hub } = setup({ maxHz: 2 });
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    for (const [id, maxHz] of [
      [1, undefined],
      [2, 10],
      [3, 0.5],
    ] as const) {
      request(hub, a.session, {
        method: "subscribe",
        id,
        params: { topics: ["x.y.quote"], maxHz, snapshot: false },
      });
    }
    await turn();
    assert.deepEqual(
      messages(a.sink).map((m) => (m["result"] as Record<string, unknown>)["maxHz"]),
      [2, 2, 0.5],
    );
  });

  it("reports the rate asked for exactly (999 stays 999)", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: ["x.y.quote"], maxHz: 999 } });
    await turn();
    assert.equal((messages(a.sink)[0]?.["result"] as Record<string, unknown>)["maxHz"], 999);
  });

  it("sends a held-back update at once when a re-subscribe lifts the rate, so q never goes backwards", async () => {
    const { hub, clock } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json", { maxHz: 1 });
    const topic = hub.topic("xnas.AAPL.quote");
    const updates = [quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote")];
    hub.publish(topic, updates[0]!);
    hub.publish(topic, updates[1]!);
    request(hub, a.session, {
      method: "subscribe",
      id: 2,
      params: { topics: ["xnas.AAPL.quote"], snapshot: false },
    });
    hub.publish(topic, updates[2]!);
    clock.nowMs += 5000;
    hub.tick(clock.nowMs);
    await turn();
    assert.deepEqual(
      messages(a.sink).map((m) => m["q"] ?? m["id"]),
      [updates[0]!.event.q, updates[1]!.event.q, 2, updates[2]!.event.q],
    );
  });

  it("drops the pending update of a topic unsubscribed before it was due", async () => {
    const { hub, clock } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json", { maxHz: 1 });
    const topic = hub.topic("xnas.AAPL.quote");
    hub.publish(topic, quote("xnas.AAPL.quote"));
    hub.publish(topic, quote("xnas.AAPL.quote"));
    request(hub, a.session, { method: "unsubscribe", id: 9, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    a.sink.frames.length = 0;
    clock.nowMs += 2000;
    hub.tick(clock.nowMs);
    await turn();
    assert.deepEqual(messages(a.sink), []);
  });
});
