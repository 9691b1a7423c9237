import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DiscardPolicy, StorageType, connect as natsConnect } from "nats";
import WebSocket from "ws";
import {
  connect,
  type MarketEvent,
  type TickwireClient,
  type WebSocketConstructor,
} from "../src/client/index.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { NatsCluster } from "./helpers/nats-cluster.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, quote } from "./helpers/stack.ts";

const WS = WebSocket as unknown as WebSocketConstructor;
const T = "xnas.CLU.quote";

interface Watched {
  readonly client: TickwireClient;
  readonly quotes: MarketEvent[];
  gaps: number;
}

function watch(url: string | readonly string[]): Watched {
  const client = connect(url, { WebSocket: WS, initialDelayMs: 50, resyncOnGap: false });
  const watched: Watched = { client, quotes: [], gaps: 0 };
  client.on("event", (e) => {
    if (e.e === "quote") watched.quotes.push(e);
  });
  client.on("gap", () => watched.gaps++);
  return watched;
}

const bids = (w: Watched): number[] =>
  w.quotes.map((q) => (q.e === "quote" ? q.bp : NaN)).filter((bp) => !Number.isNaN(bp));

/** The port of the server named in a gateway's latest "nats connected"/"nats reconnected" log line. */
function natsPortOf(cli: CliProcess): number {
  const lines = cli.logs.filter((l) => l["msg"] === "nats connected" || l["msg"] === "nats reconnected");
  const server = lines.at(-1)?.["server"];
  return typeof server === "string" ? Number(/:(\d+)$/.exec(server)?.[1] ?? NaN) : NaN;
}

describe("two gateways on a 3-node NATS cluster (routes on loopback)", () => {
  let cluster: NatsCluster;
  let publisher: FeedPublisher;
  let g1: CliProcess;
  let g2: CliProcess;
  let c1: Watched;
  let c2: Watched;
  let next = 1;
  const publishUntil = (done: () => boolean, what: string, topic = T): Promise<void> =>
    eventually(
      () => {
        publisher.publish(`md.${topic}`, encodeFeedPayload(quote(next++)));
        return done();
      },
      what,
      15_000,
    );

  before(async () => {
    cluster = await NatsCluster.start(3, { jetstream: true });
    const [a, b, c] = [cluster.server(0), cluster.server(1), cluster.server(2)];
    publisher = await FeedPublisher.connect(a.url, "test-feed");
    // The feed history, replicated over the 3 members, created before the gateways look for it.
    const nc = await natsConnect({ servers: cluster.server(0).url });
    try {
      const jsm = await nc.jetstreamManager({ checkAPI: false });
      // A new JetStream cluster elects its meta leader first: the stream API times out until then.
      let created = false;
      await eventually(
        async () => {
          created ||= await jsm.streams
            .add({
              name: "TW_CLUSTER",
              subjects: ["md.>"],
              max_msgs_per_subject: 1,
              storage: StorageType.Memory,
              discard: DiscardPolicy.Old,
              allow_direct: true,
              num_replicas: 3,
            })
            .then(
              () => true,
              () => false,
            );
          return created;
        },
        "JetStream ready on the cluster",
        30_000,
      );
      const info = await jsm.streams.info("TW_CLUSTER");
      assert.equal(info.config.num_replicas, 3);
      const js = nc.jetstream();
      await js.publish("md.xnas.HIST.quote", encodeFeedPayload(quote(4242)));
    } finally {
      await nc.close();
    }

    const serve = (seed: string): CliProcess =>
      CliProcess.run([
        "serve",
        ...["--port", "0", "--nats", seed, "--nats-reconnect-wait-ms", "100"],
        ...["--nats-ping-interval-ms", "1000", "--history-stream", "TW_CLUSTER"],
      ]);
    // Each gateway is given one member; the NATS client learns the others from the cluster (INFO
    // connect_urls) and fails over to them. (Given several URLs, the client picks one at random.)
    g1 = serve(b.url);
    g2 = serve(c.url);
    c1 = watch(`ws://127.0.0.1:${await g1.port()}/v1/stream`);
    c2 = watch(`ws://127.0.0.1:${await g2.port()}/v1/stream`);
    await eventually(
      () => !Number.isNaN(natsPortOf(g1)) && !Number.isNaN(natsPortOf(g2)),
      "NATS links",
      15_000,
    );
  });
  after(async () => {
    await c1.client.close();
    await c2.client.close();
    for (const g of [g1, g2]) {
      if (g.child.exitCode !== null) continue;
      g.child.kill("SIGTERM");
      await g.exit();
    }
    await publisher.close();
    await cluster.dispose();
  });

  it("a quote published on one member reaches the clients of both gateways", async () => {
    await c1.client.subscribe([T]);
    await c2.client.subscribe([T]);
    await publishUntil(
      () => c1.quotes.length > 0 && c2.quotes.length > 0,
      "a quote at both gateways' clients",
    );
  });

  it("stopping the member a gateway uses: its clients stay connected and receive again, the gap visible in q", async () => {
    const used = cluster.servers.find((s) => s.port === natsPortOf(g1));
    assert.ok(used !== undefined, "gateway 1 is connected to a cluster member");
    assert.equal(used, cluster.server(1), "gateway 1 reads B");
    assert.equal(natsPortOf(g2), cluster.server(2).port, "gateway 2 reads C");
    const firstAfter = next; // quotes with a smaller bp were published before the stop
    await used.stop();
    await eventually(
      () => g1.logs.some((l) => l["msg"] === "nats reconnected"),
      "gateway 1's failover to another member",
      15_000,
    );
    const bpOf = (q: MarketEvent): number => (q.e === "quote" ? q.bp : NaN);
    await publishUntil(
      () => c1.quotes.some((q) => bpOf(q) >= firstAfter),
      "a quote through the other member",
    );
    const i = c1.quotes.findIndex((q) => bpOf(q) >= firstAfter);
    const [last, after] = [c1.quotes[i - 1], c1.quotes[i]];
    assert.ok(
      last !== undefined && after !== undefined && after.q >= last.q + 2,
      `q stepped from ${last?.q} to ${after?.q} over the outage: the gap is visible`,
    );
    assert.ok(c1.gaps >= 1, "the SDK reported the gap");
    assert.equal(c1.client.stats.reconnects, 0, "the WebSocket stayed up");
    assert.equal(c1.client.state, "open");
    assert.equal(c2.client.stats.reconnects, 0);
    const fed = c2.quotes.length;
    await publishUntil(() => c2.quotes.length > fed, "gateway 2 still fed");
  });

  it("feed history on a stream replicated over the 3 members gives a snapshot of a topic nobody watched", async () => {
    const sub = await c2.client.subscribe(["xnas.HIST.quote"]);
    assert.deepEqual(sub.subscribed, ["xnas.HIST.quote"]);
    await eventually(() => bids(c2).includes(4242), "the snapshot from the replicated history", 10_000);
  });

  it("stopping a gateway: an SDK client given both gateways' URLs moves to the other one and resnapshots", async () => {
    const urls = await Promise.all([g1, g2].map(async (g) => `ws://127.0.0.1:${await g.port()}/v1/stream`));
    const c3 = watch(urls);
    let snapshotEnds = 0;
    c3.client.on("snapshot_end", () => snapshotEnds++);
    try {
      await c3.client.subscribe([T]);
      assert.equal(c3.client.url, urls[0]);
      await publishUntil(() => c3.quotes.length > 0, "a quote through gateway 1");
      g1.child.kill("SIGTERM");
      assert.equal((await g1.exit()).code, 0);
      await eventually(
        () => c3.client.state === "open" && snapshotEnds >= 2,
        "the move to gateway 2",
        15_000,
      );
      assert.equal(c3.client.url, urls[1]);
      assert.ok(
        c3.quotes.some((q) => ((q.f ?? 0) & 1) === 1 && q.q >= 1),
        "the resubscribe on gateway 2 brought the topic's snapshot",
      );
      const had = c3.quotes.length;
      await publishUntil(() => c3.quotes.length > had, "live quotes through gateway 2");
    } finally {
      await c3.client.close();
    }
  });
});
