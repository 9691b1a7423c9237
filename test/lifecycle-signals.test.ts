import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { freePort } from "./helpers/free-port.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually } from "./helpers/stack.ts";

/** Command lines of live processes that mention `needle` (a per-test temp dir), read from /proc. */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(needle)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

describe("shutdown when NATS is unreachable (tickwire serve as a child process)", () => {
  it("a gateway whose NATS never answered logs it, without credentials, and SIGTERM exits 0", async (t) => {
    const port = await freePort(); // nothing listens there
    const cli = CliProcess.run([
      ...["serve", "--port", "0", "--nats", `nats://feeduser:hunter2@127.0.0.1:${port}`],
      ...["--nats-reconnect-wait-ms", "200", "--shutdown-grace-ms", "1000", "--history-stream", "off"],
    ]);
    t.after(() => void cli.child.kill("SIGKILL"));
    await cli.port();
    await eventually(
      () => cli.logs.some((l) => l["msg"] === "nats not reachable; retrying"),
      "the 'nats not reachable' line",
      10000,
    );
    const line = cli.logs.find((l) => l["msg"] === "nats not reachable; retrying")!;
    assert.deepEqual(line["servers"], [`nats://127.0.0.1:${port}`]);
    assert.equal(line["retryInMs"], 200);
    assert.equal(line["attempt"], 1);
    assert.doesNotMatch(cli.stdout + cli.stderr, /hunter2/, "the password is never logged");
    cli.child.kill("SIGTERM");
    assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.outputTail);
    assert.ok(cli.logs.some((l) => l["msg"] === "stopped"));
    // Bounded rate: attempts every 200 ms, at most one line per 10 s (the first one at once).
    const attempts = cli.logs.filter((l) => l["msg"] === "nats not reachable; retrying");
    assert.ok(attempts.length <= 2, `${attempts.length} 'not reachable' lines`);
  });

  it("a gateway whose NATS went away while running exits 0 on SIGTERM within the grace", async (t) => {
    const nats = await NatsServerProcess.start();
    try {
      const cli = CliProcess.run([
        ...["serve", "--port", "0", "--nats", nats.url, "--nats-reconnect-wait-ms", "200"],
        ...["--shutdown-grace-ms", "1000", "--history-stream", "off"],
      ]);
      t.after(() => void cli.child.kill("SIGKILL"));
      await cli.port();
      await eventually(() => cli.logs.some((l) => l["msg"] === "nats connected"), "nats connected", 10000);
      await nats.stop();
      await eventually(
        () => cli.logs.some((l) => l["msg"] === "nats disconnected; reconnecting"),
        "the disconnect to be seen",
        10000,
      );
      cli.child.kill("SIGTERM");
      assert.deepEqual(await cli.exit(), { code: 0, signal: null }, cli.outputTail);
      assert.ok(cli.logs.some((l) => l["msg"] === "stopped"));
    } finally {
      await nats.dispose();
    }
  });
});

describe("a signal during embedded start-up leaves no nats-server and no temp dir", () => {
  // The moments: before any log line, after each start-up step's log line.
  const moments: readonly (string | undefined)[] = [
    undefined,
    "starting",
    "embedded mode: started a local nats-server",
    "gateway listening",
    "embedded mode: feed history stream ready",
  ];
  // With --workers 2 (npm start's default on a multi-core machine): the supervisor owns the nats-server.
  const cases = [
    ...moments.map((moment) => ({ moment, workers: "1" })),
    ...["embedded mode: started a local nats-server", "gateway listening"].map((moment) => ({
      moment,
      workers: "2",
    })),
  ];
  for (const { moment, workers } of cases) {
    it(`SIGINT ${moment === undefined ? "at once" : `after "${moment}"`}${workers === "1" ? "" : `, --workers ${workers}`}`, async (t) => {
      const tmp = mkdtempSync(join(tmpdir(), "tickwire-signal-test-"));
      try {
        const cli = CliProcess.run(["serve", "--port", "0", "--demo-rate", "100"], {
          NATS_URL: "",
          TMPDIR: tmp,
          TICKWIRE_WORKERS: workers,
        });
        t.after(() => void cli.child.kill("SIGKILL"));
        if (moment !== undefined) {
          await eventually(
            () => cli.logs.some((l) => l["msg"] === moment) || cli.child.exitCode !== null,
            `"${moment}"`,
            15000,
          );
        }
        cli.child.kill("SIGINT");
        const exit = await cli.exit();
        // Before its handlers are installed node dies of the signal; afterwards tickwire exits 0.
        assert.ok(
          exit.code === 0 || (moment === undefined && exit.signal === "SIGINT"),
          `exit ${JSON.stringify(exit)}\n${cli.stdout}\n${cli.stderr}`,
        );
        await eventually(() => processesMentioning(tmp).length === 0, "no process using the temp dir");
        const left = readdirSync(tmp).filter((name) => name.startsWith("tickwire-"));
        assert.deepEqual(left, [], "the nats-server temp dirs are removed");
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});
