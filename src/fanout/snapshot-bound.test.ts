import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connect, messages, quote, request, setup, turn } from "./hub.test-support.ts";

describe("a snapshot carries at most maxSnapshotValues values (issue 11 §2)", () => {
  it("stops at the bound and says truncated in snapshot_end, counted; live updates still flow to every topic", async () => {
    const { hub } = setup({ maxSnapshotValues: 3 });
    const names = Array.from({ length: 5 }, (_, i) => `xnas.S${i}.quote`);
    for (const name of names) hub.publish(hub.topic(name), quote(name));
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: ["xnas.*.quote"] } });
    await turn();
    const got = messages(sink);
    const snapshots = got.filter((m) => m["f"] === 1);
    assert.equal(snapshots.length, 3);
    assert.deepEqual(got.at(-1), { e: "snapshot_end", id: 1, truncated: true });
    assert.equal(hub.stats.snapshotsTruncated, 1);
    sink.frames.length = 0;
    for (const name of names) hub.publish(hub.topic(name), quote(name));
    await turn();
    assert.equal(messages(sink).length, 5, "every matched topic is live");
  });

  it("a snapshot within the bound is not marked", async () => {
    const { hub } = setup({ maxSnapshotValues: 5 });
    for (let i = 0; i < 5; i++) hub.publish(hub.topic(`xnas.S${i}.quote`), quote(`xnas.S${i}.quote`));
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: ["xnas.*.quote"] } });
    await turn();
    assert.deepEqual(messages(sink).at(-1), { e: "snapshot_end", id: 1 });
    assert.equal(hub.stats.snapshotsTruncated, 0);
  });
});
