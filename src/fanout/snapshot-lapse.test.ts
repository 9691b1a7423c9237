import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEncoder, EventFlag, type MarketEvent } from "../protocol/index.ts";
import { SubscriptionTable } from "../subscriptions/index.ts";
import { EncodedEvent } from "./encoded-event.ts";
import type { Hub } from "./hub.ts";
import {
  RecordingListener,
  StoreHistory,
  TE,
  connect,
  messages,
  request,
  setup,
  turn,
  type MemorySink,
} from "./hub.test-support.ts";

const encoder = new EventEncoder();

/** One feed update as the ingest makes it (the topic's next q), published through the hub. */
function publish(hub: Hub, name: string, bp: number): void {
  const topic = hub.topic(name);
  const event: MarketEvent = { e: "quote", t: name, q: ++topic.seq, te: TE, ts: TE, bp, bz: 1, ap: 1, az: 1 };
  hub.publish(topic, new EncodedEvent(event, encoder.encode(event)));
}

const stored = (name: string, bp: number): MarketEvent => ({
  e: "quote",
  t: name,
  q: 0,
  te: TE,
  ts: 0,
  bp,
  bz: 1,
  ap: 1,
  az: 1,
});

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  await turn();
}

/** [bp, q, flags] of every data event, and snapshot_end's missing list, in arrival order. */
const got = (sink: MemorySink): unknown[] =>
  messages(sink)
    .filter((m) => typeof m["t"] === "string" || m["e"] === "snapshot_end")
    .map((m) => (m["e"] === "snapshot_end" ? ["end", m["missing"] ?? []] : [m["bp"], m["q"], m["f"] ?? 0]));

const IBM = "xnys.IBM.quote";

describe("a cached value the gateway stopped receiving is not served as a snapshot (issue 10)", () => {
  for (const leaves of ["unsubscribes", "closes"] as const) {
    it(`when the last subscriber ${leaves}, the next subscriber gets the history's newer value, not the old one, and q goes on`, async () => {
      const history = new StoreHistory(new Map([[IBM, stored(IBM, 100)]]));
      const { hub } = setup({}, history);
      const a = connect(hub, "json");
      request(hub, a.session, { method: "subscribe", id: 1, params: { topics: [IBM] } });
      await settle();
      publish(hub, IBM, 101);
      await turn();
      assert.deepEqual(got(a.sink), [
        [100, 0, EventFlag.SNAPSHOT],
        ["end", []],
        [101, 1, 0],
      ]);
      if (leaves === "unsubscribes") {
        request(hub, a.session, { method: "unsubscribe", id: 2, params: { topics: [IBM] } });
      } else {
        hub.closed(a.session, 1000);
      }
      const topic = hub.topic(IBM);
      assert.equal(topic.last, undefined, "no longer received: no longer cached");
      assert.equal(topic.seq, 2, "the sequence stays, and steps over the interval nobody watched");
      history.store.set(IBM, stored(IBM, 150)); // the feed moved on while nobody here watched
      const b = connect(hub, "json");
      request(hub, b.session, { method: "subscribe", id: 3, params: { topics: [IBM] } });
      await settle();
      publish(hub, IBM, 151);
      await turn();
      assert.deepEqual(got(b.sink), [
        [150, 2, EventFlag.SNAPSHOT],
        ["end", []],
        [151, 3, 0],
      ]);
    });
  }

  it("without feed history the next subscriber is told the topic is missing, then gets live updates", async () => {
    const { hub } = setup();
    const a = connect(hub, "json");
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: [IBM] } });
    publish(hub, IBM, 101);
    await turn();
    hub.closed(a.session, 1000);
    const b = connect(hub, "json");
    request(hub, b.session, { method: "subscribe", id: 2, params: { topics: [IBM, "xnys.*.quote"] } });
    publish(hub, IBM, 150);
    await turn();
    assert.deepEqual(got(b.sink), [
      ["end", [IBM]],
      [150, 3, 0],
    ]);
  });

  it("keeps the value while any pattern still covers the topic", () => {
    const { hub } = setup();
    const wide = connect(hub);
    request(hub, wide.session, { method: "subscribe", id: 1, params: { topics: ["xnys.*.quote"] } });
    const a = connect(hub);
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: [IBM] } });
    publish(hub, IBM, 101);
    request(hub, a.session, { method: "unsubscribe", id: 2, params: { topics: [IBM] } });
    assert.equal((hub.topic(IBM).last?.event as { bp?: number } | undefined)?.bp, 101);
    hub.closed(wide.session, 1000);
    assert.equal(hub.topic(IBM).last, undefined);
  });

  it("does not cache a history answer for a topic nobody subscribes any more", async () => {
    const history = new StoreHistory(new Map([[IBM, stored(IBM, 100)]]), true);
    const { hub } = setup({}, history);
    const a = connect(hub);
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: [IBM] } });
    request(hub, a.session, { method: "unsubscribe", id: 2, params: { topics: [IBM] } });
    history.answer();
    await settle();
    assert.equal(hub.topic(IBM).last, undefined);
  });
});

describe("SubscriptionTable: the topics a subscriber leaves", () => {
  it("remove and removeAll report each concrete topic the subscriber no longer receives, once", () => {
    const table = new SubscriptionTable<string>(new RecordingListener(), 10);
    const ibm = table.topic(IBM);
    const aapl = table.topic("xnas.AAPL.quote");
    table.add("s", [IBM, "xnys.*.quote", "xnas.>"]);
    table.add("t", ["xnas.AAPL.quote"]);
    assert.deepEqual(table.remove("s", [IBM]).left, [], "still covered by xnys.*.quote");
    assert.deepEqual(table.remove("s", ["xnys.*.quote"]).left, [ibm]);
    assert.deepEqual(table.removeAll("s"), [aapl]);
    assert.equal(aapl.subscribers.size, 1, "t still receives it");
    assert.deepEqual(table.removeAll("nobody"), []);
  });
});
