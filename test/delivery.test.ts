import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import {
  eventually,
  natsSubscriptionsOfGateway,
  quote,
  startStack,
  trade,
  type Stack,
} from "./helpers/stack.ts";

describe("delivery: NATS feed → gateway → WebSocket clients", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it("a msgpack subscriber gets the decoded quote with topic, sequence and payload", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    const reply = await stack.subscribe(client, ["xnas.AAPL.quote"]);
    assert.deepEqual(reply["result"], { subscribed: ["xnas.AAPL.quote"], errors: [] });
    const te = Date.now() * 1000;
    stack.publish("xnas.AAPL.quote", { te, bp: 227.5, bz: 300, ap: 227.52, az: 100, extra: 7 });
    const event = await client.waitFor((m) => m["e"] === "quote");
    const { ts, ...rest } = event;
    assert.deepEqual(rest, {
      e: "quote",
      t: "xnas.AAPL.quote",
      q: 1,
      te,
      bp: 227.5,
      bz: 300,
      ap: 227.52,
      az: 100,
    });
    assert.ok(Number.isInteger(ts) && (ts as number) >= te, `ts ${String(ts)} is integer µs after te`);
    assert.ok(
      client.frames.every((f) => f.binary),
      "msgpack connection gets binary frames only",
    );
    await client.close();
  });

  it("a JSON subscriber gets text frames with the same event", async () => {
    const client = await TestClient.connect(stack.wsUrl, ["tickwire.v1.json"]);
    assert.equal(client.ws.protocol, "tickwire.v1.json");
    await stack.subscribe(client, ["xnas.MSFT.trade"]);
    stack.publish("xnas.MSFT.trade", trade(415.25, 12));
    const event = await client.waitFor((m) => m["e"] === "trade");
    assert.equal(event["t"], "xnas.MSFT.trade");
    assert.equal(event["p"], 415.25);
    assert.equal(event["z"], 12);
    assert.ok(
      client.frames.every((f) => !f.binary),
      "json connection gets text frames only",
    );
    await client.close();
  });

  it("the msgpack subprotocol is echoed when asked for, and control messages work in either encoding", async () => {
    const client = await TestClient.connect(stack.wsUrl, ["tickwire.v1.msgpack"]);
    assert.equal(client.ws.protocol, "tickwire.v1.msgpack");
    const textReply = await client.request("ping", undefined, false);
    assert.equal(typeof (textReply["result"] as { ts: number }).ts, "number");
    await client.close();
  });

  it("sequence numbers are consecutive per topic", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(client, ["binance.ETH-USDT.trade"]);
    for (let i = 0; i < 50; i++) stack.publish("binance.ETH-USDT.trade", trade(3400 + i, 1));
    await client.until(() => client.events.length === 50, 5000, "50 trades");
    const seqs = client.events.map((m) => m["q"] as number);
    assert.deepEqual(
      seqs,
      Array.from({ length: 50 }, (_, i) => seqs[0]! + i),
    );
    assert.deepEqual(
      client.events.map((m) => m["p"]),
      Array.from({ length: 50 }, (_, i) => 3400 + i),
      "in publish order",
    );
    await client.close();
  });

  it("wildcard subscriptions match with NATS semantics (* one token, > the rest)", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    const reply = await stack.subscribe(client, ["xlon.*.quote", "binance.BTC-USDT.>"]);
    assert.deepEqual((reply["result"] as { subscribed: string[] }).subscribed, [
      "xlon.*.quote",
      "binance.BTC-USDT.>",
    ]);
    stack.publish("xlon.SHEL.quote", quote(2600));
    stack.publish("xlon.SHEL.trade", trade(2600)); // not matched
    stack.publish("binance.BTC-USDT.trade", trade(96000));
    stack.publish("binance.BTC-USDT.bar", { te: Date.now() * 1000, o: 1, h: 2, l: 0.5, c: 1.5, v: 10 });
    stack.publish("binance.ETH-USDT.trade", trade(3400)); // not matched
    await stack.publisher.flush();
    await client.until(() => client.events.length >= 3, 5000, "3 matched events");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(client.events.map((m) => m["t"]).sort(), [
      "binance.BTC-USDT.bar",
      "binance.BTC-USDT.trade",
      "xlon.SHEL.quote",
    ]);
    await client.close();
  });

  it("overlapping patterns of one connection deliver each event once", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(client, ["xnas.NVDA.quote", "xnas.*.quote", "xnas.NVDA.>", ">"]);
    const other = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(other, ["xnas.NVDA.quote"]);
    for (let i = 0; i < 10; i++) stack.publish("xnas.NVDA.quote", quote(135 + i));
    await other.until(() => other.events.length === 10, 5000, "10 quotes on the other client");
    await client.until(
      () => client.events.filter((m) => m["t"] === "xnas.NVDA.quote").length >= 10,
      5000,
      "10 quotes",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const mine = client.events.filter((m) => m["t"] === "xnas.NVDA.quote");
    assert.equal(mine.length, 10, "no duplicates through overlapping patterns");
    assert.deepEqual(
      mine.map((m) => m["q"]),
      other.events.map((m) => m["q"]),
      "both clients see the same sequence numbers",
    );
    await client.close();
    await other.close();
  });

  it("unsubscribe stops delivery, and list shows what is held", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(client, ["xnas.AMD.quote", "xnas.AMD.trade"]);
    assert.deepEqual((await client.request("list"))["result"], {
      topics: ["xnas.AMD.quote", "xnas.AMD.trade"],
    });
    stack.publish("xnas.AMD.quote", quote(140));
    await client.waitFor((m) => m["e"] === "quote");
    const reply = await client.request("unsubscribe", { topics: ["xnas.AMD.quote", "xnas.NOPE.quote"] });
    assert.deepEqual((reply["result"] as { unsubscribed: string[] }).unsubscribed, ["xnas.AMD.quote"]);
    assert.equal((reply["result"] as { errors: { code: number }[] }).errors[0]?.code, 4004);
    assert.deepEqual((await client.request("list"))["result"], { topics: ["xnas.AMD.trade"] });
    const before = client.events.length;
    stack.publish("xnas.AMD.quote", quote(141));
    stack.publish("xnas.AMD.trade", trade(141));
    await client.waitFor((m) => m["e"] === "trade");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(client.events.length, before + 1, "only the trade arrives after unsubscribing the quote");
    await client.close();
  });

  it("NATS interest follows demand: subscribed on first client, gone after the last leaves", async () => {
    assert.ok(!(await natsSubscriptionsOfGateway(stack.nats)).includes("md.xnas.TSLA.*"));
    const a = await TestClient.connect(stack.wsUrl);
    const b = await TestClient.connect(stack.wsUrl);
    await a.subscribe(["xnas.TSLA.*"]);
    await b.subscribe(["xnas.TSLA.*"]);
    await eventually(
      async () => (await natsSubscriptionsOfGateway(stack.nats)).includes("md.xnas.TSLA.*"),
      "NATS subscription to appear",
    );
    assert.equal(
      (await natsSubscriptionsOfGateway(stack.nats)).filter((s) => s === "md.xnas.TSLA.*").length,
      1,
      "one NATS subscription for two clients",
    );
    await a.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok((await natsSubscriptionsOfGateway(stack.nats)).includes("md.xnas.TSLA.*"), "still wanted by b");
    await b.request("unsubscribe", { topics: ["xnas.TSLA.*"] });
    await eventually(
      async () => !(await natsSubscriptionsOfGateway(stack.nats)).includes("md.xnas.TSLA.*"),
      "NATS subscription to go",
    );
    await b.close();
  });

  it("a gateway with no clients holds no NATS subscription (no firehose)", async () => {
    await eventually(
      async () => (await natsSubscriptionsOfGateway(stack.nats)).length === 0,
      "no NATS subscriptions",
    );
    assert.equal(await stack.metric("tickwire_nats_subscriptions"), 0);
  });

  it("metrics count connections, events and frames", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(client, ["xnas.META.quote"]);
    const framesBefore = await stack.metric("tickwire_frames_sent_total");
    stack.publish("xnas.META.quote", quote(560));
    await client.waitFor((m) => m["e"] === "quote");
    assert.equal(await stack.metric("tickwire_connections"), 1);
    assert.equal(await stack.metric("tickwire_subscriptions"), 1);
    assert.equal(await stack.metric("tickwire_nats_connected"), 1);
    assert.equal(await stack.metric("tickwire_frames_sent_total"), framesBefore + 1);
    const text = await (await fetch(`${stack.httpUrl}/metrics`)).text();
    assert.match(text, /nodejs_eventloop_lag_seconds/);
    assert.match(text, /tickwire_events_dropped_total\{reason="backpressure"\} 0/);
    assert.match(text, /tickwire_events_conflated_total\{cause="slow_consumer"\} 0/);
    assert.match(text, /tickwire_slow_connections 0/);
    await client.close();
  });

  it("/healthz and /readyz report liveness and readiness", async () => {
    assert.equal((await fetch(`${stack.httpUrl}/healthz`)).status, 200);
    const ready = await fetch(`${stack.httpUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), {
      ready: true,
      listening: true,
      draining: false,
      nats: "connected",
    });
    assert.equal((await fetch(`${stack.httpUrl}/nope`)).status, 404);
  });
});
