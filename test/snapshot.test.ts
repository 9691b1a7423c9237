import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient, type Message } from "./helpers/client.ts";
import { quote, startStack, type Stack } from "./helpers/stack.ts";

/** Messages of `client` from the reply to request `id` on, in arrival order. */
function from(client: TestClient, id: unknown): Message[] {
  const start = client.messages.findIndex((m) => m["id"] === id && "result" in m);
  assert.ok(start >= 0, `no reply with id ${String(id)}`);
  return client.messages.slice(start);
}

const quotes = (client: TestClient): Message[] => client.events.filter((m) => m["e"] === "quote");

describe("snapshot: last-value cache → subscribe with snapshot", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it("a late subscriber gets the latest value flagged SNAPSHOT with the live q, then snapshot_end, then live events with the next q", async () => {
    const a = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(a, ["xnas.AAPL.quote"]);
    for (const bp of [230.1, 230.2, 230.3]) await stack.publishAndFlush("xnas.AAPL.quote", quote(bp));
    await a.until(() => quotes(a).length === 3, 5000, "three quotes on A");
    const lastOfA = quotes(a)[2] as Message;
    assert.equal(lastOfA["bp"], 230.3);
    assert.equal(lastOfA["f"], undefined, "live events carry no flag");

    const b = await TestClient.connect(stack.wsUrl);
    const reply = await b.request("subscribe", { topics: ["xnas.AAPL.quote"], snapshot: true });
    assert.deepEqual(reply["result"], { subscribed: ["xnas.AAPL.quote"], errors: [] });
    await b.waitFor((m) => m["e"] === "snapshot_end");
    await stack.publishAndFlush("xnas.AAPL.quote", quote(230.4));
    await b.until(() => quotes(b).length === 2, 5000, "snapshot and one live quote on B");
    await a.until(() => quotes(a).length === 4, 5000, "the live quote on A");

    const [replyAgain, snapshot, end, live, ...rest] = from(b, reply["id"]);
    assert.equal(replyAgain, reply);
    assert.deepEqual(snapshot, { ...lastOfA, f: 1 }, "A's last event, flagged, same q, te and ts");
    assert.deepEqual(end, { e: "snapshot_end", id: reply["id"] });
    assert.equal(live?.["q"], (lastOfA["q"] as number) + 1, "no gap, no duplicate at the seam");
    assert.equal(live?.["bp"], 230.4);
    assert.equal(live?.["f"], undefined);
    assert.deepEqual(rest, []);
    assert.deepEqual(live, quotes(a)[3], "both connections see the same live event");
    await a.close();
    await b.close();
  });

  it("a JSON subscriber gets the snapshot as a text frame, and none with snapshot false", async () => {
    const a = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(a, ["xnas.MSFT.trade"]);
    await stack.publishAndFlush("xnas.MSFT.trade", { te: Date.now() * 1000, p: 415.25, z: 12 });
    await a.until(() => a.events.length === 1, 5000, "the trade on A");

    const j = await TestClient.connect(stack.wsUrl, ["tickwire.v1.json"]);
    const reply = await j.request("subscribe", { topics: ["xnas.*.trade"] });
    await j.waitFor((m) => m["e"] === "snapshot_end");
    assert.deepEqual(from(j, reply["id"]).slice(1), [
      { ...a.events[0], f: 1 },
      { e: "snapshot_end", id: reply["id"] },
    ]);
    assert.ok(
      j.frames.every((f) => !f.binary),
      "text frames only",
    );

    const n = await TestClient.connect(stack.wsUrl);
    await n.subscribe(["xnas.MSFT.trade"], false);
    await n.request("ping");
    assert.deepEqual(n.events, [], "no snapshot event when snapshot is false");
    assert.equal(
      n.messages.some((m) => m["e"] === "snapshot_end"),
      false,
    );
    await Promise.all([a.close(), j.close(), n.close()]);
  });

  it("without feed history, a topic published while the gateway held no interest in it has no snapshot and is named in snapshot_end.missing", async () => {
    await stack.publishAndFlush("xnas.NVDA.quote", quote(140));
    const b = await TestClient.connect(stack.wsUrl);
    const reply = await b.request("subscribe", { topics: ["xnas.NVDA.quote"], snapshot: true });
    await b.waitFor((m) => m["e"] === "snapshot_end");
    assert.deepEqual(from(b, reply["id"]).slice(1), [
      { e: "snapshot_end", id: reply["id"], missing: ["xnas.NVDA.quote"] },
    ]);
    await b.close();
  });
});
