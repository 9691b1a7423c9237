import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, turn, decode, decodedFrames, quote, subscribed, type SentFrame } from "./hub.test-support.ts";

describe("Hub: publish", () => {
  it("delivers one update to each subscriber once, after the turn, however many of its patterns match", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote", "xnas.*.quote", "xnas.>"]);
    const b = await subscribed(hub, ["xnas.AAPL.quote"]);
    const other = await subscribed(hub, ["xnas.MSFT.quote"]);
    const topic = hub.topic("xnas.AAPL.quote");
    const update = quote("xnas.AAPL.quote");
    hub.publish(topic, update);
    assert.equal(a.sink.frames.length, 0, "nothing is written before the turn ends");
    await turn();
    assert.equal(a.sink.frames.length, 1);
    assert.equal(b.sink.frames.length, 1);
    assert.equal(other.sink.frames.length, 0);
    assert.deepEqual(decode(a.sink.frames[0] as SentFrame), update.event);
    assert.equal(a.session.eventsSent, 1);
    assert.equal(hub.stats.eventsRouted, 1);
    assert.equal(hub.stats.framesOut, 2, "two data frames");
    assert.equal(hub.stats.controlFramesOut, 3, "three subscribe replies, counted apart from data");
    assert.equal(hub.stats.bytesOut, 2 * update.msgpack.length);
  });

  it("gives every msgpack subscriber the same encoded bytes (encode once)", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"]);
    const b = await subscribed(hub, ["xnas.*.quote"]);
    const update = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), update);
    await turn();
    assert.equal(a.sink.frames[0]?.data, update.msgpack);
    assert.equal(b.sink.frames[0]?.data, update.msgpack);
    assert.equal(a.sink.frames[0]?.isBinary, true);
  });

  it("gives json subscribers the JSON text of the event as a text frame", async () => {
    const { hub } = setup();
    const j = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    const m = await subscribed(hub, ["xnas.AAPL.quote"], "msgpack");
    const update = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), update);
    await turn();
    assert.deepEqual(decode(j.sink.frames[0] as SentFrame), decode(m.sink.frames[0] as SentFrame));
    const text = JSON.stringify(update.event);
    assert.deepEqual(j.sink.frames, [{ data: text, bytes: text, isBinary: false }]);
    assert.equal(m.sink.frames[0]?.data, update.msgpack);
  });

  it("writes all of a turn's updates to a socket in order, as one msgpack array frame inside one cork", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.*.quote"]);
    const updates = ["xnas.AAPL.quote", "xnas.MSFT.quote", "xnas.AAPL.quote"].map(quote);
    for (const update of updates) hub.publish(hub.topic(update.event.t), update);
    await turn();
    assert.equal(a.sink.corks, 1);
    assert.equal(a.sink.frames.length, 1);
    // The array is the shared encoded bytes behind a fixarray header, byte for byte.
    assert.deepEqual(
      Buffer.from(a.sink.frames[0]!.bytes as Uint8Array),
      Buffer.concat([Buffer.from([0x93]), ...updates.map((u) => u.msgpack)]),
    );
    assert.deepEqual(decodedFrames(a.sink), [updates.map((u) => u.event)]);
    assert.equal(a.session.eventsSent, 3);
    assert.equal(hub.stats.eventsOut, 3);
    assert.equal(hub.stats.framesOut, 1);
  });

  it("writes a JSON connection's updates of a turn as one JSON array text", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.*.quote"], "json");
    const updates = ["xnas.AAPL.quote", "xnas.MSFT.quote"].map(quote);
    for (const update of updates) hub.publish(hub.topic(update.event.t), update);
    await turn();
    assert.equal(a.sink.frames.length, 1);
    assert.equal(a.sink.frames[0]!.isBinary, false);
    assert.deepEqual(decodedFrames(a.sink), [updates.map((u) => u.event)]);
  });

  it("counts an update with no subscriber as unrouted and sends nothing", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.MSFT.quote"]);
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    assert.equal(hub.stats.eventsUnrouted, 1);
    assert.equal(hub.stats.eventsRouted, 0);
    assert.equal(a.sink.frames.length, 0);
    assert.equal(a.sink.corks, 0);
  });

  it("delivers to a wildcard subscriber a topic first seen after it subscribed", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["binance.>"]);
    const update = quote("binance.SOL-USDT.quote");
    hub.publish(hub.topic("binance.SOL-USDT.quote"), update);
    await turn();
    assert.deepEqual(decodedFrames(a.sink), [update.event]);
  });
});

describe("Hub: backpressure", () => {
  it("counts frames the socket refuses as backpressure drops", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"]);
    a.sink.refuse = true;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    assert.equal(a.session.eventsDropped, 1);
    assert.equal(hub.stats.dropsBackpressure, 1);
    assert.equal(hub.stats.conflatedSlow, 0);
  });
});
