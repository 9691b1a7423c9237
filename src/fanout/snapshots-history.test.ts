import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventFlag, type MarketEvent } from "../protocol/index.ts";
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

const stored = (topic: string, bp: number): MarketEvent => ({
  e: "quote",
  t: topic,
  q: 0,
  te: TE,
  ts: 0,
  bp,
  bz: 1,
  ap: bp + 1,
  az: 1,
});

/** Lets the history promise settle and the hub's flush run. */
const settle = async (): Promise<void> => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  await turn();
};

describe("Hub: snapshots from the feed history", () => {
  it("gives a topic the gateway never saw its stored last value, flagged SNAPSHOT with q 0, then snapshot_end; live continues at q 1", async () => {
    const history = new StoreHistory(new Map([["xnas.NEW.quote", stored("xnas.NEW.quote", 7)]]));
    const { hub } = setup({}, history);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: ["xnas.NEW.quote"] } });
    await settle();
    const got = messages(sink);
    assert.deepEqual(got[0], { id: 1, result: { subscribed: ["xnas.NEW.quote"], errors: [] } });
    assert.equal(got[1]?.["f"], EventFlag.SNAPSHOT);
    assert.equal(got[1]?.["q"], 0);
    assert.equal(got[1]?.["bp"], 7);
    assert.deepEqual(got[2], { e: "snapshot_end", id: 1 });
    assert.equal(got.length, 3);
    const topic = hub.topic("xnas.NEW.quote");
    assert.equal(topic.seq, 0, "history does not consume a sequence number");
    assert.equal(hub.stats.historyValues, 1);
  });

  it("asks history only for what the cache lacks, and lists topics found nowhere in snapshot_end", async () => {
    const history = new StoreHistory(new Map());
    const { hub } = setup({}, history);
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    const { session, sink } = connect(hub, "json");
    request(hub, session, {
      method: "subscribe",
      id: 2,
      params: { topics: ["xnas.AAPL.quote", "xnas.NONE.quote", "xlon.*.quote"] },
    });
    await settle();
    assert.deepEqual(history.asked, ["xnas.NONE.quote", "xlon.*.quote"]);
    assert.deepEqual(messages(sink).at(-1), { e: "snapshot_end", id: 2, missing: ["xnas.NONE.quote"] });
  });

  it("holds the connection's later live events and replies while history answers, then sends them after snapshot_end, in order", async () => {
    const history = new StoreHistory(new Map([["xlon.VOD.quote", stored("xlon.VOD.quote", 2)]]), true);
    const { hub } = setup({}, history);
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    request(hub, a.session, { method: "subscribe", id: 3, params: { topics: ["xlon.*.quote"] } });
    const live = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), live);
    request(hub, a.session, { method: "list", id: 4 });
    await turn();
    assert.deepEqual(
      messages(a.sink).map((m) => m["id"]),
      [3],
      "the reply goes out; what follows is held until history answers",
    );
    history.answer();
    await settle();
    const got = messages(a.sink);
    assert.deepEqual(
      got.map((m) => m["id"] ?? m["t"]),
      [3, "xlon.VOD.quote", 3, "xnas.AAPL.quote", 4],
    );
    assert.equal(got[2]?.["e"], "snapshot_end");
  });

  it("a live update of the topic arriving before history answers wins: no stale snapshot, the live event follows snapshot_end", async () => {
    const history = new StoreHistory(new Map([["xnas.NEW.quote", stored("xnas.NEW.quote", 1)]]), true);
    const { hub } = setup({}, history);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 5, params: { topics: ["xnas.NEW.quote"] } });
    const topic = hub.topic("xnas.NEW.quote");
    const live = quote("xnas.NEW.quote", 99);
    hub.publish(topic, live);
    history.answer();
    await settle();
    assert.deepEqual(messages(sink), [
      { id: 5, result: { subscribed: ["xnas.NEW.quote"], errors: [] } },
      { e: "snapshot_end", id: 5 },
      live.event,
    ]);
    assert.equal(topic.last, live, "the cache keeps the live value");
  });

  it("completes the snapshot without history after historyTimeoutMs, counting the timeout", async () => {
    const history = new StoreHistory(new Map([["xnas.NEW.quote", stored("xnas.NEW.quote", 1)]]), true);
    const { hub } = setup({ historyTimeoutMs: 20 }, history);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 6, params: { topics: ["xnas.NEW.quote"] } });
    await new Promise((resolve) => setTimeout(resolve, 40));
    await turn();
    assert.deepEqual(messages(sink).at(-1), { e: "snapshot_end", id: 6, missing: ["xnas.NEW.quote"] });
    assert.equal(hub.stats.historyTimeouts, 1);
    history.answer();
    await settle();
    assert.equal(messages(sink).length, 2, "a late answer changes nothing");
  });

  it("keeps two pending subscribes in order: each snapshot_end follows its own snapshots", async () => {
    const history = new StoreHistory(
      new Map([
        ["xnas.A.quote", stored("xnas.A.quote", 1)],
        ["xnas.B.quote", stored("xnas.B.quote", 2)],
      ]),
      true,
    );
    const { hub } = setup({}, history);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: "a", params: { topics: ["xnas.A.quote"] } });
    request(hub, session, { method: "subscribe", id: "b", params: { topics: ["xnas.B.quote"] } });
    history.answer();
    await settle();
    assert.deepEqual(
      messages(sink).map(
        (m) => `${typeof m["e"] === "string" ? m["e"] : "reply"}:${String(m["id"] ?? m["t"])}`,
      ),
      ["reply:a", "quote:xnas.A.quote", "snapshot_end:a", "reply:b", "quote:xnas.B.quote", "snapshot_end:b"],
    );
  });
});
