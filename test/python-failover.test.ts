import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { connect } from "nats";
import type { NatsConnection } from "nats";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { GatewayChild } from "./helpers/gateway-child.ts";
import { TestClient } from "./helpers/client.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, quote } from "./helpers/stack.ts";

// Issue 14 §3: "stopping a gateway makes SDK clients given a list of gateway URLs reconnect to the other one
// and resnapshot" — here the Python client, given [A, B], with two real gateway processes on one NATS.

const CLIENT = fileURLToPath(new URL("../clients/python/", import.meta.url));
const TOPIC = "xnas.AAPL.quote";

const SCRIPT = `
import asyncio, json, os
from tickwire_client import Connected, DataEvent, Disconnected, SnapshotEnd, TickwireClient

async def main():
    urls = json.loads(os.environ["TW_URLS"])
    async with TickwireClient(urls, [${JSON.stringify(TOPIC)}], initial_delay_s=0.05, max_delay_s=1.0) as client:
        async for event in client:
            if isinstance(event, Connected):
                print("connected", event.url, event.reconnects, flush=True)
            elif isinstance(event, Disconnected):
                print("disconnected", event.code, "next", client.url, flush=True)
            elif isinstance(event, SnapshotEnd):
                print("snapshot_end", event.cause, flush=True)
            elif isinstance(event, DataEvent):
                print("snapshot" if event.snapshot else "live", event.fields["bp"], client.url, flush=True)
                if not event.snapshot and client.stats.reconnects > 0:
                    return

asyncio.run(main())
`;

describe("Python client with a list of gateway URLs", () => {
  let nats: NatsServerProcess;
  let feed: NatsConnection;
  let a: GatewayChild;
  let b: GatewayChild;
  before(async () => {
    nats = await NatsServerProcess.start({ monitorPort: 0 });
    feed = await connect({ servers: nats.url });
    const flags = ["--history-stream", "off", "--retry-after-ms", "200"];
    a = await GatewayChild.start(nats.url, flags);
    b = await GatewayChild.start(nats.url, flags);
  });
  after(async () => {
    await feed.close();
    await a.stop();
    await b.stop();
    await nats.dispose();
  });

  const publish = async (bp: number): Promise<void> => {
    feed.publish(`md.${TOPIC}`, encodeFeedPayload(quote(bp)));
    await feed.flush();
  };

  it("gateway A stops: the client moves to B, resubscribes with a snapshot, and live events flow again", async () => {
    const py = new CliProcess(
      spawn("/usr/bin/python3", ["-c", SCRIPT], {
        env: {
          ...process.env,
          PYTHONPATH: CLIENT,
          PYTHONDONTWRITEBYTECODE: "1",
          TW_URLS: JSON.stringify([a.wsUrl, b.wsUrl]),
        },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    // Another client of B, so that B holds the topic's last value (a gateway caches the topics its
    // clients want) and the Python client's resubscribe there gets a snapshot.
    const watcher = await TestClient.connect(b.wsUrl);
    try {
      await watcher.subscribe([TOPIC]);
      // A live event through A, and one through B to the watcher.
      let bp = 400;
      await eventually(
        async () => {
          await publish(bp++);
          const throughA = /^live \d+ ws:\/\/127\.0\.0\.1:\d+\/v1\/stream$/m.test(py.stdout);
          return throughA && watcher.events.some((e) => e["t"] === TOPIC);
        },
        `a live event through gateway A (stdout: ${py.stdout}, stderr: ${py.stderr})`,
        15_000,
      );
      assert.match(py.stdout, new RegExp(`^connected ${a.wsUrl} 0$`, "m"));
      await a.stop(); // SIGTERM: 1001 with the retry hint
      await eventually(
        async () => {
          if (py.child.exitCode === null) await publish(bp++);
          return py.child.exitCode !== null;
        },
        `the client to get live events through B (stdout: ${py.stdout}, stderr: ${py.stderr})`,
        20_000,
      );
      assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
      const lines = py.stdout.trim().split("\n");
      const moved = lines.indexOf(`connected ${b.wsUrl} 1`);
      assert.ok(moved > 0, py.stdout);
      assert.match(lines.slice(0, moved).join("\n"), new RegExp(`^disconnected 1001 next ${b.wsUrl}$`, "m"));
      // On B: the held pattern resubscribed with a snapshot (B's last value), then live events.
      const after = lines.slice(moved + 1);
      const snapshot = after.findIndex((l) => l.startsWith("snapshot "));
      const end = after.indexOf("snapshot_end resubscribe");
      assert.ok(snapshot >= 0 && end > snapshot, py.stdout);
      assert.match(after.at(-1) ?? "", new RegExp(`^live \\d+ ${b.wsUrl}$`));
    } finally {
      await watcher.close();
      py.child.kill();
      await py.exited;
    }
  });
});
