import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import {
  connect,
  EventFlag,
  RequestRefusedError,
  type GapNotice,
  type MarketEvent,
  type StateChange,
  type StreamItem,
  type TickwireClient,
  type WebSocketConstructor,
} from "../src/client/index.ts";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { GatewayChild } from "./helpers/gateway-child.ts";
import { TcpProxy } from "./helpers/tcp-proxy.ts";
import {
  eventually,
  natsSubscriptionsOfGateway,
  publishUntilSlowConsumer,
  quote,
  startStack,
  type Stack,
} from "./helpers/stack.ts";

const T = "xnas.AAPL.quote";

/** Records everything a client emits. */
function record(client: TickwireClient) {
  const log = {
    events: [] as MarketEvent[],
    gaps: [] as GapNotice[],
    states: [] as StateChange[],
    snapshotEnds: 0,
    errors: [] as Error[],
  };
  client.on("event", (e) => log.events.push(e));
  client.on("gap", (g) => log.gaps.push(g));
  client.on("state", (s) => log.states.push(s));
  client.on("snapshot_end", () => log.snapshotEnds++);
  client.on("error", (e) => log.errors.push(e));
  return log;
}

async function interest(nats: NatsServerProcess, topics: string[]): Promise<void> {
  await eventually(
    async () => {
      const held = await natsSubscriptionsOfGateway(nats);
      return topics.every((t) => held.includes(`md.${t}`));
    },
    `NATS interest in ${topics.join(", ")}`,
  );
}

describe("client SDK against the real gateway", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      fanout: { maxTopicsPerConnection: 4, slowSoftBytes: 16384, slowCloseMs: 120_000 },
    });
  });
  after(async () => {
    await stack.close();
  });

  it("subscribe resolves with the per-topic result; typed callbacks and the async iterator get the events", async () => {
    const client = connect(stack.wsUrl);
    const log = record(client);
    const quotes: number[] = [];
    client.on("quote", (q) => quotes.push(q.bp));
    const sub = await client.subscribe([T, "xnas.AAPL"]);
    assert.deepEqual(sub.subscribed, [T]);
    assert.equal(sub.errors.length, 1);
    assert.equal(sub.errors[0]?.code, 4002, "an invalid pattern is reported per topic, not as a rejection");
    await interest(stack.nats, [T]);
    const items: StreamItem[] = [];
    const loop = (async () => {
      for await (const item of sub) {
        items.push(item);
        if (items.length === 3) break; // leaving the loop unsubscribes
      }
    })();
    for (const bp of [100, 101, 102]) stack.publish(T, quote(bp));
    await loop;
    assert.deepEqual(
      items.map((i) => (i.e === "quote" ? [i.t, i.bp, i.q] : i.e)),
      [
        [T, 100, 1],
        [T, 101, 2],
        [T, 102, 3],
      ],
    );
    assert.deepEqual(quotes, [100, 101, 102]);
    assert.ok(sub.ended, "break ended the subscription");
    await eventually(async () => (await client.list()).length === 0, "the pattern to be released");
    assert.equal(log.gaps.length, 0);
    assert.equal(log.errors.length, 0);
    await client.close();
    assert.equal(client.state, "closed");
  });

  it("a subscribe refused whole rejects with a RequestRefusedError carrying the protocol code", async () => {
    const client = connect(stack.wsUrl);
    await assert.rejects(
      client.subscribe(["a.b.quote", "a.c.quote", "a.d.quote", "a.e.quote", "a.f.quote"]),
      (error: unknown) => {
        assert.ok(error instanceof RequestRefusedError);
        assert.equal(error.code, "TICKWIRE_ERR_REQUEST_REFUSED");
        assert.equal(error.protocolCode, 4006, "limit: 4 patterns per connection");
        assert.equal(error.method, "subscribe");
        return true;
      },
    );
    assert.deepEqual(await client.list(), [], "nothing changed");
    const sub = await client.subscribe(["a.b.quote"]);
    const result = await client.unsubscribe(["a.b.quote", "a.zzz.quote"]);
    assert.deepEqual(result.unsubscribed, ["a.b.quote"]);
    assert.equal(result.errors[0]?.code, 4004, "per-topic result: not subscribed");
    assert.ok(sub.ended, "a subscription left without patterns ends");
    await client.close();
  });

  it("an idle connection lives on heartbeats: the server's counters reach the caller and the watchdog never fires", async () => {
    const client = connect(stack.wsUrl, { heartbeatMs: 1000 });
    const beats: { sent: number }[] = [];
    client.on("heartbeat", (hb) => beats.push(hb));
    await client.subscribe(["xnas.IDLE.quote"]);
    // Three and a half watchdog periods of silence but for heartbeats.
    await eventually(() => beats.length >= 4, "four heartbeats", 8000);
    assert.equal(client.stats.reconnects, 0, "no reconnect on a quiet market");
    assert.equal(client.state, "open");
    assert.deepEqual(client.stats.server, { sent: 0, conflated: 0, dropped: 0 });
    await client.close();
  });

  it("client.stats is a copy: writing to it changes nothing, and a copy taken earlier stays as it was", async () => {
    const topic = "xnas.STATS.quote";
    const client = connect(stack.wsUrl);
    const seen: MarketEvent[] = [];
    client.on("event", (e) => seen.push(e));
    await client.subscribe([topic]);
    await interest(stack.nats, [topic]);
    stack.publish(topic, quote(1));
    await eventually(
      () => seen.length === 1 && client.stats.server !== undefined,
      "one event and a heartbeat",
    );
    const earlier = client.stats;
    assert.equal(earlier.eventsReceived, 1);
    const scribbled = client.stats;
    scribbled.eventsReceived = -1;
    scribbled.reconnects = -1;
    assert.ok(scribbled.server !== undefined);
    scribbled.server.sent = -1;
    assert.equal(client.stats.eventsReceived, 1, "the client's own count is untouched");
    assert.equal(client.stats.reconnects, 0);
    assert.notEqual(client.stats.server?.sent, -1, "the heartbeat counters are copied too");
    stack.publish(topic, quote(2));
    await eventually(() => seen.length === 2, "the second event");
    assert.equal(client.stats.eventsReceived, 2);
    assert.equal(earlier.eventsReceived, 1, "a copy does not follow the client");
    await client.close();
  });

  it("a real gap (a slow socket's events skipped by the gateway) is surfaced, and the view converges", async () => {
    const sockets: WebSocket[] = [];
    class RecordingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    // No watchdog: this test stops reading on purpose.
    const client = connect(stack.wsUrl, {
      WebSocket: RecordingWebSocket as unknown as WebSocketConstructor,
      heartbeatMs: 0,
    });
    const log = record(client);
    const sub = await client.subscribe([T], { snapshot: false });
    await interest(stack.nats, [T]);
    await stack.publishAndFlush(T, quote(1));
    await eventually(() => log.events.length === 1, "the first quote");

    // Stop reading: kernel buffers fill, then the gateway's buffer passes --max-buffered-bytes.
    sockets[0]?.pause();
    await publishUntilSlowConsumer(stack, T, "the gateway to skip events for the stalled socket");
    sockets[0]?.resume();
    await eventually(
      async () => {
        await stack.publishAndFlush(T, quote(999));
        const last = log.events.findLast((e) => e.t === T);
        return last?.e === "quote" && last.bp === 999 && log.gaps.length > 0;
      },
      "the latest value after the stall",
      30_000,
    );
    const gap = log.gaps.find((g) => g.t === T);
    // Generic on purpose: a v1.1 gateway skips (kind "missed"), a v1.2 one may conflate instead.
    assert.ok(gap !== undefined && (gap.kind === "missed" || gap.kind === "conflated"));
    assert.ok(gap.missed > 0);
    assert.ok(client.stats.gaps + client.stats.conflatedEvents > 0);
    if (gap.kind === "missed") {
      // A gap triggers a fresh snapshot of the topic.
      assert.ok(client.stats.resyncs >= 1);
      await eventually(
        () => log.events.some((e) => e.t === T && ((e.f ?? 0) & EventFlag.SNAPSHOT) !== 0),
        "the snapshot fetched after the gap",
      );
    }
    assert.ok(!sub.ended);
    await client.close();
  });
});

describe("client SDK across gateway restarts and freezes (gateway as a child process)", () => {
  let nats: NatsServerProcess;
  let publisher: FeedPublisher;
  before(async () => {
    nats = await NatsServerProcess.start({ monitorPort: 0 });
    publisher = await FeedPublisher.connect(nats.url, "test-feed");
  });
  after(async () => {
    await publisher.close();
    await nats.dispose();
  });
  const publish = (topic: string, fields: Record<string, number>): void =>
    publisher.publish(`md.${topic}`, encodeFeedPayload(fields));

  it("reports the gateway's lag probes: lagMs, stats.lagMs and a lag event grow while the reader is slow; undefined without probes", async () => {
    const gateway = await GatewayChild.start(nats.url, [
      "--heartbeat-ms",
      "200",
      "--probe-interval-ms",
      "50",
    ]);
    const client = connect(gateway.wsUrl);
    const lags: number[] = [];
    client.on("lag", (ms) => lags.push(ms));
    let heartbeatsWithLag = 0;
    client.on("heartbeat", (hb) => {
      if (typeof hb.lag === "number") heartbeatsWithLag++;
    });
    let burst: ReturnType<typeof setInterval> | undefined;
    try {
      await client.subscribe([T]);
      await interest(nats, [T]);
      await eventually(() => heartbeatsWithLag > 0, "a heartbeat with lag");
      assert.equal(lags.length, heartbeatsWithLag, "one lag event per heartbeat carrying lag");
      assert.equal(client.lagMs, lags.at(-1));
      assert.equal(client.stats.lagMs, client.lagMs);
      // A slow reader: this process (the client side) blocks its event loop in bursts of 300 ms, so the
      // gateway's pings wait unread (ws answers them from JS) while quotes keep coming.
      burst = setInterval(() => {
        publish(T, quote(1));
        const until = performance.now() + 300;
        while (performance.now() < until) {
          // busy: nothing is read meanwhile
        }
      }, 20);
      await eventually(() => lags.some((ms) => ms >= 100), "a lag event of at least 100 ms");
      clearInterval(burst);
      burst = undefined;
      assert.ok(lags.every((ms) => Number.isInteger(ms) && ms >= 0));
      assert.ok(client.lagMs !== undefined && client.stats.lagMs === client.lagMs);
    } finally {
      if (burst !== undefined) clearInterval(burst);
      await client.close();
      await gateway.stop();
    }

    const noProbes = await GatewayChild.start(nats.url, [
      "--heartbeat-ms",
      "200",
      "--probe-interval-ms",
      "0",
    ]);
    const plain = connect(noProbes.wsUrl);
    let heartbeats = 0;
    let lagEvents = 0;
    plain.on("heartbeat", () => heartbeats++);
    plain.on("lag", () => lagEvents++);
    try {
      await eventually(() => heartbeats >= 2, "heartbeats from a gateway without probes");
      assert.equal(plain.lagMs, undefined);
      assert.equal(plain.stats.lagMs, undefined);
      assert.equal(lagEvents, 0);
    } finally {
      await plain.close();
      await noProbes.stop();
    }
  });

  it("reconnects after the gateway restarts, honouring its retry hint, and resubscribes with a snapshot", async () => {
    const gateway = await GatewayChild.start(nats.url, ["--retry-after-ms", "300"]);
    const proxy = await TcpProxy.start(gateway.port);
    const client = connect(proxy.wsUrl);
    const log = record(client);
    try {
      const sub = await client.subscribe([T]);
      const bids: number[] = [];
      sub.on("quote", (q) => bids.push(q.bp));
      await interest(nats, [T]);
      publish(T, quote(1));
      await eventually(() => bids.includes(1), "the first quote");

      await gateway.stop();
      const lost = log.states.find((s) => s.state === "reconnecting");
      assert.equal(lost?.disconnect?.cause, "closed");
      assert.equal(lost?.disconnect?.code, 1001);
      assert.equal(lost?.disconnect?.retryAfterMs, 300);
      assert.ok((lost?.delayMs ?? 0) >= 300, "not earlier than the server asked");

      await gateway.restart();
      proxy.targetPort = gateway.port;
      await eventually(
        () => client.stats.reconnects === 1 && client.state === "open",
        "the reconnect",
        15_000,
      );
      await eventually(() => log.snapshotEnds === 2, "the resubscribe's snapshot_end");
      // The new process numbers from 1 again: not a gap, because tracking restarts per connection.
      await eventually(
        () => {
          publish(T, quote(2));
          return bids.includes(2);
        },
        "a quote through the new gateway",
        10_000,
      );
      assert.deepEqual(log.gaps, []);
      assert.deepEqual(sub.subscribed, [T]);
      assert.deepEqual(log.errors, []);
    } finally {
      await client.close();
      await gateway.stop();
      await proxy.close();
    }
  });

  it("the watchdog drops a silent connection (gateway frozen with SIGSTOP) after 3 heartbeat periods and reconnects", async () => {
    const gateway = await GatewayChild.start(nats.url);
    const client = connect(gateway.wsUrl, { heartbeatMs: 300, connectTimeoutMs: 1000 });
    const log = record(client);
    try {
      await client.subscribe([T]);
      await interest(nats, [T]);
      publish(T, quote(1));
      await eventually(() => log.events.some((e) => e.e === "quote" && e.bp === 1), "the first quote");
      const seenBefore = log.events.length;

      gateway.freeze();
      await eventually(() => log.states.some((s) => s.state === "reconnecting"), "the watchdog", 15_000);
      const lost = log.states.find((s) => s.state === "reconnecting");
      assert.equal(lost?.disconnect?.cause, "watchdog");
      gateway.thaw();

      await eventually(() => client.stats.reconnects >= 1, "the reconnect", 15_000);
      // The resubscribe completes its snapshot sequence. Whether it carries T's value depends on which the
      // thawed gateway handles first: the old connection's close (T's interest lapses, so its cached value
      // is no longer vouched for and not served: protocol v1.4) or the new subscribe (value still held).
      await eventually(() => log.snapshotEnds >= 2, "the resubscribe's snapshot_end");
      const resnapshot = log.events
        .slice(seenBefore)
        .filter((e) => e.t === T && ((e.f ?? 0) & EventFlag.SNAPSHOT) !== 0);
      assert.ok(
        resnapshot.every((e) => e.e === "quote" && e.bp === 1),
        "a snapshot, if any, is the last value seen",
      );
      await eventually(() => {
        publish(T, quote(2));
        return log.events.some((e) => e.e === "quote" && e.bp === 2);
      }, "live quotes again");
    } finally {
      gateway.thaw();
      await client.close();
      await gateway.stop();
    }
  });
});
