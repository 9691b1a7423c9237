import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import { HonestClient, finishThenClose } from "./helpers/honest-client.ts";
import { addHistoryStream, quote, startStack, type Stack } from "./helpers/stack.ts";

/**
 * Issue 11 §3: a storm of wildcard subscribes over a large feed history is bounded: lookups past 32 in
 * flight are refused (counted), overlapping reads are shared (counted), and an honest client keeps every
 * trade with no gap.
 */
describe("history lookup storms are bounded (issue 11 §3)", () => {
  const STORED = 2000;
  let stack: Stack;
  let honest: HonestClient;

  before(async () => {
    // This test is about the gateway-wide bound: the per-connection one (4) would keep 8 clients under it.
    stack = await startStack(
      { fanout: { historyTimeoutMs: 2000, maxHistoryLookupsPerConnection: 32 } },
      { jetstream: true },
    );
    await addHistoryStream(stack.nats.url);
    // Stored while nobody subscribes: only the history has them.
    for (let i = 0; i < STORED; i++) stack.publish(`pop.S${i}.quote`, quote(100 + i));
    await stack.publisher.flush();
    honest = await HonestClient.start(stack);
  });
  after(() => finishThenClose(honest, stack));

  it("48 concurrent wildcard subscribes: some refused at the bound, overlapping reads shared, every snapshot ends", async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => TestClient.connect(stack.wsUrl)));
    const patterns = ["pop.>", "pop.*.quote", "pop.*.*", "pop.>", "pop.*.quote", "pop.>"];
    const ids = clients.flatMap((client) =>
      patterns.map((pattern) => {
        void client.request("subscribe", { topics: [pattern] });
        return client;
      }),
    );
    assert.equal(ids.length, 48);
    for (const client of clients) {
      await client.until(
        () => client.messages.filter((m) => m["e"] === "snapshot_end").length === patterns.length,
        20_000,
        "every snapshot_end",
      );
    }
    const refused = await stack.metric("tickwire_history_lookups_refused_total");
    const shared = await stack.metric("tickwire_history_reads_shared_total");
    assert.ok(refused >= 1, `lookups refused past 32 in flight: ${refused}`);
    assert.ok(shared >= 1, `overlapping reads shared: ${shared}`);
    assert.equal(await stack.metric("tickwire_history_reads_in_flight"), 0);
    await Promise.all(clients.map((c) => c.close()));
  });
});
