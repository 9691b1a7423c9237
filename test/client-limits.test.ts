import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocketServer } from "ws";
import {
  connect,
  EventFlag,
  FeedStatus,
  UnrecoverableCloseError,
  type FeedEvent,
  type MarketEvent,
  type StateChange,
  type WebSocketConstructor,
} from "../src/client/index.ts";
import WebSocket from "ws";
import { eventually, quote, startStack } from "./helpers/stack.ts";

/** The 600 topics: one JSON subscribe of them is 17,451 bytes, over the 16 KiB frame limit. */
const TOPICS = Array.from({ length: 600 }, (_, i) => `binance.SYM${String(i).padStart(4, "0")}-USDT.quote`);
const WS = WebSocket as unknown as WebSocketConstructor;

describe("SDK: subscribes split to fit the frame limit, closes that would recur stop the client (issue 10 §3)", () => {
  for (const encoding of ["json", "msgpack"] as const) {
    it(`${encoding}: a 600-topic subscribe is split into requests that fit 16 KiB and succeeds whole`, async () => {
      const stack = await startStack();
      const client = connect(stack.wsUrl, { encoding, WebSocket: WS });
      const states: StateChange[] = [];
      client.on("state", (s) => states.push(s));
      try {
        const sub = await client.subscribe(TOPICS);
        assert.equal(sub.subscribed.length, 600);
        assert.deepEqual(sub.errors, []);
        assert.deepEqual((await client.list()).sort(), [...TOPICS].sort());
        const last = TOPICS[599] as string;
        const events: MarketEvent[] = [];
        client.on("event", (e) => events.push(e));
        await eventually(() => {
          stack.publish(last, quote(7));
          return events.some((e) => e.t === last);
        }, "an event of the last topic");
        assert.ok(
          states.every((s) => s.state !== "reconnecting"),
          "never disconnected",
        );
        assert.equal(await stack.metric("tickwire_client_frames_too_big_total"), 0);
      } finally {
        await client.close();
        await stack.close();
      }
    });
  }

  it("a gateway with a smaller --max-message-bytes closes with 1009 once; the client learns the limit from the reason and succeeds", async () => {
    const stack = await startStack({ gateway: { maxMessageBytes: 4096 } });
    const client = connect(stack.wsUrl, { encoding: "json", WebSocket: WS, initialDelayMs: 10 });
    const states: StateChange[] = [];
    client.on("state", (s) => states.push(s));
    try {
      const sub = await client.subscribe(TOPICS);
      assert.equal(sub.subscribed.length, 600);
      const closes = states.filter((s) => s.disconnect !== undefined).map((s) => s.disconnect?.code);
      assert.deepEqual(closes, [1009], "one 1009, then requests that fit");
      assert.equal(client.state, "open");
      assert.equal(await stack.metric("tickwire_client_frames_too_big_total"), 1);
    } finally {
      await client.close();
      await stack.close();
    }
  });

  for (const code of [4001, 1008]) {
    it(`a close with ${code} (would recur on every retry) stops the client with UnrecoverableCloseError, no reconnect loop`, async () => {
      // A peer that refuses every connection as a gateway with auth or an Origin policy would.
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
      await new Promise((resolve) => server.once("listening", resolve));
      let connections = 0;
      server.on("connection", (ws) => {
        connections++;
        ws.close(code, code === 4001 ? "token refused" : "origin not allowed");
      });
      const { port } = server.address() as { port: number };
      const client = connect(`ws://127.0.0.1:${port}/v1/stream`, { WebSocket: WS, initialDelayMs: 1 });
      const errors: Error[] = [];
      client.on("error", (e) => errors.push(e));
      try {
        await assert.rejects(client.subscribe(["xnas.AAPL.quote"]), UnrecoverableCloseError);
        await eventually(() => client.state === "closed", "the client to stop");
        assert.equal(connections, 1, "no second attempt");
        assert.ok(errors[0] instanceof UnrecoverableCloseError);
        assert.equal(errors[0].closeCode, code);
        assert.equal(errors[0].code, "TICKWIRE_ERR_UNRECOVERABLE_CLOSE");
      } finally {
        await client.close();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  }
});

describe("SDK: an upgrade the real gateway refuses for good stops the client (issue 10 §3)", () => {
  it("HTTP 403 (Origin) and HTTP 400 (token in the URL): one attempt each, then UnrecoverableCloseError naming the status", async () => {
    const stack = await startStack({ gateway: { allowedOrigins: ["https://app.example.com"] } });
    // Node's ws sends no Origin unless told; a class that sends a foreign one, as a misconfigured page would.
    class ForeignOrigin extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { origin: "https://evil.example.net" });
      }
    }
    const cases = [
      { url: stack.wsUrl, WebSocket: ForeignOrigin, status: 403, metric: "origin" },
      { url: `${stack.wsUrl}?token=abc`, WebSocket: WebSocket, status: 400, metric: "token_in_url" },
    ];
    try {
      for (const c of cases) {
        const client = connect(c.url, {
          WebSocket: c.WebSocket as unknown as WebSocketConstructor,
          initialDelayMs: 1,
          maxDelayMs: 20,
        });
        const errors: Error[] = [];
        client.on("error", (e) => errors.push(e));
        try {
          await assert.rejects(client.subscribe(["xnas.AAPL.quote"]), UnrecoverableCloseError);
          await eventually(() => client.state === "closed", "the client to stop");
          // Long enough for several retries at a 1-20 ms backoff, had the client kept trying.
          await new Promise((resolve) => setTimeout(resolve, 200));
          const sample = `tickwire_upgrades_rejected_total{reason="${c.metric}"}`;
          assert.equal(await stack.metric(sample), 1, "one attempt, no reconnect loop");
          const error = errors[0] as UnrecoverableCloseError;
          assert.ok(error instanceof UnrecoverableCloseError);
          assert.equal(error.closeCode, 1006);
          assert.match(error.message, new RegExp(`could not be opened: .*${c.status}`));
        } finally {
          await client.close();
        }
      }
    } finally {
      await stack.close();
    }
  });
});

describe("SDK: feed state (issue 10 §2)", () => {
  it("client.feed and the feed event follow a NATS restart; snapshots meanwhile are STALE", async () => {
    const stack = await startStack({ nats: { reconnectWaitMs: 100 } });
    const client = connect(stack.wsUrl, { WebSocket: WS });
    const feed: FeedEvent[] = [];
    client.on("feed", (f) => feed.push(f));
    const events: MarketEvent[] = [];
    client.on("event", (e) => events.push(e));
    try {
      await client.subscribe(["xnas.AAPL.quote"]);
      await eventually(() => {
        stack.publish("xnas.AAPL.quote", quote(1));
        return events.length > 0;
      }, "a first quote");
      assert.equal(client.feed, FeedStatus.UP);
      await stack.nats.stop();
      await eventually(() => client.feed === FeedStatus.DOWN, "feed down", 10000);
      assert.equal(feed[0]?.state, "down");
      // A client that connects while the feed is down learns it from its first frame.
      const second = connect(stack.wsUrl, { WebSocket: WS });
      const stale: MarketEvent[] = [];
      second.on("event", (e) => stale.push(e));
      try {
        await second.subscribe(["xnas.AAPL.quote"]);
        await eventually(() => stale.length > 0 && second.feed === FeedStatus.DOWN, "a STALE snapshot");
        assert.equal(stale[0]?.f, EventFlag.SNAPSHOT | EventFlag.STALE);
      } finally {
        await second.close();
      }
      await stack.nats.restart();
      await eventually(() => client.feed === FeedStatus.UP, "feed up", 15000);
      // Publish until the publisher has reconnected too (closing it mid-reconnect would leave its timer);
      // the first event after the reconnect says updates may have been lost before it.
      await eventually(
        () => {
          stack.publish("xnas.AAPL.quote", quote(2));
          return events.some((e) => "bp" in e && e.bp === 2);
        },
        "a quote after the restart",
        15000,
      );
      const resumed = events.find((e) => "bp" in e && e.bp === 2);
      assert.equal(resumed?.f, EventFlag.RESYNC);
      assert.deepEqual(
        feed.map((f) => f.state),
        ["down", "up"],
      );
    } finally {
      await client.close();
      await stack.close();
    }
  });
});
