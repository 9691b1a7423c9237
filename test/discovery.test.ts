import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect as connectSdk, RequestRefusedError } from "../src/client/index.ts";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { FeedPublisher, createHistoryStream } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import { GatewayChild } from "./helpers/gateway-child.ts";
import { eventually, quote, trade } from "./helpers/stack.ts";

describe("discovery: the topics request lists known topics matching a pattern (cache and feed history)", () => {
  let nats: NatsServerProcess;
  let publisher: FeedPublisher;
  let gateway: GatewayChild;
  before(async () => {
    nats = await NatsServerProcess.start({ jetstream: true });
    await createHistoryStream([nats.url], {
      name: "TICKWIRE_LAST",
      subjectPrefix: "md",
      storage: "memory",
      replicas: 1,
      maxBytes: 1 << 20,
    });
    publisher = await FeedPublisher.connect(nats.url, "discovery-test");
    // Published before the gateway exists: only the feed history knows these.
    publisher.publish("md.xnas.AAPL.quote", encodeFeedPayload(quote(1)));
    publisher.publish("md.xnas.MSFT.quote", encodeFeedPayload(quote(2)));
    publisher.publish("md.xnas.MSFT.trade", encodeFeedPayload(trade(2, 1)));
    publisher.publish("md.binance.BTC-USDT.trade", encodeFeedPayload(trade(96000, 1)));
    await publisher.flush();
    gateway = await GatewayChild.start(nats.url);
  });
  after(async () => {
    await gateway?.stop();
    await publisher?.close();
    await nats?.dispose();
  });

  it("a wildcard lists the matching topics from the feed history, sorted; a typo lists none", async () => {
    const client = await TestClient.connect(gateway.wsUrl);
    try {
      const reply = await client.request("topics", { pattern: "xnas.*.quote" });
      assert.deepEqual(reply["result"], {
        pattern: "xnas.*.quote",
        topics: ["xnas.AAPL.quote", "xnas.MSFT.quote"],
        truncated: false,
      });
      const typo = await client.request("topics", { pattern: "xnsa.*.quote" });
      assert.deepEqual(typo["result"], { pattern: "xnsa.*.quote", topics: [], truncated: false });
      const all = await client.request("topics", { pattern: ">" });
      assert.deepEqual((all["result"] as { topics: string[] }).topics, [
        "binance.BTC-USDT.trade",
        "xnas.AAPL.quote",
        "xnas.MSFT.quote",
        "xnas.MSFT.trade",
      ]);
    } finally {
      await client.close();
    }
  });

  it("limit bounds the list and says truncated", async () => {
    const client = await TestClient.connect(gateway.wsUrl, ["tickwire.v1.json"]);
    try {
      const reply = await client.request("topics", { pattern: "xnas.>", limit: 2 });
      const result = reply["result"] as { topics: string[]; truncated: boolean };
      assert.equal(result.topics.length, 2);
      assert.equal(result.truncated, true);
    } finally {
      await client.close();
    }
  });

  it("a bad pattern or param gets a numbered error and changes nothing", async () => {
    const client = await TestClient.connect(gateway.wsUrl);
    try {
      const bad = await client.request("topics", { pattern: "xnas..quote" });
      assert.equal((bad["error"] as { code: number }).code, 4002);
      const noPattern = await client.request("topics", {});
      assert.equal((noPattern["error"] as { code: number }).code, 4000);
      const badLimit = await client.request("topics", { pattern: ">", limit: -1 });
      assert.equal((badLimit["error"] as { code: number }).code, 4000);
    } finally {
      await client.close();
    }
  });

  it("the SDK's topics() resolves with the list; a bad pattern rejects with the protocol code", async () => {
    const client = connectSdk(gateway.wsUrl);
    try {
      assert.deepEqual(await client.topics("binance.*.trade"), {
        topics: ["binance.BTC-USDT.trade"],
        truncated: false,
      });
      await assert.rejects(client.topics("a.b.c.d"), (error: unknown) => {
        assert.ok(error instanceof RequestRefusedError);
        assert.equal(error.protocolCode, 4002);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});

describe("discovery without a feed history: the gateway's cache", () => {
  it("lists the topics the gateway holds a value for", async () => {
    const nats = await NatsServerProcess.start();
    const publisher = await FeedPublisher.connect(nats.url, "discovery-test");
    const gateway = await GatewayChild.start(nats.url, ["--history-stream", "off"]);
    const client = await TestClient.connect(gateway.wsUrl);
    try {
      await client.subscribe(["xlon.*.quote"]);
      await eventually(async () => {
        publisher.publish("md.xlon.VOD.quote", encodeFeedPayload(quote(1.2)));
        await publisher.flush();
        return client.events.length > 0;
      }, "a live quote");
      const reply = await client.request("topics", { pattern: "xlon.*.*" });
      assert.deepEqual(reply["result"], {
        pattern: "xlon.*.*",
        topics: ["xlon.VOD.quote"],
        truncated: false,
      });
      const none = await client.request("topics", { pattern: "xnas.*.*" });
      assert.deepEqual((none["result"] as { topics: string[] }).topics, []);
    } finally {
      await client.close();
      await gateway.stop();
      await publisher.close();
      await nats.dispose();
    }
  });
});
