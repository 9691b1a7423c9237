import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import { GatewayChild } from "./helpers/gateway-child.ts";
import { CliProcess } from "./helpers/process.ts";
import {
  eventually,
  publishUntilSlowConsumer,
  quote,
  startStack,
  trade,
  type Stack,
} from "./helpers/stack.ts";
import { TcpProxy } from "./helpers/tcp-proxy.ts";

const T = "xnas.AAPL.quote";
const CLI = fileURLToPath(new URL("../src/cli/index.ts", import.meta.url));

const lines = (text: string): string[] => text.split("\n").filter((l) => l !== "");
const exited = (cli: CliProcess): boolean => cli.child.exitCode !== null || cli.child.signalCode !== null;

/** Publishes with `publish` until the tail process exits (it subscribes on its own schedule). */
async function feedUntilExit(cli: CliProcess, publish: (i: number) => void): Promise<void> {
  let i = 0;
  await eventually(
    () => {
      if (!exited(cli)) publish(i++);
      return exited(cli);
    },
    `tail to exit; stderr: ${cli.stderr}`,
    15_000,
  );
}

describe("tickwire tail", () => {
  let stack: Stack;
  let holder: TestClient;
  before(async () => {
    stack = await startStack({ fanout: { slowSoftBytes: 16384, slowCloseMs: 120_000 } });
    // Holds interest in T so the gateway caches its last value for tail's snapshot.
    holder = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(holder, [T]);
    await stack.publishAndFlush(T, quote(100));
    await holder.until(() => holder.events.length === 1, 5000, "the first quote");
  });
  after(async () => {
    await holder.close();
    await stack.close();
  });

  it("jsonl: the snapshot then live events of every pattern, one JSON line each; exits 0 after --count", async () => {
    const cli = CliProcess.run(["tail", T, "binance.*.trade", "--url", stack.wsUrl, "--count", "6"]);
    await feedUntilExit(cli, (i) => {
      stack.publish(T, quote(101 + i));
      stack.publish("binance.BTC-USDT.trade", trade(96000 + i, 2));
    });
    assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.stderr);
    const events = lines(cli.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(events.length, 6);
    // The snapshot first, flagged: the latest quote the gateway cached (the feed loop may have moved it on).
    assert.deepEqual([events[0]?.["t"], events[0]?.["f"]], [T, 1], JSON.stringify(events[0]));
    assert.ok(events.some((e) => e["t"] === "binance.BTC-USDT.trade"));
    const qs = events.filter((e) => e["t"] === T).map((e) => e["q"] as number);
    assert.deepEqual(
      qs,
      qs.map((_, i) => (qs[0] as number) + i),
      "consecutive sequence numbers",
    );
    assert.match(cli.stdout, /"te":\d{16}[,}]/, "µs timestamps stay integers");
    // Nothing had been published on binance.* when tail subscribed: said once, nothing else on stderr.
    assert.deepEqual(lines(cli.stderr), [
      "tickwire tail: no known topic matches binance.*.trade (nothing in the gateway's cache or feed history): check the venue, symbol and type; waiting",
    ]);
  });

  it("csv with --latency: a header, one row per event with empty cells for absent keys, and lat_ms", async () => {
    const cli = CliProcess.run([
      "tail",
      T,
      "--url",
      stack.wsUrl,
      "--format",
      "csv",
      "--latency",
      "--count",
      "2",
    ]);
    await feedUntilExit(cli, (i) => stack.publish(T, quote(200 + i)));
    assert.equal((await cli.exit()).code, 0, cli.stderr);
    const [header, ...rows] = lines(cli.stdout);
    assert.equal(header, "recv_us,topic,type,q,te_us,ts_us,flags,n,p,z,bp,bz,ap,az,o,h,l,c,v,lat_ms");
    assert.equal(rows.length, 2);
    for (const row of rows) {
      const cells = row.split(",");
      assert.equal(cells.length, 20);
      assert.match(cells[0] ?? "", /^\d{16}$/, "recv_us: integer µs");
      assert.equal(cells[1], T);
      assert.equal(cells[2], "quote");
      assert.ok(Number.isFinite(Number(cells[19])) && cells[19] !== "", "lat_ms is a number");
    }
  });

  it("says which wildcard matched no known topic and which topic has no value yet, then keeps waiting", async () => {
    const cli = CliProcess.run(["tail", "xnsa.*.quote", "xnas.NOPE.quote", T, "--url", stack.wsUrl]);
    try {
      await eventually(
        () => cli.stderr.includes("no known topic matches") && cli.stderr.includes("no value yet"),
        `the notes on stderr: ${cli.stderr}`,
        15_000,
      );
      assert.match(cli.stderr, /no known topic matches xnsa\.\*\.quote \(nothing in the gateway's cache/);
      assert.match(cli.stderr, /no value yet for xnas\.NOPE\.quote/);
      assert.doesNotMatch(
        cli.stderr,
        /matches xnas/,
        "a concrete topic is reported by missing, not as a pattern",
      );
      assert.equal(exited(cli), false, "tail keeps waiting");
    } finally {
      cli.child.kill("SIGINT");
      await cli.exit();
    }
  });

  it("table mode needs a terminal: refused with status 2 on a pipe, the default on a terminal", async () => {
    const piped = CliProcess.run(["tail", T, "--url", stack.wsUrl, "--format", "table"]);
    assert.equal((await piped.exit()).code, 2);
    assert.match(piped.stderr, /--format=table needs a terminal/);

    // `script` (util-linux) runs tail on a pseudo-terminal.
    const command = [
      process.execPath,
      "--import",
      "tsx",
      CLI,
      "tail",
      T,
      "--url",
      stack.wsUrl,
      "--count",
      "1",
    ]
      .map((a) => `'${a}'`)
      .join(" ");
    const child = spawn("script", ["-qefc", command, "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] });
    const tty = new CliProcess(child);
    await feedUntilExit(tty, (i) => stack.publish(T, quote(300 + i)));
    assert.equal((await tty.exit()).code, 0, tty.stdout + tty.stderr);
    const [header, row] = lines(tty.stdout.replaceAll("\r", ""));
    assert.match(header ?? "", /^time \(UTC\)\s+topic\s+q fl\s+values$/);
    assert.match(row ?? "", /xnas\.AAPL\.quote\s+\d+ S\s+bid\s+\d+\.\d{4} × 100 {2}ask/);
  });

  it("a closed stdout (the reader went away) ends tail quietly with status 0", async () => {
    const cli = CliProcess.run(["tail", T, "--url", stack.wsUrl]);
    await eventually(() => cli.stdout.includes("\n"), "a first line", 15_000);
    cli.child.stdout?.destroy();
    await feedUntilExit(cli, (i) => stack.publish(T, quote(400 + i)));
    assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.outputTail);
    assert.equal(cli.stderr, "", "no EPIPE noise");
  });

  it("--max-hz is applied by the gateway: tail streams at that rate", async () => {
    const cli = CliProcess.run(["tail", T, "--url", stack.wsUrl, "--max-hz", "5", "--count", "1"]);
    await feedUntilExit(cli, (i) => stack.publish(T, quote(500 + i)));
    assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.stderr);
    assert.equal(lines(cli.stdout).length, 1);
  });

  it("usage errors exit 2; an unreachable gateway exits 1 naming the URL", async () => {
    const none = CliProcess.run(["tail"]);
    assert.equal((await none.exit()).code, 2);
    assert.match(none.stderr, /at least one topic pattern/);
    const bad = CliProcess.run(["tail", T, "--count", "0", "--format", "xml", "--max-lag-ms", "0"]);
    assert.equal((await bad.exit()).code, 2);
    assert.match(bad.stderr, /--format="xml"/);
    assert.match(bad.stderr, /--count="0"/);
    assert.match(bad.stderr, /--max-lag-ms="0"/);
    const away = CliProcess.run(["tail", T, "--url", "ws://127.0.0.1:1/v1/stream"]);
    assert.equal((await away.exit()).code, 1);
    assert.match(away.stderr, /cannot connect to ws:\/\/127\.0\.0\.1:1\/v1\/stream/);
  });

  it("a frozen tail is conflated by the gateway, which tail reports on stderr, and streaming goes on", async () => {
    const cli = CliProcess.run(["tail", T, "--url", stack.wsUrl, "--no-snapshot"]);
    await eventually(() => {
      stack.publish(T, quote(600));
      return cli.stdout.includes("\n");
    }, "a first line");
    cli.child.kill("SIGSTOP");
    try {
      await publishUntilSlowConsumer(stack, T, "the gateway to skip events for the frozen tail");
    } finally {
      cli.child.kill("SIGCONT");
    }
    await eventually(
      async () => {
        await stack.publishAndFlush(T, quote(700));
        return /conflated: \d+ event\(s\) so far stood for \d+ more update\(s\)/.test(cli.stderr);
      },
      "the gap report",
      30_000,
    );
    cli.child.kill("SIGINT");
    assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.outputTail);
  });

  it("says on stderr once when its lag goes over --max-lag-ms, and once when it is back under", async () => {
    const cli = CliProcess.run(["tail", T, "--url", stack.wsUrl, "--no-snapshot", "--max-lag-ms", "300"]);
    try {
      await eventually(() => {
        stack.publish(T, quote(800));
        return cli.stdout.includes("\n");
      }, "a first line");
      const mark = cli.stderr.length;
      // Frozen, tail answers no ping: the gateway's probe waits until it counts the connection lagging
      // (past its own max-lag-ms, 1000).
      cli.child.kill("SIGSTOP");
      try {
        await eventually(async () => {
          stack.publish(T, quote(801));
          return (await stack.metric("tickwire_lagging_connections")) >= 1;
        }, "the gateway to see the frozen tail lagging");
        // A heartbeat carries the last answered probe's round trip, or the unanswered one's age: one
        // more round while tail is frozen, so the first heartbeat it reads says how far behind it is.
        const rounds = stack.service.hub.stats.heartbeats;
        await eventually(
          () => stack.service.hub.stats.heartbeats > rounds,
          "a heartbeat round while it lags",
        );
      } finally {
        cli.child.kill("SIGCONT");
      }
      await eventually(() => {
        stack.publish(T, quote(802));
        return /lag back under 300 ms/.test(cli.stderr.slice(mark));
      }, "the lag reports");
      // Once over, once back under, alternating (a loaded machine may add a pair of its own).
      const reports = lines(cli.stderr).filter((l) => /\blag\b/.test(l));
      assert.ok(reports.length >= 2 && reports.length % 2 === 0, cli.stderr);
      reports.forEach((line, i) => {
        if (i % 2 === 0) {
          assert.match(line, /^tickwire tail: lag \d+ ms is over 300 ms/);
          assert.ok(Number(/lag (\d+) ms/.exec(line)?.[1]) > 300, line);
        } else assert.match(line, /^tickwire tail: lag back under 300 ms \(\d+ ms\)$/);
      });
      cli.child.kill("SIGINT");
      assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.outputTail);
    } finally {
      if (!exited(cli)) cli.child.kill("SIGKILL");
    }
  });
});

describe("tickwire tail across a gateway restart", () => {
  let nats: NatsServerProcess;
  before(async () => {
    nats = await NatsServerProcess.start();
  });
  after(async () => {
    await nats.dispose();
  });

  it("reports the disconnect and the reconnect on stderr and keeps streaming", async () => {
    const publisher = await FeedPublisher.connect(nats.url, "test-feed");
    const gateway = await GatewayChild.start(nats.url, ["--retry-after-ms", "200"]);
    const proxy = await TcpProxy.start(gateway.port);
    const cli = CliProcess.run(["tail", T, "--url", proxy.wsUrl]);
    const publish = (bp: number): void => publisher.publish(`md.${T}`, encodeFeedPayload(quote(bp)));
    try {
      await eventually(() => {
        publish(1);
        return cli.stdout.includes('"bp":1');
      }, "a quote before the restart");
      await gateway.stop();
      await eventually(
        () => /disconnected \(1001 .*server shutting down.*\); reconnecting in \d+ ms/.test(cli.stderr),
        "the disconnect report",
      );
      await gateway.restart();
      proxy.targetPort = gateway.port;
      await eventually(() => cli.stderr.includes("reconnected to"), "the reconnect report", 15_000);
      await eventually(() => {
        publish(2);
        return cli.stdout.includes('"bp":2');
      }, "a quote after the restart");
      cli.child.kill("SIGTERM");
      assert.equal((await cli.exit()).code, 0);
    } finally {
      cli.child.kill("SIGKILL");
      await gateway.stop();
      await proxy.close();
      await publisher.close();
    }
  });
});

describe("tickwire tail and the feed state (issue 10 §2)", () => {
  it("reports on stderr when the gateway's feed goes down and comes back, and the RESYNC event after it", async () => {
    const stack = await startStack({ nats: { reconnectWaitMs: 100 } });
    const cli = CliProcess.run(["tail", T, "--url", stack.wsUrl]);
    try {
      await eventually(async () => {
        await stack.publishAndFlush(T, quote(1));
        return cli.stdout.includes('"bp":1');
      }, "tail to print a quote");
      await stack.nats.stop();
      await eventually(() => cli.stderr.includes("feed down"), `feed down on stderr: ${cli.stderr}`, 10000);
      await stack.nats.restart();
      await eventually(() => cli.stderr.includes("feed up"), `feed up on stderr: ${cli.stderr}`, 15000);
      await eventually(
        () => {
          stack.publish(T, quote(2));
          return cli.stderr.includes("updates may have been lost before q");
        },
        `the RESYNC note: ${cli.stderr}`,
        15000,
      );
      assert.match(cli.stdout, /"f":8/, "the RESYNC event itself is printed with its flag");
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exit();
      await stack.close();
    }
  });
});
