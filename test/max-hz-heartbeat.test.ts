import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient } from "./helpers/client.ts";
import { eventually, quote, startStack, type Stack } from "./helpers/stack.ts";

describe("maxHz: per-subscription rate", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ fanout: { heartbeatMs: 0 } });
  });
  after(async () => {
    await stack.close();
  });

  it("a topic updated 1000 times a second reaches a maxHz 4 subscriber at most 4-5 times a second, flagged CONFLATED with n, and the last value always arrives", async () => {
    const dash = await TestClient.connect(stack.wsUrl, ["tickwire.v1.json"]);
    const quant = await TestClient.connect(stack.wsUrl);
    const reply = await dash.request("subscribe", { topics: ["xnas.AAPL.quote"], maxHz: 4, snapshot: false });
    assert.equal((reply["result"] as Record<string, unknown>)["maxHz"], 4);
    await stack.subscribe(quant, ["xnas.AAPL.quote"]);
    // 2 s at 1000 updates/s: 10 every 10 ms.
    const total = 2000;
    const started = Date.now();
    for (let sent = 0; sent < total;) {
      for (let i = 0; i < 10; i++) stack.publish("xnas.AAPL.quote", quote(100 + ++sent / 1000));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await stack.publisher.flush();
    const seconds = (Date.now() - started) / 1000;
    const lastBp = 100 + total / 1000;
    await eventually(() => dash.events.at(-1)?.["bp"] === lastBp, "the last value at the maxHz subscriber");
    await eventually(() => quant.events.length === total, "every update at the full-rate subscriber");
    const got = dash.events;
    // At most one per 250 ms over the publishing time, plus the last value after it.
    assert.ok(got.length <= Math.ceil(seconds * 4) + 2, `${got.length} events in ${seconds.toFixed(2)} s`);
    assert.ok(got.length >= 4, `${got.length} events`);
    let previousQ = 0;
    let standsFor = 0;
    for (const event of got) {
      const q = event["q"] as number;
      const n = (event["n"] as number | undefined) ?? 1;
      if (n > 1) assert.equal(event["f"], 2, "a merged event is flagged CONFLATED");
      if (previousQ > 0)
        assert.equal(q - n, previousQ, "q - n is the previous event's q: nothing lost unsaid");
      previousQ = q;
      standsFor += n;
    }
    assert.equal(standsFor, total - ((got[0]?.["q"] as number) - 1), "the events stand for every update");
    assert.equal(await stack.metric('tickwire_events_conflated_total{cause="max_hz"}'), total - got.length);
    await Promise.all([dash.close(), quant.close()]);
  });
});

describe("heartbeat", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ fanout: { heartbeatMs: 200 } });
  });
  after(async () => {
    await stack.close();
  });

  it("an idle connection gets a heartbeat every period, and its counters match what the client counted", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(client, ["xnas.MSFT.trade"]);
    for (let i = 0; i < 25; i++)
      stack.publish("xnas.MSFT.trade", { te: Date.now() * 1000, p: 400 + i, z: 1 });
    await stack.publisher.flush();
    await eventually(() => client.events.length === 25, "25 trades");
    const before = client.heartbeats.length;
    await eventually(
      () => client.heartbeats.length >= before + 2,
      "two more heartbeats on an idle connection",
    );
    const last = client.heartbeats.at(-1) as Record<string, unknown>;
    const index = client.messages.lastIndexOf(last);
    const dataBefore = client.messages
      .slice(0, index)
      .filter((m) => m["e"] !== "heartbeat" && m["e"] !== "snapshot_end" && typeof m["e"] === "string");
    assert.deepEqual(
      { sent: last["sent"], conflated: last["conflated"], dropped: last["dropped"] },
      { sent: dataBefore.length, conflated: 0, dropped: 0 },
    );
    assert.equal(typeof last["ts"], "number");
    assert.ok(Number.isSafeInteger(last["ts"]), "ts is integer µs");
    assert.ok((await stack.metric("tickwire_heartbeat_rounds_total")) >= 2);
    await client.close();
  });
});
