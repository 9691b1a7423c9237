import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import { eventually, quote, startStack, trade, type Stack } from "./helpers/stack.ts";

/**
 * Issue 11 §2: the topic table is bounded. Topics nobody holds are forgotten past --max-topics (counted),
 * with the ingest's per-subject state; a forgotten topic that comes back is delivered again, numbered
 * above its old `q`; an honest client keeps every trade with no gap.
 */
describe("topics nobody holds are forgotten past --max-topics (issue 11 §2)", () => {
  let stack: Stack;
  let honest: TestClient;
  let pump: NodeJS.Timeout;
  let ticks = 0;

  before(async () => {
    stack = await startStack({ fanout: { maxTopics: 100 } });
    honest = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(honest, ["xnas.AAPL.trade"]);
    pump = setInterval(() => stack.publish("xnas.AAPL.trade", trade(100 + ticks++)), 5);
  });
  after(async () => {
    // The checks below need a run of trades long enough to show a gap: the test itself may take 50 ms.
    await eventually(() => honest.events.length >= 10, "ten trades for the honest client", 10_000);
    clearInterval(pump);
    const seqs = honest.events.map((m) => m["q"] as number);
    await honest.close();
    await stack.close();
    assert.ok(seqs.length >= 10, `the honest client got ${seqs.length} trades`);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, `gap at ${i}`);
  });

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
