import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventFlag } from "../src/protocol/index.ts";
import { TestClient, type Message } from "./helpers/client.ts";
import { eventually, quote, startStack } from "./helpers/stack.ts";

const flagsOf = (m: Message): number => (typeof m["f"] === "number" ? m["f"] : 0);
const isFeed = (state: string) => (m: Message) => m["e"] === "feed" && m["state"] === state;

describe("feed state in-band (issue 10 §2)", () => {
  for (const protocols of [["tickwire.v1.msgpack"], ["tickwire.v1.json"]]) {
    it(`${protocols[0]}: a NATS restart is announced, snapshots meanwhile are STALE, and each topic's first event after it is RESYNC`, async () => {
      const stack = await startStack({ nats: { reconnectWaitMs: 100 }, fanout: { heartbeatMs: 100 } });
      const clients: TestClient[] = [];
      try {
        const open = async (): Promise<TestClient> => {
          const client = await TestClient.connect(stack.wsUrl, protocols);
          clients.push(client);
          return client;
        };
        const a = await open();
        await stack.subscribe(a, ["xnas.AAPL.quote", "xnas.MSFT.quote"]);
        await stack.publishAndFlush("xnas.AAPL.quote", quote(1));
        await stack.publishAndFlush("xnas.MSFT.quote", quote(50));
        await a.until(() => a.events.length === 2, 5000, "the first quotes");
        assert.equal(a.messages.filter((m) => m["e"] === "feed").length, 0, "no feed event while up");
        assert.ok(
          a.heartbeats.every((m) => !("feed" in m)),
          "heartbeats say nothing while up",
        );

        await stack.nats.stop();
        const down = await a.waitFor(isFeed("down"), 10000);
        assert.equal(typeof down["ts"], "number");
        // Heartbeats carry the state while it lasts.
        const downAt = a.messages.indexOf(down);
        await a.until(
          () => a.messages.slice(downAt).some((m) => m["e"] === "heartbeat"),
          5000,
          "a heartbeat",
        );
        assert.equal(a.messages.slice(downAt).find((m) => m["e"] === "heartbeat")?.["feed"], "down");

        // A client that connects while the feed is down is told at once, and its snapshot is STALE.
        const b = await open();
        await b.until(() => b.messages.length > 0, 5000, "the first frame");
        assert.equal(b.messages[0]?.["e"], "feed");
        assert.equal(b.messages[0]?.["state"], "down");
        const reply = await b.subscribe(["xnas.AAPL.quote"], true);
        assert.ok("result" in reply);
        await b.waitFor((m) => m["e"] === "snapshot_end");
        const stale = b.events.find((m) => m["t"] === "xnas.AAPL.quote");
        assert.equal(stale?.["bp"], 1);
        assert.equal(flagsOf(stale), EventFlag.SNAPSHOT | EventFlag.STALE);

        await stack.nats.restart();
        await a.waitFor(isFeed("up"), 15000);
        await b.waitFor(isFeed("up"), 5000);
        const upAt = a.messages.findIndex(isFeed("up"));
        // The publisher reconnects on its own schedule: publish until the client sees a new quote.
        await eventually(
          () => {
            stack.publish("xnas.AAPL.quote", quote(2));
            return a.events.some((m) => m["bp"] === 2);
          },
          "a quote after the restart",
          15000,
        );
        const after = a.events.filter((m) => m["t"] === "xnas.AAPL.quote" && m["bp"] === 2);
        // The outage skips one q (v1.6: a gap a q-tracking client sees) and flags the event RESYNC (v1.9).
        assert.equal(after[0]?.["q"], 3, "q steps over the outage");
        assert.equal(flagsOf(after[0]), EventFlag.RESYNC, "the first event after the reconnect");
        await stack.publishAndFlush("xnas.AAPL.quote", quote(3));
        await a.until(() => a.events.some((m) => m["bp"] === 3), 5000, "the next quote");
        const quotes = a.events.filter((m) => m["t"] === "xnas.AAPL.quote");
        const nextAt = quotes.findIndex((m) => m["bp"] === 3);
        const next = quotes[nextAt] as Message;
        // (the retry loop above may have published quote 2 more than once)
        assert.equal(next["q"], (quotes[nextAt - 1]?.["q"] as number) + 1, "consecutive again");
        assert.equal(flagsOf(next), 0, "only the first is flagged");
        assert.ok(a.heartbeats.slice(-1).every((m) => !("feed" in m)));
        assert.ok(
          a.messages.slice(upAt + 1).every((m) => m["e"] !== "feed"),
          "one up event",
        );

        // After the outage: a value received since it is a plain snapshot, one from before it is STALE
        // until the topic updates again (MSFT's publisher is silent: the gateway cannot vouch for it).
        const c = await open();
        assert.ok("result" in (await c.subscribe(["xnas.AAPL.quote", "xnas.MSFT.quote"], true)));
        await c.waitFor((m) => m["e"] === "snapshot_end");
        const snapshot = (topic: string): Message => c.events.find((m) => m["t"] === topic) as Message;
        assert.equal(flagsOf(snapshot("xnas.AAPL.quote")), EventFlag.SNAPSHOT);
        assert.equal(snapshot("xnas.AAPL.quote")["bp"], 3);
        assert.equal(flagsOf(snapshot("xnas.MSFT.quote")), EventFlag.SNAPSHOT | EventFlag.STALE);
        assert.ok((await stack.metric("tickwire_feed_resyncs_total")) >= 1);
        assert.ok(a.messages.every((m) => !("error" in m)));
      } finally {
        for (const client of clients) await client.close();
        await stack.close();
      }
    });
  }
});
