import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, EventFlag } from "../protocol/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import { setup, messages, quote, request, resynced, subscribed, turn } from "./hub.test-support.ts";

/** The event as a client decodes it when it stands for `n` updates. */
const conflated = (update: EncodedEvent, n: number): unknown => ({
  ...update.event,
  f: EventFlag.CONFLATED,
  n,
});

describe("Hub: slow consumers", () => {
  it("conflates a socket over the soft watermark after a write, and sends the latest value per topic flagged CONFLATED with n when it drains", async () => {
    const { hub } = setup({ slowSoftBytes: 1000 });
    const slow = await subscribed(hub, ["xnas.*.quote"]);
    const fast = await subscribed(hub, ["xnas.*.quote"]);
    const aapl = hub.topic("xnas.AAPL.quote");
    const msft = hub.topic("xnas.MSFT.quote");
    slow.sink.buffered = 1001;
    const written = quote("xnas.AAPL.quote");
    hub.publish(aapl, written);
    await turn();
    assert.deepEqual(messages(slow.sink), [written.event], "the turn's events are written; then it is slow");
    assert.equal(hub.slowConnectionCount, 1);
    slow.sink.frames.length = 0;
    const a = [quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote")];
    const m = [quote("xnas.MSFT.quote"), quote("xnas.MSFT.quote")];
    for (const u of a) hub.publish(aapl, u);
    for (const u of m) hub.publish(msft, u);
    await turn();
    assert.deepEqual(messages(slow.sink), [], "nothing written while over the watermark");
    assert.equal(messages(fast.sink).length, 6, "the fast socket gets every update");
    slow.sink.buffered = 1000;
    hub.drained(slow.session);
    assert.deepEqual(messages(slow.sink), [conflated(a[2]!, 3), conflated(m[1]!, 2)]);
    assert.equal(slow.session.eventsConflated, 3);
    assert.equal(slow.session.eventsSent, 3);
    assert.equal(hub.stats.conflatedSlow, 3);
    assert.equal(hub.slowConnectionCount, 0);
  });

  it("carries RESYNC from an update merged away into the CONFLATED event that stands for it", async () => {
    const { hub } = setup({ slowSoftBytes: 1000 });
    const slow = await subscribed(hub, ["xnas.*.quote"], "json");
    const aapl = hub.topic("xnas.AAPL.quote");
    slow.sink.buffered = 1001;
    hub.publish(aapl, quote("xnas.AAPL.quote"));
    await turn();
    slow.sink.frames.length = 0;
    const afterReconnect = resynced(quote("xnas.AAPL.quote"));
    const later = [quote("xnas.AAPL.quote"), quote("xnas.AAPL.quote")];
    hub.publish(aapl, afterReconnect);
    for (const u of later) hub.publish(aapl, u);
    slow.sink.buffered = 0;
    hub.drained(slow.session);
    assert.deepEqual(messages(slow.sink), [
      { ...later[1]!.event, f: EventFlag.CONFLATED | EventFlag.RESYNC, n: 3 },
    ]);
  });

  it("keeps one pending entry per topic however many updates arrive (memory bounded by topics)", async () => {
    const { hub } = setup();
    const slow = await subscribed(hub, ["xnas.*.quote"]);
    slow.sink.buffered = 5000;
    hub.publish(hub.topic("xnas.A.quote"), quote("xnas.A.quote"));
    await turn();
    for (let i = 0; i < 10_000; i++) {
      const name = `xnas.${"ABC"[i % 3]}.quote`;
      hub.publish(hub.topic(name), quote(name));
    }
    assert.equal(slow.session.pending?.size, 3);
    assert.equal(slow.session.eventsConflated, 10_000 - 3);
  });

  it("sends a single pending update as it is, without the CONFLATED flag", async () => {
    const { hub } = setup();
    const slow = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    slow.sink.buffered = 1001;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    const one = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), one);
    slow.sink.frames.length = 0;
    slow.sink.buffered = 0;
    hub.drained(slow.session);
    assert.deepEqual(messages(slow.sink), [one.event]);
  });

  it("sends a subscribe's snapshot before its snapshot_end on a conflating connection", async () => {
    const { hub } = setup();
    const cached = quote("xlon.VOD.quote");
    hub.publish(hub.topic("xlon.VOD.quote"), cached);
    const slow = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    slow.sink.buffered = 1001;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    slow.sink.frames.length = 0;
    request(hub, slow.session, { method: "subscribe", id: 5, params: { topics: ["xlon.VOD.quote"] } });
    await turn();
    assert.deepEqual(
      messages(slow.sink).map((m) => m["e"] ?? "reply"),
      ["reply", "quote", "snapshot_end"],
    );
    assert.equal(messages(slow.sink)[1]?.["f"], 1);
  });

  it("forgets a conflating connection's pending value of a topic it unsubscribes: a later snapshot is not merged with it", async () => {
    const { hub } = setup();
    // Another connection keeps the topic watched, so its cached value stays (issue 10: a value nobody
    // watches is dropped) and the re-subscribe gets a snapshot.
    await subscribed(hub, ["xnas.AAPL.quote"]);
    const slow = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    const topic = hub.topic("xnas.AAPL.quote");
    slow.sink.buffered = 1001;
    hub.publish(topic, quote("xnas.AAPL.quote"));
    await turn();
    slow.sink.frames.length = 0;
    hub.publish(topic, quote("xnas.AAPL.quote"));
    hub.publish(topic, quote("xnas.AAPL.quote"));
    assert.equal(slow.session.eventsConflated, 1);
    request(hub, slow.session, { method: "unsubscribe", id: 6, params: { topics: ["xnas.AAPL.quote"] } });
    request(hub, slow.session, { method: "subscribe", id: 7, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    slow.sink.buffered = 0;
    hub.drained(slow.session);
    const events = messages(slow.sink).filter((m) => m["e"] === "quote");
    assert.deepEqual(
      events.map((m) => [m["f"], m["n"]]),
      [[1, undefined]],
      "one snapshot, not merged with the discarded value",
    );
    assert.equal(slow.session.eventsConflated, 0, "the client is not told about merges it never got");
  });

  it("still answers control requests while conflating", async () => {
    const { hub } = setup();
    const slow = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    slow.sink.buffered = 1001;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    slow.sink.frames.length = 0;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    request(hub, slow.session, { method: "list", id: 3 });
    await turn();
    assert.deepEqual(messages(slow.sink), [{ id: 3, result: { topics: ["xnas.AAPL.quote"] } }]);
  });

  it("releases on the tick when the socket drained without a drain callback", async () => {
    const { hub, clock } = setup();
    const slow = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    slow.sink.buffered = 1001;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    const latest = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), latest);
    slow.sink.frames.length = 0;
    slow.sink.buffered = 10;
    hub.tick(clock.nowMs + 10);
    assert.deepEqual(messages(slow.sink), [latest.event]);
  });

  it("closes with 4007 and a retry hint a socket over the soft watermark for slowCloseMs", async () => {
    const { hub, clock } = setup({ slowCloseMs: 5000, retryAfterMs: 1500 });
    const slow = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    slow.sink.buffered = 1001;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    hub.tick(clock.nowMs + 4999);
    assert.equal(slow.sink.closes.length, 0);
    hub.tick(clock.nowMs + 5000);
    assert.equal(slow.sink.closes.length, 1);
    assert.equal(slow.sink.closes[0]?.code, CloseCode.SLOW_CONSUMER);
    assert.deepEqual(JSON.parse(slow.sink.closes[0]?.reason ?? ""), {
      msg: "slow consumer: over 1000 bytes unsent for 5000 ms",
      retryAfterMs: 1500,
    });
  });

  it("closes with 4007 at the next tick a socket over the hard watermark", async () => {
    const { hub, clock } = setup({ slowHardBytes: 4000 });
    const slow = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    slow.sink.buffered = 4001;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    hub.tick(clock.nowMs + 10);
    assert.equal(slow.sink.closes[0]?.code, CloseCode.SLOW_CONSUMER);
    assert.match(slow.sink.closes[0]?.reason ?? "", /4001 bytes unsent, over the hard limit of 4000/);
  });

  it('closes with 4007 instead of conflating a connection holding an onSlow "disconnect" subscription', async () => {
    const { hub } = setup();
    const script = await subscribed(hub, ["xnas.AAPL.quote"], "json", { onSlow: "disconnect" });
    script.sink.buffered = 1001;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    assert.equal(script.sink.closes[0]?.code, CloseCode.SLOW_CONSUMER);
    assert.match(script.sink.closes[0]?.reason ?? "", /onSlow/);
    assert.equal(hub.slowConnectionCount, 0);
  });
});
