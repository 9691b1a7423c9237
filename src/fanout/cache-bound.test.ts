import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventEncoder, type MarketEvent } from "../protocol/index.ts";
import { CacheBound } from "./cache-bound.ts";
import { EncodedEvent } from "./encoded-event.ts";
import type { Hub } from "./hub.ts";
import { LastValues } from "./last-values.ts";
import type { RateState, Topic } from "./session.ts";
import {
  StoreHistory,
  TE,
  connect,
  messages,
  quote,
  request,
  setup,
  subscribed,
  turn,
} from "./hub.test-support.ts";

const encoder = new EventEncoder();

/** One live update as the ingest makes it: the topic (created if need be) and its next q. */
function live(hub: Hub, name: string): void {
  const topic = hub.topic(name);
  const q = ++topic.seq;
  const event: MarketEvent = { e: "quote", t: name, q, te: TE + q, ts: TE + q, bp: 1, bz: 1, ap: 2, az: 1 };
  hub.publish(topic, new EncodedEvent(event, encoder.encode(event)));
}

describe("the topic table is bounded: topics nobody holds by exact name are forgotten past maxTopics (issue 11 §2)", () => {
  it("evicts the oldest unheld topics down to 90 %, counted; never the one just created", () => {
    const { hub } = setup({ maxTopics: 100 });
    for (let i = 0; i < 100; i++) hub.publish(hub.topic(`xnas.T${i}.quote`), quote(`xnas.T${i}.quote`));
    assert.equal(hub.table.topicCount, 100);
    assert.equal(hub.stats.topicsEvicted, 0);
    const newest = hub.topic("xnas.NEW.quote");
    assert.equal(hub.table.topicCount, 90);
    assert.equal(hub.stats.topicsEvicted, 11);
    assert.equal(hub.table.find("xnas.T0.quote"), undefined, "the oldest went");
    assert.equal(hub.table.find("xnas.T99.quote")?.name, "xnas.T99.quote", "the newest stayed");
    assert.equal(hub.table.find("xnas.NEW.quote"), newest);
  });

  it("keeps topics held by an exact subscription, and scans again only after 10 % more growth", async () => {
    const { hub } = setup({ maxTopics: 10, maxTopicsPerConnection: 20 });
    const exact = Array.from({ length: 10 }, (_, i) => `held.H${i}.quote`);
    const { session } = await subscribed(hub, exact);
    for (const name of exact) hub.topic(name);
    for (let i = 0; i < 3; i++) hub.topic(`free.F${i}.quote`);
    // F0 finds nothing to evict (itself spared): the next scan waits for 1 more topic; F1 evicts F0, F2 evicts F1.
    assert.equal(hub.stats.topicsEvicted, 2);
    assert.equal(hub.stats.topicsEvictedCovered, 0);
    assert.equal(hub.table.topicCount, 11);
    for (const name of exact) assert.ok(hub.table.find(name)?.subscribers.has(session), `${name} kept`);
  });

  it("evicts topics only wildcards cover, counted as covered; an exact subscription beside keeps its topic", async () => {
    const { hub } = setup({ maxTopics: 100 });
    await subscribed(hub, ["z.>"]);
    const { session: honest } = await subscribed(hub, ["z.KEEP.quote"]);
    live(hub, "z.KEEP.quote");
    for (let i = 0; i < 200; i++) live(hub, `z.S${i}.quote`);
    assert.ok(hub.table.topicCount <= 100, `table at ${hub.table.topicCount}, bound 100`);
    assert.ok(hub.stats.topicsEvictedCovered > 0, "covered topics were evicted");
    assert.equal(hub.stats.topicsEvicted, hub.stats.topicsEvictedCovered, "every evicted one was covered");
    assert.ok(hub.table.find("z.KEEP.quote")?.subscribers.has(honest), "the exact one stays");
    assert.ok(hub.table.find("z.S199.quote") !== undefined, "the newest stay");
    assert.equal(hub.table.find("z.S0.quote"), undefined, "the oldest went");
  });

  it("a wildcard subscriber gets a re-created topic's next update, its q above the one it saw", async () => {
    const { hub } = setup({ maxTopics: 100 });
    const { sink } = await subscribed(hub, ["z.>"]);
    live(hub, "z.S0.quote");
    live(hub, "z.S0.quote");
    for (let i = 1; i <= 150; i++) live(hub, `z.S${i}.quote`);
    assert.equal(hub.table.find("z.S0.quote"), undefined, "evicted");
    live(hub, "z.S0.quote");
    await turn();
    const qs = messages(sink)
      .filter((m) => m["t"] === "z.S0.quote")
      .map((m) => m["q"] as number);
    assert.equal(qs.length, 3, "all three updates delivered");
    assert.deepEqual(qs.slice(0, 2), [1, 2]);
    assert.ok((qs[2] as number) > 2, `re-created at q ${qs[2]}, above 2`);
  });

  it("evicts the least recently updated first: a topic updated again outlives older quiet ones", async () => {
    const { hub } = setup({ maxTopics: 100 });
    await subscribed(hub, ["z.>"]);
    for (let i = 0; i < 99; i++) live(hub, `z.S${i}.quote`);
    // Enough publishes for a sweep between the first updates and S0's second one.
    for (let i = 0; i < 4200; i++) live(hub, "z.S1.quote");
    live(hub, "z.S0.quote");
    live(hub, "z.NEW.quote"); // 100 topics: no scan yet
    live(hub, "z.NEW2.quote"); // 101: evicts 11
    assert.equal(hub.stats.topicsEvicted, 11);
    assert.ok(hub.table.find("z.S0.quote") !== undefined, "S0, updated again, stays");
    assert.ok(hub.table.find("z.S1.quote") !== undefined, "S1, updated most, stays");
    assert.equal(hub.table.find("z.S2.quote"), undefined, "S2, quiet since, went");
    assert.equal(hub.table.find("z.S12.quote"), undefined, "S12 went");
    assert.ok(hub.table.find("z.S13.quote") !== undefined, "S13 stays");
  });

  it("keeps a topic whose update maxHz holds back, and drops the rate state of evicted ones", async () => {
    const { hub, clock } = setup({ maxTopics: 100 });
    const { session } = await subscribed(hub, ["z.>"], "msgpack", { maxHz: 1 });
    live(hub, "z.HELD.quote");
    live(hub, "z.HELD.quote"); // inside the second: held back
    for (let i = 0; i < 150; i++) live(hub, `z.S${i}.quote`);
    assert.ok(hub.table.find("z.HELD.quote") !== undefined, "pending rated update: kept");
    assert.ok((session.rates?.size ?? 0) <= hub.table.topicCount, "no rate state outlives its topic");
    for (const topic of session.rates?.keys() ?? []) {
      assert.equal(hub.table.find(topic.name), topic, `${topic.name}'s rate state is for the live entry`);
    }
    clock.nowMs += 2000;
    hub.tick(clock.nowMs);
    for (let i = 150; i < 170; i++) live(hub, `z.S${i}.quote`);
    assert.equal(hub.table.find("z.HELD.quote"), undefined, "sent: evicted by a later scan");
  });

  it("a topic created after an eviction numbers above every forgotten q, so q never goes backwards", () => {
    const { hub } = setup({ maxTopics: 100 });
    const first = hub.topic("xnas.T0.quote");
    first.seq = 500;
    for (let i = 1; i <= 100; i++) hub.topic(`xnas.T${i}.quote`);
    assert.equal(hub.table.find("xnas.T0.quote"), undefined, "evicted");
    const again = hub.topic("xnas.T0.quote");
    assert.ok(again.seq >= 501, `starts at ${again.seq}, above the forgotten 500`);
  });

  it("tells the interest listener, so the ingest drops its per-subject state too", () => {
    const forgotten: string[] = [];
    const { hub, listener } = setup({ maxTopics: 100 });
    (listener as unknown as { topicForgotten(t: string): void }).topicForgotten = (t) => forgotten.push(t);
    for (let i = 0; i <= 100; i++) hub.topic(`xnas.T${i}.quote`);
    assert.equal(forgotten.length, 11);
    assert.equal(forgotten[0], "xnas.T0.quote");
  });

  describe("a scan evicts in chunks, so no call holds the event loop for all of it", () => {
    /** A bound of 1,000 over the hub's table evicting 50 at a time, with its own recency clock. */
    function chunked(): { hub: Hub; bound: CacheBound; lastValues: LastValues; names: string[] } {
      const { hub } = setup({ maxTopics: 1_000_000 });
      const lastValues = new LastValues();
      const bound = new CacheBound(1000, hub.table, lastValues, hub.stats, hub.inFlight, 50);
      const names = Array.from({ length: 1000 }, (_, i) => `free.T${i}.quote`);
      for (const name of names) bound.topic(name);
      return { hub, bound, lastValues, names };
    }

    it("evicts one chunk per call, oldest first, and the rest on the next creations or settle()", () => {
      const { hub, bound, names } = chunked();
      assert.equal(hub.stats.topicsEvicted, 0);
      const newest = bound.topic("free.NEW1.quote"); // 1,001 topics: 101 to go, 50 now
      assert.equal(hub.stats.topicsEvicted, 50);
      assert.equal(hub.table.find(names[49]!), undefined, "the oldest 50 went");
      assert.ok(hub.table.find(names[50]!) !== undefined, "the 51st waits for the next chunk");
      bound.topic("free.NEW2.quote"); // the next creation continues the same scan
      assert.equal(hub.stats.topicsEvicted, 100);
      bound.settle(); // the hub's tick: the last one
      assert.equal(hub.stats.topicsEvicted, 101);
      assert.equal(hub.table.find(names[100]!), undefined);
      assert.ok(hub.table.find(names[101]!) !== undefined);
      assert.equal(hub.table.find("free.NEW1.quote"), newest, "never the topic that set it off");
      assert.ok(hub.table.find("free.NEW2.quote") !== undefined, "nor one created during it");
      bound.settle();
      assert.equal(hub.stats.topicsEvicted, 101, "done: nothing more until the bound is crossed again");
      assert.equal(hub.table.topicCount, 901);
    });

    it("a topic updated or held by its exact name between two chunks stays", async () => {
      const { hub, bound, lastValues, names } = chunked();
      bound.topic("free.NEW.quote");
      assert.equal(hub.stats.topicsEvicted, 50);
      const updated = hub.table.find(names[60]!)!;
      lastValues.remember(updated, quote(updated.name)); // stamped newer at the next chunk's sweep
      await subscribed(hub, [names[70]!]);
      bound.settle();
      bound.settle();
      assert.equal(hub.stats.topicsEvicted, 101, "still 101 in all: two younger ones went instead");
      assert.equal(hub.table.find(names[60]!), updated, "updated after the scan: kept");
      assert.ok(hub.table.find(names[70]!) !== undefined, "held exactly after the scan: kept");
      assert.equal(hub.table.find(names[102]!), undefined, "the next oldest went in their place");
      assert.ok(hub.table.find(names[103]!) !== undefined);
    });

    // What blocks a topic is gathered afresh by every chunk.
    it("a topic whose rated update maxHz holds back since the scan stays", async () => {
      const { hub, clock } = setup({ maxTopics: 1_000_000 });
      const { session } = await subscribed(hub, ["free.>"], "msgpack", { maxHz: 1 });
      const bound = new CacheBound(1000, hub.table, new LastValues(), hub.stats, hub.inFlight, 50);
      const names = Array.from({ length: 1000 }, (_, i) => `free.T${i}.quote`);
      for (const name of names) hub.publish(bound.topic(name), quote(name)); // a rate state each
      clock.nowMs += 5000;
      bound.topic("free.NEW.quote");
      assert.equal(hub.stats.topicsEvicted, 50);
      const rated = hub.table.find(names[60]!)!;
      hub.publish(rated, quote(rated.name));
      hub.publish(rated, quote(rated.name)); // held back
      assert.ok(session.rates?.get(rated)?.pending !== undefined);
      bound.settle();
      bound.settle();
      assert.equal(hub.stats.topicsEvicted, 101);
      assert.equal(hub.table.find(rated.name), rated, "rated update pending: kept");
      for (const topic of session.rates?.keys() ?? []) assert.equal(hub.table.find(topic.name), topic);
    });

    it("a topic with a conflated value pending since the scan stays", async () => {
      const { hub } = setup({ maxTopics: 1_000_000, slowSoftBytes: 1000 });
      const slow = await subscribed(hub, ["free.>"]);
      const bound = new CacheBound(1000, hub.table, new LastValues(), hub.stats, hub.inFlight, 50);
      const names = Array.from({ length: 1000 }, (_, i) => `free.T${i}.quote`);
      for (const name of names) bound.topic(name);
      bound.topic("free.NEW.quote");
      const merged = hub.table.find(names[60]!)!;
      slow.sink.buffered = 1001;
      hub.publish(merged, quote(merged.name));
      await turn();
      hub.publish(merged, quote(merged.name));
      assert.ok(slow.session.pending?.has(merged) === true, "pending in conflation");
      bound.settle();
      bound.settle();
      assert.equal(hub.stats.topicsEvicted, 101);
      assert.equal(hub.table.find(merged.name), merged, "conflated value pending: kept");
    });

    it("the topics of a connection that began holding behind a snapshot wait since the scan stay", () => {
      const { hub } = setup({ maxTopics: 1_000_000 }, new StoreHistory(new Map(), true));
      const bound = new CacheBound(1000, hub.table, new LastValues(), hub.stats, hub.inFlight, 50);
      const names = Array.from({ length: 1000 }, (_, i) => `free.T${i}.quote`);
      for (const name of names) bound.topic(name);
      bound.topic("free.NEW.quote");
      const { session } = connect(hub, "json");
      request(hub, session, { method: "subscribe", id: 1, params: { topics: ["free.*.quote"] } });
      assert.notEqual(session.mode, 0, "holding for feed history");
      const entered = hub.table.find(names[60]!)!;
      assert.ok(entered.subscribers.has(session));
      for (let i = 0; i < 10; i++) bound.settle();
      assert.equal(hub.stats.topicsEvicted, 101, "others went instead");
      assert.equal(hub.table.find(entered.name), entered, "held behind the wait: kept");
    });

    // The table comes back under the bound whatever happens between chunks, and a chunk costs what is in flight.
    it("topics created past the bound by a snapshot's feed history while an eviction is pending are evicted by the next ticks", async () => {
      const store = new Map<string, MarketEvent>();
      for (let i = 0; i < 3000; i++) {
        const t = `hist.H${i}.quote`;
        store.set(t, { e: "quote", t, q: 1, te: TE, ts: TE, bp: 1, bz: 1, ap: 2, az: 1 });
      }
      const history = new StoreHistory(store, true);
      const { hub, clock } = setup({ maxTopics: 20_000 }, history);
      for (let i = 0; i < 20_000; i++) hub.topic(`free.T${i}.quote`);
      const { session } = connect(hub, "json");
      request(hub, session, { method: "subscribe", id: 1, params: { topics: ["hist.>"] } });
      await turn();
      hub.topic("free.NEW.quote"); // 20,001: the scan wants 2,001 gone; EVICT_CHUNK (2,000) go now
      assert.equal(hub.stats.topicsEvicted, 2000, "one eviction left pending");
      history.answer(); // the snapshot completes: 3,000 topics from feed history (table.topic), then settle()
      await turn();
      await turn();
      for (let i = 0; i < 10; i++) hub.tick((clock.nowMs += 10));
      // Once the pending eviction is done, the ticks' settle() scans again while the table is past the
      // bound (it once waited for a new topic, leaving the table at 21,000 with a steady feed).
      assert.ok(
        hub.table.topicCount <= 20_000,
        `table at ${hub.table.topicCount} after 10 ticks, bound 20,000`,
      );
    });

    it("a pending eviction cut short by an update between chunks does not hold off the next scan by 10 % of the bound", () => {
      const { hub } = setup({ maxTopics: 1_000_000 });
      const lastValues = new LastValues();
      const bound = new CacheBound(1000, hub.table, lastValues, hub.stats, hub.inFlight, 10);
      const names = Array.from({ length: 1000 }, (_, i) => `free.T${i}.quote`);
      for (const name of names) bound.topic(name);
      for (const name of names.slice(50)) lastValues.remember(hub.table.find(name)!, quote(name));
      // The scan's sweep stamps T50.. 1 (T0..T49 stay 0): 101 to go, the 50 at 0 and the first 51 at 1.
      const created = bound.topic("free.NEW.quote");
      lastValues.remember(created, quote(created.name)); // the update that created it
      assert.equal(hub.stats.topicsEvicted, 10);
      lastValues.remember(hub.table.find(names[20]!)!, quote(names[20]!)); // one of the 0s is updated: stays
      for (let i = 0; i < 500; i++) {
        const topic = hub.table.topic(`hist.H${i}.quote`); // a snapshot's feed-history values, seeded
        lastValues.seed(topic, quote(topic.name).event, 0);
      }
      for (let i = 0; i < 100; i++) bound.settle(); // the hub's ticks
      // The pass ends one short (nothing at stamp 1 may replace T20); only a scan that found too few
      // evictable topics waits for 10 % growth, so the next tick scans again (1,401 topics, 1,300 evictable).
      assert.ok(hub.table.topicCount <= 1000, `table at ${hub.table.topicCount}, bound 1,000`);
    });

    it("a chunk's cost does not grow with every rate state of every rated connection", async () => {
      const { hub, clock } = setup({ maxTopics: 1_000_000 });
      const { session } = await subscribed(hub, ["free.>"], "msgpack", { maxHz: 1 });
      const lastValues = new LastValues();
      const bound = new CacheBound(10_000, hub.table, lastValues, hub.stats, hub.inFlight, 100);
      for (let i = 0; i < 10_000; i++) {
        const topic = bound.topic(`free.T${i}.quote`);
        const update = quote(topic.name);
        hub.publish(topic, update); // a rate state for every topic, none pending
        lastValues.remember(topic, update); // the bound's recency clock (the hub's own is private)
      }
      const rates = session.rates as Map<Topic, RateState>;
      assert.equal(rates.size, 10_000);
      const iterate = rates[Symbol.iterator].bind(rates);
      let visits = 0;
      rates[Symbol.iterator] = function* () {
        for (const entry of iterate()) {
          visits++;
          yield entry;
        }
      } as unknown as typeof iterate;
      clock.nowMs += 5000;
      bound.topic("free.NEW.quote"); // 1,001 to go, 100 a call
      let calls = 1;
      while (hub.stats.topicsEvicted < 1001 && calls < 100) {
        bound.settle();
        calls++;
      }
      assert.equal(hub.stats.topicsEvicted, 1001);
      // What blocks a topic comes from what is in flight (the rate wheel, conflating sessions), not from
      // walking every rate state on every chunk (which was 104,500 visits over 11 calls here).
      assert.ok(visits <= 2 * 10_000, `${visits} rate states visited over ${calls} calls`);
    });
  });
});
