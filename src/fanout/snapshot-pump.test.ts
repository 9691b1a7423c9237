import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connect, messages, quote, request, setup, turn } from "./hub.test-support.ts";
import { seamViolations } from "./seam-check.test-support.ts";
import { SNAPSHOT_CHUNK_TOPICS } from "./snapshot-pump.ts";

/** Turns until `done()`, at most `max` (a stuck pump fails the test instead of hanging it). */
async function turnsUntil(done: () => boolean, max = 10_000): Promise<number> {
  let turns = 0;
  while (!done()) {
    assert.ok(turns++ < max, "the pump made no progress");
    await turn();
  }
  return turns;
}

function fill(hub: ReturnType<typeof setup>["hub"], count: number): string[] {
  const names = Array.from({ length: count }, (_, i) => `xnas.S${i}.quote`);
  // A holder keeps the values vouched for (an unheld topic's value lapses when its last subscriber leaves).
  for (const name of names) hub.publish(hub.topic(name), quote(name));
  return names;
}

describe("a large snapshot is produced across event-loop turns (issue 11 §2)", () => {
  it("one subscribe queues at most one chunk per call; the rest follows turn by turn, then snapshot_end", async () => {
    const { hub } = setup({ maxSnapshotValues: 100_000 });
    fill(hub, 3000);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: [">"] } });
    assert.ok(
      session.outbox.length <= SNAPSHOT_CHUNK_TOPICS + 1,
      `${session.outbox.length} frames queued in the call`,
    );
    await turnsUntil(() => messages(sink).some((m) => m["e"] === "snapshot_end"));
    const got = messages(sink);
    assert.deepEqual(got[0], { id: 1, result: { subscribed: [">"], errors: [] } });
    assert.equal(got.filter((m) => m["f"] === 1).length, 3000);
    assert.deepEqual(got.at(-1), { e: "snapshot_end", id: 1 });
    assert.ok(
      hub.stats.snapshotChunks >= 3000 / SNAPSHOT_CHUNK_TOPICS - 1,
      `${hub.stats.snapshotChunks} chunks`,
    );
  });

  it("live events published during the walk come after snapshot_end, with no repeat and no step back", async () => {
    const { hub } = setup({ maxSnapshotValues: 100_000 });
    const names = fill(hub, 2000);
    const honest = connect(hub, "json");
    request(hub, honest.session, {
      method: "subscribe",
      id: 1,
      params: { topics: ["xnas.S1.quote"], snapshot: false },
    });
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: ["xnas.>"] } });
    let rounds = 0;
    let honestUpdates = 0;
    await turnsUntil(() => {
      // Every turn, a few topics move: some already in the snapshot, some not yet reached.
      for (const name of [names[1]!, names[rounds % 2000]!, names[1999 - (rounds % 2000)]!]) {
        if (name === names[1]) honestUpdates++;
        hub.publish(hub.topic(name), quote(name));
      }
      rounds++;
      return messages(sink).some((m) => m["e"] === "snapshot_end");
    });
    for (const name of names.slice(0, 10)) hub.publish(hub.topic(name), quote(name));
    await turn();
    const got = messages(sink);
    const end = got.findIndex((m) => m["e"] === "snapshot_end");
    assert.ok(rounds > 1, "the snapshot took several turns");
    assert.ok(
      got.slice(0, end).every((m) => m["e"] !== "quote" || m["f"] === 1),
      "only snapshots before snapshot_end",
    );
    assert.equal(
      new Set(
        got
          .slice(0, end)
          .filter((m) => m["f"] === 1)
          .map((m) => m["t"]),
      ).size,
      2000,
    );
    assert.deepEqual(seamViolations(got), []);
    const honestQ = messages(honest.sink)
      .filter((m) => m["e"] === "quote")
      .map((m) => m["q"] as number);
    assert.equal(
      honestQ.length,
      honestUpdates + 1,
      "the other connection got every update of its topic meanwhile",
    );
  });

  it("past the bound the snapshot ends truncated and the remaining topics are still entered", async () => {
    const { hub } = setup({ maxSnapshotValues: 600 });
    const names = fill(hub, 2000);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: [">"] } });
    await turnsUntil(
      () =>
        hub.table.topic(names[1999]!).subscribers.has(session) &&
        hub.table.topic(names[0]!).subscribers.has(session) &&
        messages(sink).some((m) => m["e"] === "snapshot_end"),
    );
    await turnsUntil(() => [...hub.table.topics()].every((t) => t.subscribers.has(session)));
    const got = messages(sink);
    assert.equal(got.filter((m) => m["f"] === 1).length, 600);
    assert.deepEqual(got.at(-1), { e: "snapshot_end", id: 1, truncated: true });
    sink.frames.length = 0;
    for (const name of names) hub.publish(hub.topic(name), quote(name));
    await turn();
    assert.equal(messages(sink).length, 2000, "every topic is live");
  });

  it("a connection that closes or unsubscribes mid-snapshot stops its work at once", async () => {
    const { hub } = setup({ maxSnapshotValues: 100_000 });
    fill(hub, 3000);
    const a = connect(hub, "json");
    const b = connect(hub, "json");
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: [">"] } });
    request(hub, b.session, { method: "subscribe", id: 1, params: { topics: ["xnas.>"] } });
    await turn();
    hub.closed(a.session, 1000);
    request(hub, b.session, { method: "unsubscribe", id: 2, params: { topics: ["xnas.>"] } });
    const chunks = hub.stats.snapshotChunks;
    const framesB = b.sink.frames.length;
    await turn();
    await turn();
    assert.equal(hub.stats.snapshotChunks, chunks, "no more work for either");
    const after = messages(b.sink).slice(0);
    assert.ok(
      after.some((m) => m["e"] === "snapshot_end"),
      "b's snapshot ended",
    );
    assert.ok(
      after.some((m) => (m["result"] as Record<string, unknown> | undefined)?.["unsubscribed"] !== undefined),
    );
    assert.ok(b.sink.frames.length >= framesB);
    for (const topic of hub.table.topics())
      assert.equal(topic.subscribers.size, 0, "nobody entered any more");
  });

  it("snapshot: false enters a large wildcard's topics over turns too", async () => {
    const { hub } = setup();
    const names = fill(hub, 2000);
    const { session } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: [">"], snapshot: false } });
    const entered = (): number => names.filter((n) => hub.table.topic(n).subscribers.has(session)).length;
    assert.ok(entered() <= SNAPSHOT_CHUNK_TOPICS);
    await turnsUntil(() => entered() === 2000);
  });
});
