import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import { HonestClient, finishThenClose } from "./helpers/honest-client.ts";
import { eventually, quote, startStack, type Stack } from "./helpers/stack.ts";

/**
 * Issue 11 §2: the topic table is bounded. Topics nobody holds are forgotten past --max-topics (counted),
 * with the ingest's per-subject state; a forgotten topic that comes back is delivered again, numbered
 * above its old `q`; an honest client keeps every trade with no gap.
 */
describe("topics nobody holds are forgotten past --max-topics (issue 11 §2)", () => {
  let stack: Stack;
  let honest: HonestClient;

  before(async () => {
    stack = await startStack({ fanout: { maxTopics: 100 } });
    honest = await HonestClient.start(stack);
  });
  after(() => finishThenClose(honest, stack));

  async function fill(prefix: string, count: number): Promise<TestClient> {
    const holder = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(holder, [`${prefix}.*.quote`]);
    for (let i = 0; i < count; i++) stack.publish(`${prefix}.T${i}.quote`, quote(1 + i));
    await stack.publisher.flush();
    await holder.until(() => holder.events.length >= count, 10_000, `${count} ${prefix} quotes`);
    return holder;
  }

  it("the table stays bounded, evictions are counted, and an evicted topic is delivered again with a larger q", async () => {
    const first = await fill("evo", 80);
    const oldQ = first.events.find((m) => m["t"] === "evo.T0.quote")?.["q"] as number;
    await first.close(); // nobody holds evo.* any more
    const second = await fill("evn", 80);
    await eventually(
      async () => (await stack.metric("tickwire_topics_evicted_total")) > 0,
      "evictions counted",
    );
    assert.ok((await stack.metric("tickwire_topics")) <= 100, "the table stayed within the bound");
    assert.equal(stack.service.hub.table.find("evo.T0.quote"), undefined, "the oldest unheld topic went");
    const back = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(back, ["evo.T0.quote"]);
    stack.publish("evo.T0.quote", quote(42));
    await back.until(() => back.events.length === 1, 5000, "the forgotten topic delivered again");
    const q = back.events[0]?.["q"] as number;
    assert.ok(q > oldQ, `q ${q} is above the forgotten topic's ${oldQ}`);
    await back.close();
    await second.close();
  });
});
