import assert from "node:assert/strict";
import { connect } from "node:net";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import { loadConfig } from "../src/config/index.ts";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { freePort } from "./helpers/free-port.ts";
import { createLogger } from "../src/logging/index.ts";
import { startService } from "../src/process/index.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, metricValue, quote, startStack } from "./helpers/stack.ts";

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("NATS outage", () => {
  it("a client stays connected through a NATS restart and receives again afterwards", async () => {
    const stack = await startStack({ nats: { reconnectWaitMs: 100 } });
    try {
      const client = await TestClient.connect(stack.wsUrl);
      await stack.subscribe(client, ["xnas.AAPL.quote"]);
      await stack.publishAndFlush("xnas.AAPL.quote", quote(1));
      await client.until(() => client.events.length === 1, 5000, "the first quote");

      await stack.nats.stop();
      await eventually(
        async () => (await fetch(`${stack.httpUrl}/readyz`)).status === 503,
        "readyz to turn 503",
      );
      assert.deepEqual(await (await fetch(`${stack.httpUrl}/readyz`)).json(), {
        ready: false,
        listening: true,
        draining: false,
        nats: "reconnecting",
      });
      assert.equal(await stack.metric("tickwire_nats_connected"), 0);

      await stack.nats.restart();
      await eventually(
        async () => (await fetch(`${stack.httpUrl}/readyz`)).status === 200,
        "readyz to turn 200",
        10000,
      );
      // The publisher reconnects on its own schedule: publish until the client sees a new quote.
      await eventually(
        () => {
          stack.publish("xnas.AAPL.quote", quote(2));
          return client.events.some((m) => m["bp"] === 2);
        },
        "a quote after the restart",
        10000,
      );
      assert.equal(client.ws.readyState, client.ws.OPEN, "the client was never disconnected");
      assert.equal(client.messages.filter((m) => "error" in m).length, 0);
      assert.ok((await stack.metric("tickwire_nats_reconnects_total")) >= 1);
      assert.ok((await stack.metric("tickwire_nats_disconnects_total")) >= 1);
      await client.close();
    } finally {
      await stack.close();
    }
  });
});

describe("stopping before NATS is reachable", () => {
  it("a gateway stopped while its first NATS connection is pending stops retrying and closes its link", async () => {
    const port = await freePort();
    const config = loadConfig(
      [
        ...["--port", "0", "--nats", `nats://127.0.0.1:${port}`, "--nats-reconnect-wait-ms", "100"],
        ...["--history-stream", "off", "--log-level", "silent"],
      ],
      {},
    );
    const service = await startService(config, createLogger("silent"));
    const url = `http://127.0.0.1:${service.port}`;
    const metric = async (name: string): Promise<number> =>
      metricValue(await (await fetch(`${url}/metrics`)).text(), name);
    await eventually(async () => (await metric("tickwire_nats_connect_failures_total")) >= 2, "two attempts");
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    await service.stop();
    // The link stops retrying at once (it retries the first connection itself, so stop() can end it):
    // nothing is left to connect later, and the process can exit.
    assert.equal(service.ingest.stats.state, "closed");
  });
});

describe("process lifecycle (tickwire serve as a child process)", () => {
  it("SIGTERM closes clients with 1001 and a retry hint, drains NATS and exits 0", async () => {
    const nats = await NatsServerProcess.start();
    try {
      const cli = CliProcess.run(["serve", "--port", "0", "--nats", nats.url, "--retry-after-ms", "2500"]);
      const port = await cli.port();
      const client = await TestClient.connect(`ws://127.0.0.1:${port}/v1/stream`);
      await client.subscribe(["xnas.AAPL.quote"]);
      cli.child.kill("SIGTERM");
      const closed = await client.closed;
      assert.equal(closed.code, 1001);
      assert.deepEqual(JSON.parse(closed.reason), { msg: "server shutting down", retryAfterMs: 2500 });
      assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.outputTail);
      assert.ok(cli.logs.some((l) => l["msg"] === "stopped"));
      assert.equal(await portOpen(port), false, "the gateway port is closed");
    } finally {
      await nats.dispose();
    }
  });

  it("with a drain delay, readyz turns 503 while clients stay connected, then clients get 1001", async () => {
    const nats = await NatsServerProcess.start();
    try {
      const cli = CliProcess.run(["serve", "--port", "0", "--nats", nats.url, "--drain-delay-ms", "1500"]);
      const port = await cli.port();
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, "ready");
      const client = await TestClient.connect(`ws://127.0.0.1:${port}/v1/stream`);
      cli.child.kill("SIGTERM");
      await eventually(
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 503,
        "readyz 503 while draining",
      );
      const body = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { draining: boolean };
      assert.equal(body.draining, true);
      assert.equal(client.ws.readyState, client.ws.OPEN, "clients are not closed during the drain delay");
      assert.equal((await client.closed).code, 1001);
      assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.outputTail);
    } finally {
      await nats.dispose();
    }
  });

  it("embedded mode starts its own nats-server and demo feed, and stops both on exit", async () => {
    const cli = CliProcess.run(["serve", "--port", "0", "--demo-rate", "2000"], { NATS_URL: "" });
    const port = await cli.port();
    const started = cli.logs.find((l) => l["msg"] === "embedded mode: started a local nats-server");
    const natsUrl = started?.["natsUrl"] as string;
    assert.match(natsUrl, /^nats:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(typeof started?.["natsServerPid"], "number");
    assert.notEqual(
      started?.["natsServerPid"],
      cli.child.pid,
      "the pid logged is nats-server's, not the gateway's",
    );
    const client = await TestClient.connect(`ws://127.0.0.1:${port}/v1/stream`);
    await client.subscribe(["xnas.>", "binance.*.quote"]);
    await client.until(
      () => new Set(client.events.map((m) => m["t"])).size >= 5,
      10000,
      "live demo prices on 5 topics",
    );
    const quoteEvent = client.events.find((m) => m["e"] === "quote")!;
    assert.ok((quoteEvent["ap"] as number) > (quoteEvent["bp"] as number), "ask above bid");
    cli.child.kill("SIGINT");
    assert.equal((await client.closed).code, 1001);
    assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.outputTail);
    const natsPort = Number(new URL(natsUrl.replace("nats:", "http:")).port);
    await eventually(async () => !(await portOpen(natsPort)), "the embedded nats-server to stop");
  });

  it("with a NATS URL it starts no nats-server and no demo feed", async () => {
    const nats = await NatsServerProcess.start({ monitorPort: 0 });
    try {
      const cli = CliProcess.run(["serve", "--port", "0", "--nats", nats.url]);
      await cli.port();
      await eventually(() => cli.logs.some((l) => l["msg"] === "nats connected"), "nats connected");
      assert.equal(cli.logs.filter((l) => String(l["msg"]).startsWith("embedded mode")).length, 0);
      const connz = (await (await fetch(`${nats.monitorUrl}/connz`)).json()) as {
        connections: { name: string }[];
      };
      assert.deepEqual(
        connz.connections.map((c) => c.name),
        [`tickwire-gateway/${hostname()}/${cli.child.pid}`],
        "one connection, named after host and pid; no demo feed connection",
      );
      cli.child.kill("SIGTERM");
      assert.equal((await cli.exit()).code, 0);
    } finally {
      await nats.dispose();
    }
  });

  it("embedded mode without nats-server exits 1 naming the package to install", async () => {
    const cli = CliProcess.run(["serve", "--port", "0", "--nats-server-bin", "/nonexistent/nats-server"], {
      NATS_URL: "",
    });
    assert.equal((await cli.exit()).code, 1);
    assert.match(cli.stderr, /apt-get install -y nats-server/);
  });

  it("refuses to run on the uWebSockets.js fallback shim", async () => {
    const cli = CliProcess.run(["serve", "--port", "0", "--nats", "nats://127.0.0.1:1"], {
      UWS_USE_FALLBACK: "1",
    });
    assert.equal((await cli.exit()).code, 1);
    assert.match(cli.stderr, /native binary is not in use.*refuses to run on the slow fallback shim/s);
  });

  it("reports every configuration problem at once, naming each option, and exits 2", async () => {
    const cli = CliProcess.run(["serve", "--port", "70000", "--idle-timeout-ms", "5000"], {
      TICKWIRE_CONTROL_RATE: "fast",
    });
    assert.equal((await cli.exit()).code, 2);
    assert.match(cli.stderr, /--port="70000": must be between 0 and 65535/);
    assert.match(cli.stderr, /--idle-timeout-ms="5000": must be 0, or whole seconds from 8000 to 960000/);
    assert.match(cli.stderr, /TICKWIRE_CONTROL_RATE="fast": must be an integer/);
  });

  it("an unknown flag is refused with a pointer to --help", async () => {
    const cli = CliProcess.run(["serve", "--prot", "9000"]);
    assert.equal((await cli.exit()).code, 2);
    assert.match(cli.stderr, /--prot.*tickwire --help/s);
  });

  it("--help documents every option with its variable, unit and default", async () => {
    const cli = CliProcess.run(["serve", "--help"]);
    assert.equal((await cli.exit()).code, 0);
    const { OPTIONS } = await import("../src/config/index.ts");
    for (const option of OPTIONS) {
      assert.ok(cli.stdout.includes(`--${option.flag} <${option.unit}>`), option.flag);
      for (const env of option.env) assert.ok(cli.stdout.includes(env), env);
    }
  });
});

describe("feed publisher helper", () => {
  it("a NATS publisher can feed a gateway it never talked to before (no shared state)", async () => {
    const stack = await startStack();
    const publisher = await FeedPublisher.connect(stack.nats.url, "second-feed");
    try {
      const client = await TestClient.connect(stack.wsUrl);
      await stack.subscribe(client, ["xlon.BP.quote"]);
      publisher.publish("md.xlon.BP.quote", encodeFeedPayload(quote(390)));
      await publisher.flush();
      await client.until(() => client.events.length === 1, 5000, "the quote");
      await client.close();
    } finally {
      await publisher.close();
      await stack.close();
    }
  });
});
