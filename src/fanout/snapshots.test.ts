import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventFlag, type MarketEvent } from "../protocol/index.ts";
import { EncodedEvent } from "./encoded-event.ts";
import {
  TE,
  setup,
  connect,
  turn,
  request,
  decode,
  decodedFrames,
  quote,
  subscribed,
} from "./hub.test-support.ts";

describe("Hub: snapshots from the last-value cache", () => {
  /** The event with the SNAPSHOT flag, as a client decodes it. */
  const flagged = (update: EncodedEvent): unknown => ({ ...update.event, f: EventFlag.SNAPSHOT });

  it("follows the subscribe reply with the last value of each cached topic, flagged SNAPSHOT with its q, then snapshot_end", async () => {
    const { hub } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    hub.publish(topic, quote("xnas.AAPL.quote"));
    const last = quote("xnas.AAPL.quote");
    hub.publish(topic, last);
    assert.equal(hub.stats.eventsUnrouted, 2, "cached while nobody subscribes, still counted unrouted");
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 1, result: { subscribed: ["xnas.AAPL.quote"], errors: [] } },
      { ...last.event, f: 1 },
      { e: "snapshot_end", id: 1 },
    ]);
    assert.equal(session.eventsSent, 1);
  });

  it("sends neither snapshot events nor snapshot_end when the subscribe asks for no snapshot", async () => {
    const { hub } = setup();
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    const { session, sink } = connect(hub);
    request(hub, session, {
      method: "subscribe",
      id: 2,
      params: { topics: ["xnas.AAPL.quote"], snapshot: false },
    });
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 2, result: { subscribed: ["xnas.AAPL.quote"], errors: [] } },
    ]);
  });

  it("snapshots a topic once when several new patterns of the request match it", async () => {
    const { hub } = setup();
    const aapl = quote("xnas.AAPL.quote");
    const msft = quote("xnas.MSFT.quote");
    hub.publish(hub.topic(aapl.event.t), aapl);
    hub.publish(hub.topic(msft.event.t), msft);
    const { session, sink } = connect(hub);
    request(hub, session, {
      method: "subscribe",
      id: 3,
      params: { topics: ["xnas.AAPL.quote", "xnas.*.quote", "xnas.>"] },
    });
    await turn();
    const [, snapshots, end] = decodedFrames(sink);
    // Two data events between two control frames: one array frame.
    assert.deepEqual(snapshots, [flagged(aapl), flagged(msft)]);
    assert.deepEqual(end, { e: "snapshot_end", id: 3 });
    assert.equal(sink.frames.length, 3);
  });

  it("does not snapshot again a topic the connection already gets through a pattern it held before", async () => {
    const { hub } = setup();
    const aapl = quote("xnas.AAPL.quote");
    const msft = quote("xnas.MSFT.quote");
    hub.publish(hub.topic(aapl.event.t), aapl);
    hub.publish(hub.topic(msft.event.t), msft);
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    request(hub, a.session, {
      method: "subscribe",
      id: 4,
      params: { topics: ["xnas.*.quote", "xnas.AAPL.quote"] },
    });
    await turn();
    assert.deepEqual(decodedFrames(a.sink), [
      { id: 4, result: { subscribed: ["xnas.*.quote", "xnas.AAPL.quote"], errors: [] } },
      flagged(msft),
      { e: "snapshot_end", id: 4 },
    ]);
  });

  it("snapshots again after an unsubscribe, with the cache's current value", async () => {
    const { hub } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    hub.publish(topic, quote("xnas.AAPL.quote"));
    request(hub, a.session, { method: "unsubscribe", id: "u", params: { topics: ["xnas.AAPL.quote"] } });
    const latest = quote("xnas.AAPL.quote");
    hub.publish(topic, latest);
    request(hub, a.session, { method: "subscribe", id: "s", params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    const frames = decodedFrames(a.sink);
    assert.deepEqual(frames.slice(-2), [flagged(latest), { e: "snapshot_end", id: "s" }]);
  });

  it("orders reply, snapshot events, snapshot_end, then live events published after the subscribe, with consecutive q", async () => {
    const { hub } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    const before = quote("xnas.AAPL.quote");
    hub.publish(topic, before);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 5, params: { topics: ["xnas.AAPL.quote"] } });
    const live = quote("xnas.AAPL.quote");
    hub.publish(topic, live);
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 5, result: { subscribed: ["xnas.AAPL.quote"], errors: [] } },
      flagged(before),
      { e: "snapshot_end", id: 5 },
      live.event,
    ]);
    assert.equal(live.event.q, before.event.q + 1, "no gap and no duplicate at the seam");
  });

  it("encodes a cached event's snapshot once and gives every subscriber the same bytes", async () => {
    const { hub } = setup();
    const update = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), update);
    const a = connect(hub);
    const b = connect(hub);
    const j = connect(hub, "json");
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    request(hub, b.session, { method: "subscribe", id: 1, params: { topics: ["xnas.*.quote"] } });
    request(hub, j.session, { method: "subscribe", id: 1, params: { topics: ["xnas.>"] } });
    await turn();
    const snapshot = update.snapshot;
    assert.equal(update.snapshot, snapshot, "built once, then reused");
    assert.equal(a.sink.frames[1]?.data, snapshot.msgpack);
    assert.equal(b.sink.frames[1]?.data, snapshot.msgpack);
    assert.equal(j.sink.frames[1]?.data, snapshot.json);
    assert.deepEqual(decode(a.sink.frames[1]), flagged(update));
    assert.deepEqual(decode(j.sink.frames[1]), flagged(update));
    assert.notEqual(snapshot.msgpack, update.msgpack, "the live bytes are left as they are");
    assert.deepEqual(decode({ data: update.msgpack, bytes: update.msgpack, isBinary: true }), update.event);
  });

  it("replaces the cached value, and its snapshot, with the topic's next event", async () => {
    const { hub } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    const first = quote("xnas.AAPL.quote");
    hub.publish(topic, first);
    const a = connect(hub);
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    const second = quote("xnas.AAPL.quote");
    hub.publish(topic, second);
    assert.equal(topic.last, second);
    const b = connect(hub);
    request(hub, b.session, { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    assert.equal(a.sink.frames[1]?.data, first.snapshot.msgpack);
    assert.equal(b.sink.frames[1]?.data, second.snapshot.msgpack);
    assert.deepEqual(decode(b.sink.frames[1]), flagged(second));
  });

  it("snapshots every cached topic a wildcard matches, and no other", async () => {
    const { hub } = setup();
    const btc = quote("binance.BTC-USDT.quote");
    const tradeEvent: MarketEvent = {
      e: "trade",
      t: "binance.ETH-USDT.trade",
      q: 3,
      te: TE,
      ts: TE + 5,
      p: 3100.5,
      z: 0.2,
    };
    const eth = EncodedEvent.standalone(tradeEvent);
    hub.publish(hub.topic(btc.event.t), btc);
    hub.publish(hub.topic(eth.event.t), eth);
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    hub.topic("binance.SOL-USDT.quote"); // seen, but nothing cached: no snapshot event
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 6, params: { topics: ["binance.>"] } });
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 6, result: { subscribed: ["binance.>"], errors: [] } },
      [flagged(btc), flagged(eth)],
      { e: "snapshot_end", id: 6 },
    ]);
  });
});
