import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { freePort } from "./helpers/free-port.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { ROOT, suiteFiles } from "../scripts/test-suites.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, natsSubscriptionsOfGateway, quote, startStack, trade } from "./helpers/stack.ts";

// Debian's python3-websockets and python3-msgpack install for /usr/bin/python3 (PERF-NOTES.md).
const PYTHON = "/usr/bin/python3";
// The installable package (clients/python) and the scripts that use it (examples/python, which import the
// installed module or, run from a clone, the package's folder: run here without PYTHONPATH, they take the latter).
const CLIENT = fileURLToPath(new URL("../clients/python/", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../examples/python/", import.meta.url));
const SCRIPT = join(EXAMPLES, "subscribe.py");
const CSV_SCRIPT = join(EXAMPLES, "ticks_to_csv.py");
const COLUMNS = "recv_us,topic,type,q,te_us,ts_us,flags,n,p,z,bp,bz,ap,az,o,h,l,c,v";

/** Options of a Python process: the interpreter, its working directory, whether the module's folder is on its path. */
interface PythonOptions {
  readonly interpreter?: string;
  readonly cwd?: string;
  readonly modulePath?: boolean;
}

/** A Python process (stdout and stderr collected; `exit()` is bounded and kills on timeout). */
function python(args: string[], options: PythonOptions = {}): CliProcess {
  const env = { ...process.env };
  delete env["PYTHONPATH"];
  return new CliProcess(
    spawn(options.interpreter ?? PYTHON, args, {
      cwd: options.cwd ?? EXAMPLES,
      env: {
        ...env,
        ...(options.modulePath === true ? { PYTHONPATH: CLIENT } : {}),
        PYTHONDONTWRITEBYTECODE: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

type Row = Record<string, string>;

/** CSV text (as ticks_to_csv.py writes it: no quoting needed for these values) as rows keyed by column. */
function rows(text: string): Row[] {
  const [header, ...lines] = text.split("\n").filter((line) => line !== "");
  assert.equal(header, COLUMNS);
  const names = COLUMNS.split(",");
  return lines.map((line) => {
    const cells = line.split(",");
    assert.equal(cells.length, names.length, `row has every column: ${line}`);
    return Object.fromEntries(names.map((name, i) => [name, cells[i] ?? ""]));
  });
}

/** Whether the complete rows written so far include one matching `match`. */
function hasRow(text: string, match: (row: Row) => boolean): boolean {
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  return complete.startsWith(COLUMNS) && rows(complete).some(match);
}

const gatewayHolds = async (nats: NatsServerProcess, subject: string): Promise<boolean> =>
  (await natsSubscriptionsOfGateway(nats)).includes(subject);

describe("Python client (clients/python, standard msgpack library)", () => {
  it("subscribes and decodes frames with the standard msgpack library: frames are plain msgpack", async () => {
    const stack = await startStack();
    try {
      const child = spawn(
        PYTHON,
        [SCRIPT, "--url", stack.wsUrl, "--count", "6", "xnas.AAPL.quote", "binance.*.trade"],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      await eventually(async () => {
        const subs = await natsSubscriptionsOfGateway(stack.nats);
        return subs.includes("md.xnas.AAPL.quote") && subs.includes("md.binance.*.trade");
      }, `the Python client's subscription (stderr: ${stderr})`);
      const te = Date.now() * 1000;
      for (let i = 0; i < 3; i++) {
        stack.publish("xnas.AAPL.quote", { ...quote(228 + i), te: te + i });
        stack.publish("binance.BTC-USDT.trade", { ...trade(96000.5 + i, 2), te: te + i });
      }
      assert.equal(await exited, 0, stderr);
      const events = stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(events.length, 6);
      const quotes = events.filter((e) => e["e"] === "quote");
      assert.deepEqual(
        quotes.map((e) => [e["t"], e["q"], e["bp"], e["te"]]),
        [0, 1, 2].map((i) => ["xnas.AAPL.quote", i + 1, 228 + i, te + i]),
      );
      // Python printed te as an integer: the µs timestamps travel as msgpack uint64, not floats.
      assert.match(stdout, new RegExp(`"te": ${te}[,}]`));
      assert.equal(events.filter((e) => e["e"] === "trade" && e["p"] === 96000.5).length, 1);
      assert.equal(stderr.includes("gap"), false);
    } finally {
      await stack.close();
    }
  });

  it("the module's Python unit tests pass (sequence tracker, backoff, fixtures, scripted peers)", async () => {
    // Every test_*.py of the Python suite (scripts/test-suites.ts), by module name from the package folder.
    const modules = suiteFiles("python").map((file) =>
      relative(CLIENT, join(ROOT, file)).replace(/\.py$/, "").split("/").join("."),
    );
    assert.ok(modules.length > 0, "the Python suite has test files");
    const unit = python(["-m", "unittest", ...modules], { cwd: CLIENT, modulePath: true });
    const { code } = await unit.exit(60000);
    assert.equal(code, 0, unit.stderr);
    assert.match(unit.stderr, /\nOK\n/);
  });

  it("pip installs ./clients/python offline with Debian's packages, and the module imports from anywhere", async () => {
    // As clients/python/README.md says: a venv over the system packages, no index, no build isolation. The
    // package is copied first because setuptools builds in the source folder (build/, *.egg-info).
    const dir = mkdtempSync(join(tmpdir(), "tickwire-pip-"));
    try {
      const source = join(dir, "src");
      cpSync(CLIENT, source, {
        recursive: true,
        filter: (path) => !/(__pycache__|build|egg-info)$/.test(path),
      });
      const venv = join(dir, "venv");
      const make = python(["-m", "venv", "--system-site-packages", "--without-pip", venv], { cwd: dir });
      assert.deepEqual(await make.exit(60000), { code: 0, signal: null }, make.stderr);
      const interpreter = join(venv, "bin", "python");
      const pip = python(
        ["-m", "pip", "install", "--no-index", "--no-build-isolation", "--disable-pip-version-check", source],
        { interpreter, cwd: dir },
      );
      assert.deepEqual(await pip.exit(120000), { code: 0, signal: null }, pip.stderr);
      assert.match(pip.stdout, /Successfully installed tickwire-client-0\.1\.0/);
      const check = python(["-c", "import tickwire_client, sys; print(tickwire_client.__file__)"], {
        interpreter,
        cwd: tmpdir(),
      });
      assert.deepEqual(await check.exit(), { code: 0, signal: null }, check.stderr);
      assert.ok(check.stdout.startsWith(join(venv, "lib")), `imported from the venv: ${check.stdout}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("ticks_to_csv writes a snapshot row then live rows with the documented columns, and exits after --count", async () => {
    const stack = await startStack();
    const dir = mkdtempSync(join(tmpdir(), "tickwire-csv-"));
    const out = join(dir, "ticks.csv");
    const other = await TestClient.connect(stack.wsUrl);
    try {
      // Another client's interest lets the gateway cache a value: the Python client's snapshot row.
      await stack.subscribe(other, ["xnas.AAPL.quote"]);
      const te = Date.now() * 1000;
      stack.publish("xnas.AAPL.quote", { ...quote(227.5), te });
      await other.waitFor((m) => m["bp"] === 227.5);
      const csv = python(
        [CSV_SCRIPT, "--url", stack.wsUrl, "--out", out, "--count", "5"].concat([
          "xnas.AAPL.quote",
          "binance.*.trade",
        ]),
      );
      await eventually(
        () => gatewayHolds(stack.nats, "md.binance.*.trade"),
        "the Python client's subscription",
      );
      for (let i = 1; i <= 2; i++) {
        stack.publish("xnas.AAPL.quote", { ...quote(227.5 + i), te: te + i });
        stack.publish("binance.BTC-USDT.trade", { ...trade(96000.25, 0.5), te: te + i });
      }
      assert.deepEqual(await csv.exit(), { code: 0, signal: null }, csv.stderr);
      const written = rows(readFileSync(out, "utf8"));
      const quotes = written.filter((r) => r["topic"] === "xnas.AAPL.quote");
      assert.deepEqual(
        quotes.map((r) => [
          r["type"],
          r["q"],
          r["flags"],
          r["te_us"],
          r["bp"],
          r["bz"],
          r["ap"],
          r["p"],
          r["n"],
        ]),
        [
          ["quote", "1", "1", String(te), "227.5", "100", "227.51", "", ""],
          ["quote", "2", "0", String(te + 1), "228.5", "100", "228.51", "", ""],
          ["quote", "3", "0", String(te + 2), "229.5", "100", "229.51", "", ""],
        ],
      );
      const trades = written.filter((r) => r["topic"] === "binance.BTC-USDT.trade");
      assert.deepEqual(
        trades.map((r) => [r["type"], r["q"], r["flags"], r["p"], r["z"], r["bp"]]),
        [
          ["trade", "1", "0", "96000.25", "0.5", ""],
          ["trade", "2", "0", "96000.25", "0.5", ""],
        ],
      );
      for (const r of written) {
        assert.match(r["recv_us"] ?? "", /^\d{16}$/, "receive time in integer µs");
        assert.match(r["ts_us"] ?? "", /^\d{16}$/, "gateway time in integer µs");
      }
      assert.equal(csv.stderr, "");
    } finally {
      await other.close();
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("after the gateway restarts on the same port, the client reconnects, resubscribes with snapshot and writes on without a gap", async () => {
    const nats = await NatsServerProcess.start({ monitorPort: 0 });
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/v1/stream`;
    const serve = (): CliProcess =>
      CliProcess.run(["serve", "--port", String(port), "--nats", nats.url, "--retry-after-ms", "300"]);
    const publisher = await FeedPublisher.connect(nats.url, "test-feed");
    const publish = (bp: number): void =>
      publisher.publish("md.xnas.AAPL.quote", encodeFeedPayload(quote(bp)));
    let gateway = serve();
    let csv: CliProcess | undefined;
    let other: TestClient | undefined;
    try {
      await gateway.port();
      csv = python([CSV_SCRIPT, "--url", url, "xnas.AAPL.quote"]);
      const py = csv;
      await eventually(() => gatewayHolds(nats, "md.xnas.AAPL.quote"), "the Python client's subscription");
      publish(100);
      publish(101);
      await eventually(() => hasRow(py.stdout, (r) => r["bp"] === "101"), "two rows from the first gateway");

      gateway.child.kill("SIGTERM");
      await eventually(() => py.stderr.includes("close 1001"), `the client sees the shutdown (${py.stderr})`);
      // Freeze the client while the new gateway starts and caches a value, so that its reconnect
      // deterministically finds a value to snapshot.
      py.child.kill("SIGSTOP");
      assert.deepEqual(await gateway.exit(), { code: 0, signal: null });
      gateway = serve();
      assert.equal(await gateway.port(), port);
      other = await TestClient.connect(url);
      await other.subscribe(["xnas.AAPL.quote"]);
      await eventually(() => gatewayHolds(nats, "md.xnas.AAPL.quote"), "the new gateway's interest");
      publish(200);
      await other.waitFor((m) => m["bp"] === 200);
      py.child.kill("SIGCONT");
      await eventually(
        () => hasRow(py.stdout, (r) => r["bp"] === "200"),
        `the snapshot row from the new gateway (${py.stderr})`,
      );
      publish(201);
      await eventually(() => hasRow(py.stdout, (r) => r["bp"] === "201"), "a live row from the new gateway");

      py.child.kill("SIGTERM");
      assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
      assert.deepEqual(
        rows(py.stdout).map((r) => [r["q"], r["flags"], r["bp"]]),
        [
          ["1", "0", "100"],
          ["2", "0", "101"],
          ["1", "1", "200"], // the restarted gateway numbers afresh; its cached value comes as a snapshot
          ["2", "0", "201"],
        ],
      );
      assert.match(
        py.stderr,
        /disconnected \(close 1001: .*server shutting down.*; server asks to wait 0\.3 s\)/,
      );
      assert.match(py.stderr, /reconnected \(reconnect 1\); resubscribed xnas\.AAPL\.quote/);
      assert.doesNotMatch(py.stderr, /gap/);
    } finally {
      if (csv !== undefined && csv.child.exitCode === null) {
        csv.child.kill("SIGCONT");
        csv.child.kill("SIGKILL");
        await csv.exited;
      }
      await other?.close();
      if (gateway.child.exitCode === null) gateway.child.kill("SIGTERM");
      await gateway.exit();
      await publisher.close();
      await nats.dispose();
    }
  });

  it("a frozen reader is conflated, not cut off: CONFLATED rows with n, no gap, and the view converges to the last value", async () => {
    // A small soft watermark so the gateway conflates for the frozen reader soon (PROTOCOL.md, Slow
    // consumers), and a close limit well past the test's length.
    const stack = await startStack({ fanout: { slowSoftBytes: 65536, slowCloseMs: 120_000 } });
    const dir = mkdtempSync(join(tmpdir(), "tickwire-csv-"));
    const out = join(dir, "ticks.csv");
    const csv = python([CSV_SCRIPT, "--url", stack.wsUrl, "--out", out, "xnas.AAPL.quote"]);
    const lastRows = (): Row[] => {
      const text = readFileSync(out, "utf8");
      const tail = text.slice(text.lastIndexOf("\n", text.length - 4096) + 1, text.lastIndexOf("\n") + 1);
      return rows(`${COLUMNS}\n${tail.startsWith(COLUMNS) ? tail.slice(COLUMNS.length + 1) : tail}`);
    };
    try {
      await eventually(
        () => gatewayHolds(stack.nats, "md.xnas.AAPL.quote"),
        "the Python client's subscription",
      );
      stack.publish("xnas.AAPL.quote", quote(1));
      await eventually(() => lastRows().length > 0, "the first row");
      csv.child.kill("SIGSTOP");
      // More than the kernel's socket buffers hold (~4 MiB here), so the gateway's own buffer fills.
      for (let i = 0; i < 100_000; i++) stack.publish("xnas.AAPL.quote", quote(2 + (i % 1000)));
      await stack.publisher.flush();
      // Only once the gateway has handled them all (and so skipped what did not fit) may the reader go on.
      await eventually(
        async () => (await stack.metric("tickwire_feed_events_accepted_total")) >= 100_001,
        "the gateway to handle the burst",
        30000,
      );
      csv.child.kill("SIGCONT");
      // Publish the final value until the client has it: a re-snapshot may be in flight when one arrives.
      await eventually(
        () => {
          stack.publish("xnas.AAPL.quote", quote(-1));
          return lastRows().at(-1)?.["bp"] === "-1";
        },
        `the final value (stderr: ${csv.stderr})`,
        30000,
      );
      csv.child.kill("SIGTERM");
      assert.deepEqual(await csv.exit(), { code: 0, signal: null }, csv.stderr);
      const written = rows(readFileSync(out, "utf8"));
      const qs = written.map((r) => Number(r["q"]));
      const jumps = qs.filter((q, i) => i > 0 && q !== (qs[i - 1] ?? 0) + 1);
      const gapReported = /gap on xnas\.AAPL\.quote: q \d+ -> \d+, \d+ missed; re-snapshotting/.test(
        csv.stderr,
      );
      const conflatedRows = written.filter((r) => (Number(r["flags"]) & 2) !== 0 && Number(r["n"]) >= 2);
      assert.ok(
        conflatedRows.length > 0 && !gapReported,
        `merged events flagged, none lost unsaid; ${written.length} rows, q jumps to ${jumps.slice(0, 5).join(", ")}; stderr: ${csv.stderr}`,
      );
      assert.ok(
        qs.every((q, i) => i === 0 || q > (qs[i - 1] ?? 0)),
        "no row is written twice (snapshot repeats are dropped)",
      );
      assert.equal(written.at(-1)?.["bp"], "-1");
    } finally {
      if (csv.child.exitCode === null) {
        csv.child.kill("SIGCONT");
        csv.child.kill("SIGKILL");
        await csv.exited;
      }
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a refused subscription is a typed error carrying the protocol code (bad topic 4002, limit 4006)", async () => {
    const stack = await startStack({ fanout: { maxTopicsPerConnection: 2 } });
    try {
      const badTopic = python([CSV_SCRIPT, "--url", stack.wsUrl, "xnas.AAPL.quote", "xnas.AAPL"]);
      assert.deepEqual(await badTopic.exit(), { code: 2, signal: null });
      assert.match(
        badTopic.stderr,
        /refused with 4002 BAD_TOPIC: topic 'xnas\.AAPL': topic "xnas\.AAPL" needs 3 tokens/,
      );
      assert.doesNotMatch(badTopic.stderr, /Traceback/);

      // The module's API: TickwireClient(url, topics, **options); prints how the subscribe ended.
      const program = `
import asyncio, json, sys
from tickwire_client import Subscribed, TickwireClient, TickwireError
async def main(url, options, topics):
    try:
        async with TickwireClient(url, topics, **options) as client:
            async for event in client:
                if isinstance(event, Subscribed):
                    print(json.dumps({"subscribed": list(event.patterns)}))
                    return
    except TickwireError as error:
        print(json.dumps({"type": type(error).__name__, "code": error.code, "name": error.name,
                          "method": error.method, "msg": error.msg}))
asyncio.run(main(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]))
`;
      const limit = python(
        ["-c", program, stack.wsUrl, "{}", "xnas.A.quote", "xnas.B.quote", "xnas.C.quote"],
        { modulePath: true },
      );
      assert.deepEqual(await limit.exit(), { code: 0, signal: null }, limit.stderr);
      assert.deepEqual(JSON.parse(limit.stdout), {
        type: "TickwireError",
        code: 4006,
        name: "LIMIT",
        method: "subscribe",
        msg: "subscription limit 2 per connection would be exceeded (have 0, asked for 3 new)",
      });

      // maxHz (protocol v1.2) is accepted.
      const maxHz = python(["-c", program, stack.wsUrl, '{"max_hz": 5}', "xnas.A.quote"], {
        modulePath: true,
      });
      assert.deepEqual(await maxHz.exit(), { code: 0, signal: null }, maxHz.stderr);
      const outcome = JSON.parse(maxHz.stdout) as { code?: number; msg?: string; subscribed?: string[] };
      assert.deepEqual(outcome.subscribed, ["xnas.A.quote"], maxHz.stdout);
    } finally {
      await stack.close();
    }
  });

  it("the liveness watchdog reconnects a connection that went silent (a real peer that upgrades, then says nothing)", async () => {
    let upgrades = 0;
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      let head = "";
      socket.on("data", (chunk) => {
        if (head.endsWith("\r\n\r\n")) return; // after the upgrade: read everything, answer nothing
        head += chunk.toString("latin1");
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
        if (!head.endsWith("\r\n\r\n") || key === undefined) return;
        const accept = createHash("sha1")
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: tickwire.v1.msgpack\r\n\r\n`,
        );
        upgrades++;
      });
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const csv = python([
      CSV_SCRIPT,
      "--url",
      `ws://127.0.0.1:${port}/v1/stream`,
      "--liveness-timeout",
      "1",
      "xnas.AAPL.quote",
    ]);
    try {
      await eventually(() => upgrades >= 2, `a second connection (stderr: ${csv.stderr})`, 15000);
      assert.match(csv.stderr, /disconnected \(no frame for 1 s \(liveness timeout\)\); reconnecting in/);
      csv.child.kill("SIGTERM");
      assert.deepEqual(await csv.exit(), { code: 0, signal: null }, csv.stderr);
      assert.equal(csv.stdout, `${COLUMNS}\n`);
    } finally {
      if (csv.child.exitCode === null) csv.child.kill("SIGKILL");
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("the README's Python snippet runs as written and prints typed events", async () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const snippet = /```python\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    assert.ok(snippet.includes('"ws://127.0.0.1:9000/v1/stream"'), "README has a Python snippet");
    const stack = await startStack();
    const program = python(["-c", snippet.replace("ws://127.0.0.1:9000/v1/stream", stack.wsUrl)], {
      modulePath: true,
    });
    try {
      await eventually(
        () => gatewayHolds(stack.nats, "md.xnas.*.quote"),
        `the snippet's subscription (${program.stderr})`,
      );
      stack.publish("xnas.AAPL.quote", quote(228.25));
      await eventually(() => program.stdout.includes("\n"), "a printed event");
      assert.match(
        program.stdout,
        /^xnas\.AAPL\.quote 1 \{'bp': 228\.25, 'bz': 100, 'ap': 228\.26, 'az': 200\} lag µs: -?\d+\n/,
      );
    } finally {
      program.child.kill("SIGTERM");
      await program.exit();
      await stack.close();
    }
  });

  it("reports the gateway's lag probes: lag_ms, on_lag and Heartbeat.lag grow while the consumer is slow (v1.5)", async () => {
    const stack = await startStack({ fanout: { heartbeatMs: 200, probeIntervalMs: 50 } });
    // A consumer that blocks its event loop 300 ms per event: the WebSocket library reads (and answers
    // pings) only between those, and at most max_queue (4) frames ahead. One JSON line per heartbeat.
    const program = `
import asyncio, json, sys, time
from tickwire_client import Heartbeat, TickwireClient
async def main(url):
    seen = []
    async with TickwireClient(url, ["xnas.*.quote"], on_lag=seen.append) as client:
        async for event in client:
            if isinstance(event, Heartbeat):
                print(json.dumps({"lag": event.lag, "lag_ms": client.lag_ms, "on_lag": seen[-3:]}), flush=True)
                if event.lag is not None and event.lag >= 100:
                    return
            time.sleep(0.3)
asyncio.run(main(sys.argv[1]))
`;
    const py = python(["-c", program, stack.wsUrl], { modulePath: true });
    try {
      await eventually(
        () => gatewayHolds(stack.nats, "md.xnas.*.quote"),
        `the Python client's subscription (${py.stderr})`,
      );
      // 10 quotes a second, three times what the consumer takes: its lag grows, and heartbeats (which it
      // reads in order behind the quotes) do not sink behind an ever longer backlog of its own.
      let bp = 1;
      const feed = setInterval(() => stack.publish("xnas.AAPL.quote", quote(bp++)), 100);
      try {
        await eventually(
          () => py.child.exitCode !== null,
          `a heartbeat with lag ≥ 100 ms (${py.stdout}${py.stderr})`,
          30_000,
        );
      } finally {
        clearInterval(feed);
      }
      assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
      const lines = py.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { lag: number | null; lag_ms: number | null; on_lag: number[] });
      assert.ok(lines.length > 0);
      for (const { lag, lag_ms, on_lag } of lines) {
        assert.ok(Number.isInteger(lag) && lag !== null && lag >= 0, `a heartbeat carries lag: ${lag}`);
        assert.ok(Number.isInteger(lag_ms), "lag_ms is set");
        assert.ok(on_lag.length > 0 && on_lag.every((ms) => Number.isInteger(ms)), "on_lag was called");
      }
      assert.ok((lines.at(-1)?.lag ?? 0) >= 100);
    } finally {
      if (py.child.exitCode === null) py.child.kill("SIGKILL");
      await py.exit();
      await stack.close();
    }
  });

  it("ticks_to_csv stops quietly with status 0 when its stdout is closed (| head)", async () => {
    const stack = await startStack();
    const csv = python([CSV_SCRIPT, "--url", stack.wsUrl, "xnas.AAPL.quote"]);
    try {
      await eventually(() => csv.stdout.startsWith(COLUMNS), "the header");
      await eventually(
        () => gatewayHolds(stack.nats, "md.xnas.AAPL.quote"),
        "the Python client's subscription",
      );
      csv.child.stdout?.destroy();
      await eventually(
        () => {
          stack.publish("xnas.AAPL.quote", quote(228));
          return csv.child.exitCode !== null;
        },
        "the client to notice the closed stdout",
        10000,
      );
      assert.deepEqual(await csv.exit(), { code: 0, signal: null });
      assert.doesNotMatch(
        csv.stderr,
        /Traceback|BrokenPipe|Exception/,
        "no traceback, no broken-pipe report",
      );
    } finally {
      if (csv.child.exitCode === null) csv.child.kill("SIGKILL");
      await stack.close();
    }
  });
});
