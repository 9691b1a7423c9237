import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import {
  connect,
  type StateChange,
  type TickwireClient,
  type WebSocketConstructor,
} from "../src/client/index.ts";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { freePort } from "./helpers/free-port.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, metricValue, quote } from "./helpers/stack.ts";

const WS = WebSocket as unknown as WebSocketConstructor;
const CLIENTS = 16;
const topicOf = (i: number): string => `xnas.W${i % 4}.quote`;

/** An SDK client and what it saw. */
interface Watched {
  readonly client: TickwireClient;
  readonly bids: number[];
  readonly states: StateChange[];
  snapshotEnds: number;
}

function watch(url: string, topic: string): Watched {
  const client = connect(url, { WebSocket: WS, initialDelayMs: 50, maxDelayMs: 500 });
  const watched: Watched = { client, bids: [], states: [], snapshotEnds: 0 };
  client.on("state", (s) => watched.states.push(s));
  client.on("snapshot_end", () => watched.snapshotEnds++);
  client.on("quote", (q) => {
    if (q.t === topic) watched.bids.push(q.bp);
  });
  return watched;
}

const lostConnection = (w: Watched): boolean => w.states.some((s) => s.state === "reconnecting");

describe("tickwire serve --workers 2 (a supervisor and two worker processes on one port)", () => {
  let nats: NatsServerProcess;
  let publisher: FeedPublisher;
  let cli: CliProcess;
  let port: number;
  let clients: Watched[] = [];
  const publish = (topic: string, bp: number): void =>
    publisher.publish(`md.${topic}`, encodeFeedPayload(quote(bp)));
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const perWorker = (text: string, name: string): number[] =>
    [0, 1].map((w) => metricValue(text, `${name}{worker="${w}"}`));
  /** Publishes `bp` on every topic until every client (or those given) has it. */
  const everyoneGets = async (bp: number, who = clients): Promise<void> =>
    eventually(
      () => {
        for (let t = 0; t < 4; t++) publish(topicOf(t), bp);
        return who.every((w) => w.bids.includes(bp));
      },
      `quote ${bp} at every client`,
      15_000,
    );

  before(async () => {
    nats = await NatsServerProcess.start({ monitorPort: 0 });
    publisher = await FeedPublisher.connect(nats.url, "test-feed");
    cli = CliProcess.run([
      "serve",
      ...["--port", "0", "--nats", nats.url, "--workers", "2", "--retry-after-ms", "60000"],
    ]);
    port = await cli.port();
    await eventually(
      () => cli.logs.some((l) => l["msg"] === "supervisor: every worker listening"),
      "the supervisor's start",
      20_000,
    );
  });
  after(async () => {
    await Promise.all(clients.map((w) => w.client.close()));
    if (cli.child.exitCode === null) {
      cli.child.kill("SIGKILL");
      await cli.exit();
    }
    await publisher.close();
    await nats.dispose();
  });

  it("/readyz is ready once both workers are, and says how many", async () => {
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
      "ready",
      15_000,
    );
    const body = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as Record<string, unknown>;
    assert.equal(body["workers"], 2);
    assert.equal(body["workersReady"], 2);
    const connz = (await (await fetch(`${nats.monitorUrl}/connz`)).json()) as {
      connections: { name: string }[];
    };
    const names = connz.connections.map((c) => c.name).filter((n) => n.startsWith("tickwire-gateway/"));
    assert.equal(names.length, 2, "one NATS connection per worker");
    assert.ok(names.some((n) => n.endsWith("/w0")) && names.some((n) => n.endsWith("/w1")), names.join());
  });

  it("connections land on both workers, every client gets its data, and /metrics totals are the sum", async () => {
    clients = Array.from({ length: CLIENTS }, (_, i) =>
      watch(`ws://127.0.0.1:${port}/v1/stream`, topicOf(i)),
    );
    await Promise.all(clients.map((w, i) => w.client.subscribe([topicOf(i)])));
    await everyoneGets(1);
    const text = await scrape();
    const connections = perWorker(text, "tickwire_worker_connections");
    assert.ok(
      connections.every((n) => n > 0),
      `both workers hold connections: ${connections.join(", ")}`,
    );
    assert.equal(metricValue(text, "tickwire_connections"), CLIENTS, "the total over workers");
    assert.equal(
      connections.reduce((a, b) => a + b, 0),
      CLIENTS,
      "the total equals the sum of the per-worker values",
    );
    assert.equal(metricValue(text, "tickwire_subscriptions"), CLIENTS);
    assert.equal(metricValue(text, "tickwire_workers"), 2);
    assert.equal(metricValue(text, "tickwire_workers_answering"), 2);
    const again = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.equal(metricValue(again, "tickwire_connections"), CLIENTS, "whichever worker answers");
    // Descriptors are counted off the event loop, one scrape behind: this scrape reports the last one's.
    const fds = perWorker(await scrape(), "tickwire_worker_open_fds");
    const maxFds = perWorker(again, "tickwire_worker_max_fds");
    for (const w of [0, 1]) {
      assert.ok(
        (fds[w] ?? 0) >= (connections[w] ?? 1),
        `worker ${w}: ${fds[w]} fds, ${connections[w]} connections`,
      );
      assert.ok((maxFds[w] ?? 0) >= (fds[w] ?? 1), `worker ${w}: limit ${maxFds[w]}`);
    }
  });

  it("a killed worker: its clients reconnect and resnapshot, the others never notice, the supervisor restarts it", async () => {
    const before = await scrape();
    const onWorker0 = perWorker(before, "tickwire_worker_connections")[0] ?? 0;
    const started = cli.logs.find((l) => l["msg"] === "supervisor: every worker listening");
    const pid = (started?.["workerPids"] as number[] | undefined)?.[0];
    assert.ok(pid !== undefined && onWorker0 > 0);
    process.kill(pid, "SIGKILL");
    await eventually(
      () => clients.filter(lostConnection).length === onWorker0,
      "the killed worker's clients",
      10_000,
    );
    await eventually(
      () => cli.logs.some((l) => l["msg"] === "worker restarted" && l["worker"] === 0),
      "the restart",
      20_000,
    );
    const moved = clients.filter(lostConnection);
    const stayed = clients.filter((w) => !lostConnection(w));
    assert.equal(stayed.length, CLIENTS - onWorker0);
    await eventually(
      () => moved.every((w) => w.client.state === "open" && w.snapshotEnds >= 2),
      "the moved clients' resubscribe with a snapshot",
      15_000,
    );
    assert.ok(
      moved.every((w) => w.bids.filter((b) => b === 1).length >= 2),
      "the snapshot after the reconnect holds the last value",
    );
    await everyoneGets(2);
    assert.ok(
      stayed.every((w) => w.client.stats.reconnects === 0 && !lostConnection(w)),
      "others unaffected",
    );
    const crash = cli.logs.find((l) => l["msg"] === "worker exited: restarting it");
    assert.equal(crash?.["signal"], "SIGKILL");
    await eventually(
      async () => {
        const text = await scrape();
        return (
          metricValue(text, "tickwire_workers_answering") === 2 &&
          metricValue(text, "tickwire_worker_restarts_total") === 1 &&
          metricValue(text, "tickwire_connections") === CLIENTS
        );
      },
      "both workers answering again, one restart counted",
      15_000,
    );
  });

  it("SIGTERM drains every worker (1001 with the retry hint) and the supervisor exits 0", async () => {
    cli.child.kill("SIGTERM");
    const exit = await cli.exit(30_000);
    assert.deepEqual(exit, { code: 0, signal: null }, cli.stderr);
    await eventually(
      () =>
        clients.every((w) =>
          w.states.some((s) => s.disconnect?.code === 1001 && s.disconnect.retryAfterMs === 60_000),
        ),
      "every client's 1001",
    );
    assert.equal(cli.logs.filter((l) => l["msg"] === "worker stopped").length, 2);
    const connz = (await (await fetch(`${nats.monitorUrl}/connz`)).json()) as {
      connections: { name: string }[];
    };
    assert.deepEqual(
      connz.connections.filter((c) => c.name.startsWith("tickwire-gateway/")),
      [],
      "no worker left connected",
    );
  });
});

describe("one owner per port", () => {
  it("a second gateway on the same port fails with 'port in use' and exits non-zero, single or workers", async () => {
    const nats = await NatsServerProcess.start();
    const first = CliProcess.run(["serve", "--port", "0", "--nats", nats.url, "--workers", "1"]);
    try {
      const port = await first.port();
      for (const workers of ["1", "2"]) {
        const second = CliProcess.run([
          "serve",
          "--port",
          String(port),
          "--nats",
          nats.url,
          "--workers",
          workers,
        ]);
        const exit = await second.exit();
        assert.equal(exit.code, 1, `--workers ${workers}: exit status`);
        assert.match(second.stderr, /port in use/, `--workers ${workers}: ${second.stderr}`);
      }
      assert.equal(
        (await fetch(`http://127.0.0.1:${port}/healthz`)).status,
        200,
        "the first one is untouched",
      );
    } finally {
      first.child.kill("SIGTERM");
      await first.exit();
      await nats.dispose();
    }
  });
});

describe("--metrics-port with workers (issue 11 §7 beside issue 14)", () => {
  it("the workers share the metrics port, any of them answers with the totals; a second gateway on it fails", async () => {
    const nats = await NatsServerProcess.start();
    const metricsPort = await freePort();
    const cli = CliProcess.run([
      "serve",
      ...["--port", "0", "--nats", nats.url, "--workers", "2"],
      ...["--metrics-port", String(metricsPort), "--metrics-cache-ms", "0"],
    ]);
    const clients: Watched[] = [];
    try {
      const port = await cli.port();
      await eventually(
        () => cli.logs.some((l) => l["msg"] === "supervisor: every worker listening"),
        "the supervisor's start",
        20_000,
      );
      for (let i = 0; i < 6; i++) clients.push(watch(`ws://127.0.0.1:${port}/v1/stream`, topicOf(i)));
      await Promise.all(clients.map((w, i) => w.client.subscribe([topicOf(i)])));
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, "not on the public port");
      // Each scrape is a new connection: the kernel spreads them over both workers, and every one of
      // them answers with the fleet's totals.
      for (let i = 0; i < 8; i++) {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        assert.equal(metricValue(text, "tickwire_workers"), 2);
        assert.equal(metricValue(text, "tickwire_workers_answering"), 2);
        assert.equal(metricValue(text, "tickwire_connections"), 6, `scrape ${i}: the total over workers`);
      }
      for (const workers of ["1", "2"]) {
        const second = CliProcess.run([
          "serve",
          ...["--port", "0", "--nats", nats.url, "--workers", workers, "--metrics-port", String(metricsPort)],
        ]);
        const exit = await second.exit();
        assert.equal(exit.code, 1, `--workers ${workers}: a second gateway on the metrics port: exit status`);
        assert.match(second.stderr, /port in use/, `--workers ${workers}: ${second.stderr}`);
      }
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status, 200, "untouched");
    } finally {
      await Promise.all(clients.map((w) => w.client.close()));
      cli.child.kill("SIGTERM");
      await cli.exit();
      await nats.dispose();
    }
  });
});

describe("--max-connection-age-ms", () => {
  it("closes an old connection with 1001 and the retry hint; the SDK reconnects and resumes with a snapshot", async () => {
    const nats = await NatsServerProcess.start();
    const publisher = await FeedPublisher.connect(nats.url, "test-feed");
    const cli = CliProcess.run([
      "serve",
      ...["--port", "0", "--nats", nats.url, "--max-connection-age-ms", "1000", "--retry-after-ms", "100"],
    ]);
    const watched = watch(`ws://127.0.0.1:${await cli.port()}/v1/stream`, "xnas.AGE.quote");
    try {
      await watched.client.subscribe(["xnas.AGE.quote"]);
      await eventually(
        () => {
          publisher.publish("md.xnas.AGE.quote", encodeFeedPayload(quote(7)));
          return watched.bids.includes(7);
        },
        "the first quote",
        10_000,
      );
      await eventually(
        () => watched.snapshotEnds >= 2 && watched.client.state === "open",
        "a rotation",
        15_000,
      );
      const closed = watched.states.find((s) => s.state === "reconnecting")?.disconnect;
      assert.equal(closed?.code, 1001);
      assert.equal(closed?.retryAfterMs, 100);
      assert.ok(
        watched.bids.filter((b) => b === 7).length >= 2,
        "the snapshot after the rotation holds the value",
      );
      const metrics = await (await fetch(`http://127.0.0.1:${await cli.port()}/metrics`)).text();
      assert.ok(metricValue(metrics, "tickwire_connections_aged_out_total") >= 1);
    } finally {
      await watched.client.close();
      cli.child.kill("SIGTERM");
      await cli.exit();
      await publisher.close();
      await nats.dispose();
    }
  });
});

describe("embedded mode with workers", () => {
  it("one nats-server and one demo feed for all workers; SIGTERM stops them all", async () => {
    const cli = CliProcess.run(["serve", "--port", "0", "--workers", "2", "--demo-rate", "500"], {
      NATS_URL: "",
    });
    const clients: Watched[] = [];
    try {
      const port = await cli.port();
      await eventually(
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
        "both workers ready",
        20_000,
      );
      assert.equal(
        cli.logs.filter((l) => l["msg"] === "embedded mode: started a local nats-server").length,
        1,
      );
      assert.equal(cli.logs.filter((l) => l["msg"] === "embedded mode: demo feed publishing").length, 1);
      for (let i = 0; i < 8; i++) clients.push(watch(`ws://127.0.0.1:${port}/v1/stream`, "xnas.AAPL.quote"));
      await Promise.all(clients.map((w) => w.client.subscribe(["xnas.AAPL.quote"])));
      await eventually(() => clients.every((w) => w.bids.length >= 2), "demo quotes at every client", 15_000);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const perWorker = [0, 1].map((w) => metricValue(text, `tickwire_worker_connections{worker="${w}"}`));
      assert.equal(perWorker[0]! + perWorker[1]!, 8);
      const natsUrl = String(
        cli.logs.find((l) => l["msg"] === "embedded mode: started a local nats-server")?.["natsUrl"],
      );
      cli.child.kill("SIGTERM");
      assert.deepEqual(await cli.exit(30_000), { code: 0, signal: null }, cli.outputTail);
      const natsPort = Number(new URL(natsUrl).port);
      const open = await new Promise<boolean>((resolve) => {
        const socket = createConnection({ host: "127.0.0.1", port: natsPort });
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      });
      assert.equal(open, false, "the embedded nats-server stopped with the supervisor");
    } finally {
      await Promise.all(clients.map((w) => w.client.close()));
      if (cli.child.exitCode === null) {
        cli.child.kill("SIGKILL");
        await cli.exit();
      }
    }
  });
});

/** True while `pid` runs (a zombie waiting for its reaper counts as gone). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

describe("no worker outlives its supervisor", () => {
  it("workers drain and exit when the supervisor is killed with SIGKILL (their IPC channel closes)", async () => {
    const nats = await NatsServerProcess.start();
    const cli = CliProcess.run(["serve", "--port", "0", "--nats", nats.url, "--workers", "2"]);
    let pids: number[] = [];
    try {
      await cli.port();
      await eventually(
        () => cli.logs.some((l) => l["msg"] === "supervisor: every worker listening"),
        "the supervisor's start",
        20_000,
      );
      pids = cli.logs.find((l) => l["msg"] === "supervisor: every worker listening")?.[
        "workerPids"
      ] as number[];
      assert.equal(pids.length, 2);
      assert.ok(pids.every(running));
      cli.child.kill("SIGKILL");
      await cli.exit();
      await eventually(() => !pids.some(running), "both workers to exit", 20_000);
    } finally {
      for (const pid of pids.filter(running)) process.kill(pid, "SIGKILL");
      await nats.dispose();
    }
  });
});
