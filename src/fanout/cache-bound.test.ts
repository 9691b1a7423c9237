import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quote, setup, subscribed } from "./hub.test-support.ts";

describe("the topic table is bounded: topics nobody holds are forgotten past maxTopics (issue 11 §2)", () => {
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

  it("keeps topics a held pattern matches, and scans again only after 10 % more growth", async () => {
    const { hub } = setup({ maxTopics: 100 });
    const { session } = await subscribed(hub, ["held.>"]);
    for (let i = 0; i < 100; i++) hub.topic(`held.H${i}.quote`);
    for (let i = 0; i < 30; i++) hub.topic(`free.F${i}.quote`);
    // F0 finds nothing to evict (itself spared): the next scan waits for 10 more topics; F10 and F20
    // each evict the unheld ones before them (10 each). Held topics stay above the bound.
    assert.equal(hub.stats.topicsEvicted, 20);
    assert.equal(hub.table.topicCount, 110);
    for (let i = 0; i < 100; i++) {
      assert.ok(hub.table.find(`held.H${i}.quote`)?.subscribers.has(session), `held.H${i} kept`);
    }
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
});
