import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TempDir } from "../src/auth/auth.test-support.ts";
import { mintTestToken } from "../src/auth/index.ts";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { TestClient, type Message } from "./helpers/client.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, metricValue, quote } from "./helpers/stack.ts";

// Issues 13 and 14 together: --auth jwt in every worker of a supervisor, and the auth metrics in the
// fleet-wide /metrics totals (each worker's verifier and hub count their own; a scrape sums them).

const CLIENTS = 16;
const secret = Buffer.from(randomBytes(32).toString("hex"));
const dir = new TempDir();
const secretFile = dir.file("jwt.secret", secret);
const token = (sub: string): Promise<string> =>
  mintTestToken({ secret, sub, grants: { topics: ["xnas.>"] } });

describe("tickwire serve --workers 2 --auth jwt", () => {
  let nats: NatsServerProcess;
  let publisher: FeedPublisher;
  let cli: CliProcess;
  let port: number;
  const clients: TestClient[] = [];
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  before(async () => {
    nats = await NatsServerProcess.start();
    publisher = await FeedPublisher.connect(nats.url, "test-feed");
    cli = CliProcess.run([
      "serve",
      ...["--port", "0", "--nats", nats.url, "--workers", "2"],
      ...["--auth", "jwt", "--jwt-secret-file", secretFile],
    ]);
    port = await cli.port();
    await eventually(
      () => cli.logs.some((l) => l["msg"] === "supervisor: every worker listening"),
      "the supervisor's start",
      20_000,
    );
  });
  after(async () => {
    for (const client of clients) await client.close();
    if (cli.child.exitCode === null) {
      cli.child.kill("SIGTERM");
      await cli.exit(30_000);
    }
    await publisher.close();
    await nats.dispose();
    dir.remove();
  });

  it("every worker requires tokens, and /metrics sums the auth counters of both workers", async () => {
    const url = `ws://127.0.0.1:${port}/v1/stream`;
    for (let i = 0; i < CLIENTS; i++) {
      const t = await token(`user-${i}`);
      // Half authenticate with the auth request, half with Authorization: Bearer on the upgrade.
      const client =
        i % 2 === 0
          ? await TestClient.connect(url)
          : await TestClient.connect(url, [], { headers: { authorization: `Bearer ${t}` } });
      clients.push(client);
      if (i % 2 === 0) assert.ok("result" in (await client.request("auth", { token: t })));
      const reply = await client.subscribe(["xnas.AUTHW.quote"]);
      assert.ok("result" in reply, JSON.stringify(reply));
    }
    const stranger = await TestClient.connect(url);
    clients.push(stranger);
    const refused = (await stranger.request("auth", { token: `${(await token("x")).slice(0, -3)}xyz` })) as {
      error?: { code: number; reason?: string };
    };
    assert.equal(refused.error?.code, 4001);
    assert.equal(refused.error.reason, "bad_signature");
    const unauthenticated: Message = await stranger.subscribe(["xnas.AUTHW.quote"]);
    assert.equal((unauthenticated["error"] as { code: number }).code, 4001);

    await eventually(
      () => {
        publisher.publish("md.xnas.AUTHW.quote", encodeFeedPayload(quote(7)));
        return clients.slice(0, CLIENTS).every((c) => c.events.some((e) => e["bp"] === 7));
      },
      "the quote at every authenticated client",
      15_000,
    );
    assert.equal(stranger.events.length, 0, "nothing for the unauthenticated connection");

    const text = await scrape();
    const perWorker = [0, 1].map((w) => metricValue(text, `tickwire_worker_connections{worker="${w}"}`));
    assert.ok(
      perWorker.every((n) => n > 0),
      `both workers hold connections: ${perWorker.join(", ")}`,
    );
    assert.equal(metricValue(text, "tickwire_connections"), CLIENTS + 1);
    assert.equal(metricValue(text, "tickwire_auth_accepted_total"), CLIENTS, "summed over workers");
    assert.equal(metricValue(text, 'tickwire_auth_refused_total{reason="bad_signature"}'), 1);
    assert.equal(metricValue(text, "tickwire_workers_answering"), 2);
  });
});
