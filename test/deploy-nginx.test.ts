import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createConnection } from "node:net";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { loadConfig } from "../src/config/index.ts";
import { createLogger, type Logger } from "../src/logging/index.ts";
import { startService, type Service } from "../src/process/index.ts";
import { CloseCode } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import { Nginx } from "./helpers/nginx.ts";
import {
  eventually,
  quote,
  startStack,
  withOverrides,
  type ConfigOverrides,
  type Stack,
} from "./helpers/stack.ts";

// Short enough that the test can outlive it, several heartbeat periods long (as the shipped file's 30 s is).
const READ_TIMEOUT = "3s";

async function startGateway(stack: Stack, overrides: ConfigOverrides = {}, log?: Logger): Promise<Service> {
  const base = loadConfig(
    ["--port", "0", "--nats", stack.nats.url, "--log-level", "silent", "--history-stream", "off"],
    {},
  );
  const config = withOverrides(base, overrides);
  const service = await startService(config, log ?? createLogger(config.log.level));
  await service.natsReady;
  return service;
}

/** A debug logger whose lines are kept: the gateway logs each connection's client address at debug. */
class CapturedLog {
  readonly lines: Record<string, unknown>[] = [];
  readonly log: Logger = pino(
    { level: "debug" },
    { write: (line: string) => this.lines.push(JSON.parse(line) as Record<string, unknown>) },
  );

  /** Client addresses of the connections opened so far, in order. */
  get clients(): unknown[] {
    return this.lines.filter((line) => line["msg"] === "connection opened").map((line) => line["client"]);
  }
}

describe("behind nginx (deploy/nginx/tickwire.conf)", () => {
  let stack: Stack;
  let second: Service;
  let quiet: Service;
  // One gateway that trusts nginx (--trusted-proxies 127.0.0.1), one that trusts nobody (the default).
  let trusting: Service;
  let untrusting: Service;
  const trustingLog = new CapturedLog();
  const untrustingLog = new CapturedLog();
  let nginx: Nginx;
  const clients: TestClient[] = [];
  const connect = async (site = 0): Promise<TestClient> => {
    const client = await TestClient.connect(nginx.wsUrl(site), [], { ca: nginx.certificates.ca });
    clients.push(client);
    return client;
  };

  before(async () => {
    stack = await startStack({ fanout: { heartbeatMs: 1000 } });
    second = await startGateway(stack, { fanout: { heartbeatMs: 1000 } });
    // The control: no heartbeats, no lag probes and no uWS pings, so nothing keeps its quiet connections
    // alive (the probes' pings alone would: nginx counts any bytes from the gateway).
    quiet = await startGateway(stack, {
      fanout: { heartbeatMs: 0, probeIntervalMs: 0 },
      gateway: { idleTimeoutMs: 0 },
    });
    trusting = await startGateway(stack, { gateway: { trustedProxies: ["127.0.0.1"] } }, trustingLog.log);
    untrusting = await startGateway(stack, {}, untrustingLog.log);
    nginx = await Nginx.start([
      { upstream: "tickwire", gateways: [stack.service.port, second.port], readTimeout: READ_TIMEOUT },
      { upstream: "tickwire_quiet", gateways: [quiet.port], readTimeout: READ_TIMEOUT },
      { upstream: "tickwire_trusting", gateways: [trusting.port] },
      { upstream: "tickwire_untrusting", gateways: [untrusting.port] },
    ]);
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    await nginx?.close();
    await untrusting?.stop();
    await trusting?.stop();
    await quiet?.stop();
    await second?.stop();
    await stack?.close();
  });

  it("a client subscribes over wss through nginx and gets live data; connections spread over the upstream", async () => {
    const first = await connect();
    const other = await connect();
    // least_conn: the second connection goes to the gateway that has none.
    await eventually(
      () => stack.service.hub.connectionCount === 1 && second.hub.connectionCount === 1,
      "one connection on each gateway of the upstream",
    );
    for (const client of [first, other]) {
      const reply = await client.subscribe(["xnas.AAPL.quote"]);
      assert.deepEqual(reply["result"], { subscribed: ["xnas.AAPL.quote"], errors: [] });
    }
    // Publish until both have live data (each gateway subscribes to NATS on its own demand).
    await eventually(async () => {
      await stack.publishAndFlush("xnas.AAPL.quote", quote(187.5));
      return first.events.length > 0 && other.events.length > 0;
    }, "live quotes through nginx on both connections");
    for (const client of [first, other]) {
      const event = client.events[0];
      assert.equal(event?.["t"], "xnas.AAPL.quote");
      assert.equal(event?.["bp"], 187.5);
    }
  });

  it(`a quiet connection outlives proxy_read_timeout (${READ_TIMEOUT}) thanks to heartbeats`, async () => {
    const kept = await connect(0);
    const control = await connect(1);
    // The control proves the short timeout is in force: nginx cuts the connection that gets nothing.
    let timer: NodeJS.Timeout | undefined;
    const cut = await Promise.race([
      control.closed,
      new Promise<undefined>((resolve) => (timer = setTimeout(resolve, 30_000, undefined))),
    ]);
    clearTimeout(timer);
    assert.ok(cut !== undefined, "nginx did not cut a connection without heartbeats within 30 s");
    assert.equal(cut.code, 1006, "cut by the proxy (no close frame)");
    // The heartbeat connection, opened before the control and silent since, is still there and answers.
    assert.equal(kept.ws.readyState, kept.ws.OPEN);
    assert.ok(kept.heartbeats.length >= 2, `heartbeats seen: ${kept.heartbeats.length}`);
    const pong = await kept.request("ping");
    assert.ok("result" in pong, JSON.stringify(pong));
  });

  it("the lag probes work through nginx: heartbeats carry lag, a reader that stops reading is seen lagging, then back", async () => {
    const hubs = [stack.service.hub, second.hub];
    const lagged = hubs.map((hub) => hub.laggingConnectionCount);
    const laggingMore = (): boolean =>
      hubs.some((hub, i) => hub.laggingConnectionCount > (lagged[i] as number));
    const client = await connect();
    await client.subscribe(["xnas.AAPL.quote"]);
    const lagOf = (hb: Record<string, unknown> | undefined): number | undefined =>
      typeof hb?.["lag"] === "number" ? hb["lag"] : undefined;
    // nginx forwards the gateway's pings and the client's pongs (it relays an upgraded connection's bytes):
    // a heartbeat after the first reports a lag under the gateway's bound. Unanswered, the probe's age
    // would grow past it by the second heartbeat and never come back.
    await eventually(
      () => client.heartbeats.slice(1).some((hb) => (lagOf(hb) ?? Infinity) < 1000),
      "a heartbeat with a lag measured through nginx",
    );
    assert.ok(
      client.heartbeats.every((hb) => Number.isInteger(lagOf(hb))),
      "every heartbeat carries lag",
    );

    // The client stops reading: the probe waits behind nginx, and the gateway sees the connection lagging.
    client.ws.pause();
    try {
      await eventually(async () => {
        await stack.publishAndFlush("xnas.AAPL.quote", quote(188));
        return laggingMore();
      }, "the paused reader to be seen lagging through nginx");
      // One more heartbeat round on its gateway while it still reads nothing: that heartbeat says so.
      const hub = hubs.find((h, i) => h.laggingConnectionCount > (lagged[i] as number));
      const rounds = hub?.stats.heartbeats ?? 0;
      await eventually(() => (hub?.stats.heartbeats ?? 0) > rounds, "a heartbeat round while it lags");
    } finally {
      client.ws.resume();
    }
    await eventually(() => {
      const lags = client.heartbeats.map(lagOf);
      const high = lags.findIndex((ms) => (ms ?? 0) >= 1000);
      return high >= 0 && lags.slice(high + 1).some((ms) => (ms ?? Infinity) < 1000);
    }, "a heartbeat reporting the lag, then one back under the bound");
    await eventually(() => !laggingMore(), "the connection no longer lagging");
  });

  // The client connects from 127.0.0.2 (Linux routes all of 127/8 to loopback), so the gateway can tell it
  // from nginx (127.0.0.1), and forges an X-Forwarded-For of its own that nginx passes on and appends to.
  const FORGED = { "X-Forwarded-For": "203.0.113.7" };
  const fromOtherAddress = { localAddress: "127.0.0.2", headers: FORGED };

  it("--trusted-proxies 127.0.0.1: the gateway sees the client's address from nginx's X-Forwarded-For, not the forged entry", async () => {
    const client = await TestClient.connect(nginx.wsUrl(2), [], {
      ca: nginx.certificates.ca,
      ...fromOtherAddress,
    });
    clients.push(client);
    await client.request("ping");
    await eventually(() => trustingLog.clients.length === 1, "the trusting gateway's connection opened line");
    assert.deepEqual(trustingLog.clients, ["127.0.0.2"]);
  });

  it("without --trusted-proxies the forwarded header is ignored: the client is nginx's address", async () => {
    const client = await TestClient.connect(nginx.wsUrl(3), [], {
      ca: nginx.certificates.ca,
      ...fromOtherAddress,
    });
    clients.push(client);
    await client.request("ping");
    await eventually(
      () => untrustingLog.clients.length === 1,
      "the untrusting gateway's connection opened line",
    );
    assert.deepEqual(untrustingLog.clients, ["127.0.0.1"]);
  });

  it("a client that sends X-Forwarded-For directly (not through a trusted proxy) cannot spoof its address", async () => {
    const before = trustingLog.clients.length;
    const client = await TestClient.connect(
      `ws://127.0.0.1:${trusting.port}/v1/stream`,
      [],
      fromOtherAddress,
    );
    clients.push(client);
    await client.request("ping");
    await eventually(() => trustingLog.clients.length === before + 1, "the direct connection's opened line");
    assert.equal(trustingLog.clients.at(-1), "127.0.0.2");
  });

  it("a trusted proxy that adds its own X-Forwarded-For line after the client's: both lines are one list, the forged entry is not believed", async () => {
    // nginx appends to the client's line; other proxies add a line of their own. uWS's getHeader returns
    // only the first line, which here is the client's forgery (RFC 9110 §5.3: the lines are one list).
    const before = trustingLog.clients.length;
    const socket = createConnection({ host: "127.0.0.1", port: trusting.port });
    await once(socket, "connect");
    const response = new Promise<string>((resolve) =>
      socket.once("data", (d: Buffer) => resolve(d.toString())),
    );
    socket.write(
      [
        "GET /v1/stream HTTP/1.1",
        `Host: 127.0.0.1:${trusting.port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
        "Sec-WebSocket-Version: 13",
        "X-Forwarded-For: 203.0.113.7",
        "X-Forwarded-For: 127.0.0.5",
        "",
        "",
      ].join("\r\n"),
    );
    try {
      assert.match(await response, /^HTTP\/1\.1 101/);
      await eventually(() => trustingLog.clients.length === before + 1, "the connection opened line");
      assert.equal(trustingLog.clients.at(-1), "127.0.0.5");
    } finally {
      socket.destroy();
    }
  });

  it("shutdown's 1001 and retry hint reach the client through nginx", async () => {
    const before = second.hub.connectionCount;
    const client = await connect();
    await client.request("ping");
    const onSecond = second.hub.connectionCount > before;
    const target = onSecond ? second : stack.service;
    await target.stop();
    const closed = await client.closed;
    assert.equal(closed.code, CloseCode.GOING_AWAY);
    const reason = JSON.parse(closed.reason) as { retryAfterMs?: number };
    assert.equal(reason.retryAfterMs, loadConfig([], {}).fanout.retryAfterMs);
  });
});
