import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import { freePort } from "./helpers/free-port.ts";
import { HonestClient, finishThenClose } from "./helpers/honest-client.ts";
import { eventually, metricValue, startStack, type Stack } from "./helpers/stack.ts";

/**
 * Issue 11 §6, §7, §9: a /metrics flood, the connection cap and HTTP edges, each beside an honest client
 * that must keep receiving every tick with no gap in `q`.
 */

/**
 * Writes `count` pipelined GET requests in one write (reading the answers or not); resolves with what came
 * back once the server closes the connection, or after a bound (then `closedByServer` is false).
 */
async function pipeline(
  port: number,
  path: string,
  count: number,
  read: boolean,
): Promise<{ text: string; closedByServer: boolean }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => undefined);
  if (!read) socket.pause();
  let text = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => (text += chunk));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(count));
  const closed = new Promise<boolean>((resolve) => socket.once("close", () => resolve(true)));
  // The refusal closes the connection: wait for that (bounded, so a regression fails instead of hanging).
  const closedByServer = await Promise.race([
    closed,
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), read ? 5000 : 1000)),
  ]);
  socket.destroy();
  return { text, closedByServer };
}

async function http(
  port: number,
  path: string,
  method = "GET",
): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

describe("a /metrics flood on the public port stalls nothing (issue 11 §7)", () => {
  let stack: Stack;
  let honest: HonestClient;
  before(async () => {
    stack = await startStack({ gateway: { metricsCacheMs: 3000 } });
    honest = await HonestClient.start(stack, "xnas.AAPL.trade");
  });
  after(() => finishThenClose(honest, stack));

  it("pipelined scrapes past the per-turn budget get 503 and a close, counted; the honest client has no gap", async () => {
    const port = stack.service.port;
    // A render in progress when a pipelined request arrives makes uWS drop the connection; with a scrape
    // cached (3 s), every scrape is answered at once, so the per-turn budget is what refuses.
    assert.equal((await http(port, "/metrics")).status, 200);
    const floods = await Promise.all([
      pipeline(port, "/metrics", 2000, true),
      pipeline(port, "/metrics", 2000, true),
      pipeline(port, "/metrics", 2000, true),
      pipeline(port, "/metrics", 6000, false),
    ]);
    for (const flood of floods.slice(0, 3))
      assert.ok(flood.closedByServer, "the flooding connection was closed");
    assert.ok(
      floods.some((f) => f.text.includes("HTTP/1.1 200 OK")),
      "the budget served some scrapes",
    );
    const before = honest.client.events.length;
    await honest.client.until(
      () => honest.client.events.length >= before + 20,
      5000,
      "ticks after the flood",
    );
    // The scrape itself is cached for 3 s: poll until a fresh one shows the refusals.
    await eventually(
      async () => (await stack.metric("tickwire_http_requests_refused_total")) >= 1,
      "refusals counted",
      10_000,
    );
  });

  it("a HEAD request gets headers and a content-length but no body", async () => {
    const socket = connect(stack.service.port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.write(
      "HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    await eventually(() => text.split("HTTP/1.1 200").length === 3 && text.endsWith("ok\n"), "two responses");
    socket.destroy();
    const [head, get] = text.split(/(?=HTTP\/1\.1 200)/);
    assert.match(head!, /content-length: 3/i);
    assert.ok(head!.endsWith("\r\n\r\n"), `HEAD has no body: ${JSON.stringify(head)}`);
    assert.ok(get!.endsWith("\r\n\r\nok\n"));
  });
});

describe("--metrics-port moves /metrics off the public port (issue 11 §7)", () => {
  let stack: Stack;
  let metricsPort: number;
  before(async () => {
    metricsPort = await freePort();
    stack = await startStack({ gateway: { metricsPort, metricsHost: "127.0.0.1" } });
  });
  after(async () => {
    await stack.close();
  });

  it("the public port answers 404 for /metrics; the metrics port serves it, /healthz and /readyz stay on both", async () => {
    assert.equal(stack.service.metricsPort, metricsPort);
    const publicScrape = await http(stack.service.port, "/metrics");
    assert.equal(publicScrape.status, 404);
    const scrape = await http(metricsPort, "/metrics");
    assert.equal(scrape.status, 200);
    assert.match(scrape.body, /^tickwire_connections /m);
    for (const port of [stack.service.port, metricsPort]) {
      assert.equal((await http(port, "/healthz")).status, 200);
      assert.equal((await http(port, "/readyz")).status, 200);
    }
    assert.equal((await http(metricsPort, "/")).status, 404, "no dashboard on the metrics port");
    assert.equal((await http(metricsPort, "/v1/stream")).status, 404, "no WebSocket on the metrics port");
  });
});

describe("--max-connections refuses upgrades past the cap with 503 (issue 11 §6)", () => {
  let stack: Stack;
  let honest: HonestClient;
  before(async () => {
    stack = await startStack({ gateway: { maxConnections: 3 } });
    honest = await HonestClient.start(stack, "xnas.MSFT.trade");
  });
  after(() => finishThenClose(honest, stack));

  it("the 4th connection gets 503 with retry-after, counted; HTTP keeps answering; a freed slot is reused", async () => {
    const second = await TestClient.connect(stack.wsUrl);
    const third = await TestClient.connect(stack.wsUrl);
    const refusals = await Promise.all(
      Array.from({ length: 5 }, () => TestClient.connect(stack.wsUrl).then(() => "accepted", String)),
    );
    for (const r of refusals) assert.match(r, /503/);
    const scrape = await (await fetch(`${stack.httpUrl}/metrics`)).text();
    assert.equal(metricValue(scrape, 'tickwire_upgrades_rejected_total{reason="capacity"}'), 5);
    assert.equal(metricValue(scrape, "tickwire_max_connections"), 3);
    assert.equal((await http(stack.service.port, "/healthz")).status, 200);
    await second.close();
    await eventually(() => stack.service.hub.connectionCount === 2, "the slot freed");
    const again = await TestClient.connect(stack.wsUrl);
    await again.close();
    await third.close();
    const seen = honest.client.events.length;
    await honest.client.until(
      () => honest.client.events.length >= seen + 20,
      5000,
      "ticks after the refusals",
    );
  });
});

describe("--max-connections-per-ip: one address cannot take every connection", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ gateway: { maxConnectionsPerIp: 2 } });
  });
  after(async () => {
    await stack.close();
  });

  it("the 3rd connection from 127.0.0.2 gets 429 with retry-after, counted; another address connects; a freed slot is reused", async () => {
    const from = (address: string): Promise<TestClient> =>
      TestClient.connect(stack.wsUrl, [], { localAddress: address });
    const first = await from("127.0.0.2");
    const second = await from("127.0.0.2");
    const refused = await from("127.0.0.2").then(() => "accepted", String);
    assert.match(refused, /429/);
    const other = await from("127.0.0.3");
    assert.equal(typeof (await other.request("ping"))["result"], "object");
    const scrape = await (await fetch(`${stack.httpUrl}/metrics`)).text();
    assert.equal(metricValue(scrape, 'tickwire_upgrades_rejected_total{reason="per_ip"}'), 1);
    const response = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port: stack.service.port, localAddress: "127.0.0.2" }, () =>
        socket.write(
          "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ),
      );
      socket.once("data", (data: Buffer) => {
        const text = data.toString();
        socket.destroy();
        resolve({
          status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]),
          retryAfter: /\r\nretry-after: (\d+)/i.exec(text)?.[1],
        });
      });
    });
    assert.equal(response.status, 429);
    assert.ok(Number(response.retryAfter) >= 1, `retry-after ${response.retryAfter}`);
    await first.close();
    await eventually(() => stack.service.hub.connectionCount === 2, "the slot freed");
    const again = await from("127.0.0.2");
    await Promise.all([again.close(), second.close(), other.close()]);
  });
});
