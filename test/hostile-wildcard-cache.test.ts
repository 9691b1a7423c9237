import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import { HonestClient, finishThenClose } from "./helpers/honest-client.ts";
import { quote, startStack, type Stack } from "./helpers/stack.ts";

/**
 * Issue 11 §2: one client on `z.>` while the feed publishes ever new subjects used to pin every one of
 * them in the cache (25,000 new subjects a second ran the heap out in 4.5 minutes). Past --max-topics,
 * topics held only through wildcards are evicted too (counted as covered); the wildcard subscriber keeps
 * receiving every update, a re-created topic with a larger `q`; an honest client keeps every trade.
 */
describe("topics only a wildcard covers are evicted past --max-topics (issue 11 §2)", () => {
  const MAX_TOPICS = 200;
  const SUBJECTS = 2000;
  let stack: Stack;
  let honest: HonestClient;

  before(async () => {
    // Lag probes off: the clients share the gateway's process, and a wildcard client conflated for lag
    // keeps its pending topics until released (cache-bound.ts), which would make the bound timing-dependent.
    stack = await startStack({ fanout: { maxTopics: MAX_TOPICS, probeIntervalMs: 0 } });
    honest = await HonestClient.start(stack);
  });
  after(() => finishThenClose(honest, stack));

  it("the table stays at the bound under `z.>`, covered evictions are counted, re-created topics reach the subscriber with a larger q", async () => {
    const wild = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(wild, ["z.>"]);
    const zEvents = (): Record<string, unknown>[] =>
      wild.events.filter((m) => typeof m["t"] === "string" && m["t"].startsWith("z."));
    let maxSeen = 0;
    for (let batch = 0; batch < SUBJECTS / 500; batch++) {
      for (let i = batch * 500; i < (batch + 1) * 500; i++) stack.publish(`z.S${i}.quote`, quote(1 + i));
      await stack.publisher.flush();
      const want = (batch + 1) * 500;
      await wild.until(() => zEvents().length >= want, 10_000, `${want} z quotes`);
      maxSeen = Math.max(maxSeen, stack.service.hub.table.topicCount);
    }
    assert.ok(maxSeen <= MAX_TOPICS, `the table reached ${maxSeen} topics, bound ${MAX_TOPICS}`);
    assert.ok((await stack.metric("tickwire_topics")) <= MAX_TOPICS, "tickwire_topics within the bound");
    const covered = await stack.metric("tickwire_topics_evicted_covered_total");
    assert.ok(covered >= SUBJECTS - MAX_TOPICS, `${covered} covered topics evicted`);
    assert.ok((await stack.metric("tickwire_topics_evicted_total")) >= covered, "counted in the total too");
    assert.equal(stack.service.hub.table.find("z.S0.quote"), undefined, "the oldest went");
    assert.ok(stack.service.hub.table.find("xnas.AAPL.trade") !== undefined, "the exact one stayed");

    // Every subject reached the wildcard subscriber once; re-created ones come again with a larger q.
    const firstQ = new Map<string, number>();
    for (const m of zEvents()) firstQ.set(m["t"] as string, m["q"] as number);
    assert.equal(firstQ.size, SUBJECTS, "one event per subject");
    const before = zEvents().length;
    for (let i = 0; i < 50; i++) stack.publish(`z.S${i}.quote`, quote(500 + i));
    await stack.publisher.flush();
    await wild.until(() => zEvents().length >= before + 50, 10_000, "50 updates of evicted topics");
    for (const m of zEvents().slice(before)) {
      const topic = m["t"] as string;
      assert.ok(
        (m["q"] as number) > (firstQ.get(topic) as number),
        `${topic}: q ${m["q"] as number} after ${firstQ.get(topic)}`,
      );
    }
    await wild.close();
  });
});
