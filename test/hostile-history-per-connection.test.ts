import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import { HonestClient, finishThenClose } from "./helpers/honest-client.ts";
import { addHistoryStream, quote, startStack, type Stack } from "./helpers/stack.ts";

/**
 * Issue 11 §3: one connection may have at most --max-history-lookups-per-connection (4) feed-history
 * lookups in flight. One subscribe with 40 patterns used to start 40 lookups at once: past the
 * gateway's 32 the rest were refused (its own and everyone else's snapshots lost their history values).
 * Now its lookups wait for its own slots: nothing is refused, its snapshot is complete, another
 * connection's snapshot is complete, and an honest client keeps every trade.
 */
describe("feed-history lookups are bounded per connection (issue 11 §3)", () => {
  const STORED = 400;
  const PATTERNS = 40;
  let stack: Stack;
  let honest: HonestClient;

  before(async () => {
    stack = await startStack({ fanout: { historyTimeoutMs: 5000 } }, { jetstream: true });
    await addHistoryStream(stack.nats.url);
    // Stored while nobody subscribes: only the history has them.
    for (let i = 0; i < STORED; i++) stack.publish(`pop.S${i}.quote`, quote(100 + i));
    await stack.publisher.flush();
    honest = await HonestClient.start(stack);
  });
  after(() => finishThenClose(honest, stack));

  it("a subscribe of 40 patterns reads 4 at a time: none refused, its snapshot and another connection's complete; counted", async () => {
    const flood = await TestClient.connect(stack.wsUrl);
    const other = await TestClient.connect(stack.wsUrl);
    const topics = Array.from({ length: PATTERNS }, (_, i) => `pop.S${i}.*`);
    const flooded = flood.request("subscribe", { topics });
    const asked = other.request("subscribe", { topics: ["pop.>"] });
    await Promise.all([flooded, asked]);
    const ended = (client: TestClient): boolean => client.messages.some((m) => m["e"] === "snapshot_end");
    await flood.until(() => ended(flood), 20_000, "the flood's snapshot_end");
    await other.until(() => ended(other), 20_000, "the other connection's snapshot_end");
    const snapshots = (client: TestClient): number =>
      client.events.filter((m) => ((m["f"] as number | undefined) ?? 0) & 1).length;
    assert.equal(snapshots(flood), PATTERNS, "one value per pattern: nothing lost to a refusal");
    assert.equal(snapshots(other), STORED, "the other connection's snapshot is complete");
    assert.equal(await stack.metric("tickwire_history_lookups_refused_total"), 0, "nothing refused");
    const queued = await stack.metric("tickwire_history_lookups_queued_total");
    assert.ok(queued >= PATTERNS - 4, `${queued} lookups waited for the connection's slots`);
    assert.equal(await stack.metric("tickwire_history_lookups_dropped_total"), 0);
    await Promise.all([flood.close(), other.close()]);
  });
});
