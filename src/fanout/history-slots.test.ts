import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventFlag, patternMatches, type MarketEvent } from "../protocol/index.ts";
import { StoreHistory, TE, connect, messages, request, setup, turn } from "./hub.test-support.ts";

const stored = (topic: string): MarketEvent => ({
  e: "quote",
  t: topic,
  q: 0,
  te: TE,
  ts: 0,
  bp: 1,
  bz: 1,
  ap: 2,
  az: 1,
});

/** A store with one subject per pattern `pop.S<i>.*`, i < count. */
function store(count: number): Map<string, MarketEvent> {
  const values = new Map<string, MarketEvent>();
  for (let i = 0; i < count; i++) values.set(`pop.S${i}.quote`, stored(`pop.S${i}.quote`));
  return values;
}

/** The store, also answering `topics` listings (at once), recording what was listed. */
class ListingHistory extends StoreHistory {
  readonly listed: string[] = [];
  topics(pattern: string, tokens: readonly string[], limit: number): Promise<readonly string[]> {
    this.listed.push(pattern);
    const names = [...this.store.keys()].filter((t) => patternMatches(tokens, t.split(".")));
    return Promise.resolve(names.slice(0, limit));
  }
}

const patterns = (count: number): string[] => Array.from({ length: count }, (_, i) => `pop.S${i}.*`);

/** Lets answered lookups settle (each slot passes to the next waiter on its own microtask chain). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("feed-history lookups in flight per connection are bounded (issue 11 §3)", () => {
  it("a subscribe with 6 patterns reads 4 at a time, the rest after, and its snapshot is complete; counted", async () => {
    const history = new StoreHistory(store(6), true);
    const { hub } = setup({ maxHistoryLookupsPerConnection: 4 }, history);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: patterns(6) } });
    await settle();
    assert.equal(history.asked.length, 4, "four lookups in flight");
    assert.equal(hub.stats.historyLookupsQueued, 2);
    history.answer();
    await settle();
    assert.equal(history.asked.length, 6, "the waiting two started when slots freed");
    history.answer();
    await settle();
    await turn();
    const got = messages(sink);
    const snapshots = got.filter((m) => m["f"] === EventFlag.SNAPSHOT);
    assert.equal(snapshots.length, 6, "every pattern's value");
    assert.deepEqual(got.at(-1), { e: "snapshot_end", id: 1 });
    assert.equal(hub.stats.historyLookupsDropped, 0);
    assert.equal(hub.historyLookupConnections, 0, "the connection's slot state went with its lookups");
  });

  it("another connection's lookup is not kept waiting by the first one's", async () => {
    const history = new StoreHistory(store(8), true);
    const { hub } = setup({ maxHistoryLookupsPerConnection: 4 }, history);
    const flood = connect(hub, "json");
    request(hub, flood.session, { method: "subscribe", id: 1, params: { topics: patterns(8) } });
    const other = connect(hub, "json");
    request(hub, other.session, { method: "subscribe", id: 2, params: { topics: ["pop.S7.*"] } });
    await settle();
    assert.equal(history.asked.length, 5, "four of the flood's and the other connection's");
    assert.equal(history.asked.at(-1), "pop.S7.*");
    history.answer();
    await settle();
    await turn();
    assert.ok(
      messages(other.sink).some((m) => m["e"] === "snapshot_end" && m["id"] === 2),
      "the other connection's snapshot ended",
    );
    // Finish the flood's lookups too (the test closes what it opens).
    for (let i = 0; i < 3; i++) {
      history.answer();
      await settle();
    }
    await turn();
    assert.ok(messages(flood.sink).some((m) => m["e"] === "snapshot_end" && m["id"] === 1));
  });

  it("lookups still waiting when the subscribe times out are never started; the snapshot ends without them", async () => {
    const history = new StoreHistory(store(6), true);
    const { hub } = setup({ maxHistoryLookupsPerConnection: 4, historyTimeoutMs: 20 }, history);
    const { session, sink } = connect(hub, "json");
    request(hub, session, {
      method: "subscribe",
      id: 1,
      params: { topics: [...patterns(5), "pop.S5.quote"] },
    });
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (messages(sink).some((m) => m["e"] === "snapshot_end")) resolve();
        else setTimeout(check, 5);
      };
      check();
    });
    assert.equal(hub.stats.historyTimeouts, 1);
    assert.deepEqual(messages(sink).at(-1), { e: "snapshot_end", id: 1, missing: ["pop.S5.quote"] });
    history.answer(); // the four in flight answer late; the two waiting ones get their slot and stop
    await settle();
    assert.equal(history.asked.length, 4, "the waiting lookups never reached the history");
    assert.equal(hub.stats.historyLookupsDropped, 2);
    assert.equal(hub.historyLookupConnections, 0, "the connection's slot state went with its lookups");
  });

  it("a topics request takes one of the connection's slots too: it waits for the subscribe's lookups", async () => {
    const history = new ListingHistory(store(4), true);
    const { hub } = setup({ maxHistoryLookupsPerConnection: 4 }, history);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: patterns(4) } });
    request(hub, session, { method: "topics", id: 2, params: { pattern: "pop.>" } });
    await settle();
    assert.deepEqual(history.listed, [], "the listing waits for a slot");
    assert.equal(hub.stats.historyLookupsQueued, 1);
    history.answer();
    await settle();
    await turn();
    assert.deepEqual(history.listed, ["pop.>"]);
    const reply = messages(sink).find((m) => m["id"] === 2);
    assert.deepEqual(reply?.["result"], {
      pattern: "pop.>",
      topics: ["pop.S0.quote", "pop.S1.quote", "pop.S2.quote", "pop.S3.quote"],
      truncated: false,
    });
    assert.equal(hub.historyLookupConnections, 0);
  });
});
