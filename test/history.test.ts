import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import { CliProcess } from "./helpers/process.ts";
import { addHistoryStream, eventually, quote, trade } from "./helpers/stack.ts";

describe("snapshots from the feed history (JetStream)", () => {
  let nats: NatsServerProcess;
  let publisher: FeedPublisher;
  let gateway: CliProcess;
  let wsUrl: string;
  before(async () => {
    nats = await NatsServerProcess.start({ jetstream: true });
    await addHistoryStream(nats.url);
    publisher = await FeedPublisher.connect(nats.url, "test-feed");
    // Published before any gateway exists: only the stream has these.
    for (const bp of [10, 11, 12]) publisher.publish("md.xnas.NEW.quote", encodeFeedPayload(quote(bp)));
    publisher.publish("md.xnas.OLD.trade", encodeFeedPayload(trade(99, 5)));
    publisher.publish("md.xlon.VOD.quote", encodeFeedPayload(quote(1.2)));
    await publisher.flush();
    gateway = CliProcess.run(["serve", "--port", "0", "--nats", nats.url, "--log-level", "info"]);
    wsUrl = `ws://127.0.0.1:${await gateway.port()}/v1/stream`;
  });
  after(async () => {
    gateway.child.kill("SIGTERM");
    await gateway.exit();
    await publisher.close();
    await nats.dispose();
  });

  it("a brand-new gateway process gives a topic it never subscribed to its stored last value (SNAPSHOT, q 0), then snapshot_end, then live from q 1", async () => {
    const client = await TestClient.connect(wsUrl);
    const reply = await client.request("subscribe", { topics: ["xnas.NEW.quote"] });
    await client.waitFor((m) => m["e"] === "snapshot_end");
    const after = client.messages.slice(client.messages.indexOf(reply) + 1);
    assert.equal(after[0]?.["e"], "quote");
    assert.equal(after[0]?.["bp"], 12, "the last stored value");
    assert.equal(after[0]?.["f"], 1);
    assert.equal(after[0]?.["q"], 0);
    assert.deepEqual(after[1], { e: "snapshot_end", id: reply["id"] });
    // Live after the snapshot continues at q 1. The gateway's NATS interest may trail the reply by a
    // moment, so publish until the first live event arrives.
    await eventually(async () => {
      publisher.publish("md.xnas.NEW.quote", encodeFeedPayload(quote(13)));
      await publisher.flush();
      return client.events.length > 1;
    }, "a live event");
    assert.equal(client.events[1]?.["q"], 1);
    assert.equal(client.events[1]?.["f"], undefined);
    await client.close();
  });

  it("a wildcard subscribe gets the stored last value of every matching topic; unknown concrete topics are named missing", async () => {
    const client = await TestClient.connect(wsUrl, ["tickwire.v1.json"]);
    const reply = await client.request("subscribe", {
      topics: ["xnas.*.*", "xlon.VOD.quote", "xnas.NONE.bar"],
    });
    const end = await client.waitFor((m) => m["e"] === "snapshot_end");
    assert.deepEqual(end, { e: "snapshot_end", id: reply["id"], missing: ["xnas.NONE.bar"] });
    const snapshots = client.events.filter((e) => e["f"] === 1);
    assert.deepEqual(snapshots.map((e) => e["t"]).sort(), [
      "xlon.VOD.quote",
      "xnas.NEW.quote",
      "xnas.OLD.trade",
    ]);
    assert.equal(snapshots.find((e) => e["t"] === "xnas.OLD.trade")?.["p"], 99);
    await client.close();
  });
});

describe("embedded mode keeps the feed history itself", () => {
  it("a value published before anyone subscribed is the snapshot of the first subscriber", async () => {
    const gateway = CliProcess.run(["serve", "--port", "0", "--demo-rate", "0", "--log-level", "info"]);
    try {
      const port = await gateway.port();
      await eventually(
        () => gateway.logs.some((l) => l["msg"] === "embedded mode: feed history stream ready"),
        "history stream",
      );
      const natsUrl = gateway.logs.find((l) => typeof l["natsUrl"] === "string")?.["natsUrl"] as string;
      const publisher = await FeedPublisher.connect(natsUrl, "test-feed");
      publisher.publish("md.binance.BTC-USDT.trade", encodeFeedPayload(trade(65000, 0.5)));
      await publisher.flush();
      await publisher.close();
      const client = await TestClient.connect(`ws://127.0.0.1:${port}/v1/stream`);
      await client.request("subscribe", { topics: ["binance.*.trade"] });
      await client.waitFor((m) => m["e"] === "snapshot_end");
      assert.deepEqual(
        client.events.map((e) => [e["t"], e["p"], e["f"], e["q"]]),
        [["binance.BTC-USDT.trade", 65000, 1, 0]],
      );
      await client.close();
    } finally {
      gateway.child.kill("SIGTERM");
      await gateway.exit();
    }
  });
});
