import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CliProcess } from "./helpers/process.ts";
import { freePort } from "./helpers/free-port.ts";
import { eventually } from "./helpers/stack.ts";

describe("logs a person reads (tickwire serve as a child process)", () => {
  it("--log-format text writes one readable line per event with level names and the config by group", async (t) => {
    const port = await freePort(); // no NATS there: the warning line is part of what is read
    const cli = CliProcess.run([
      ...["serve", "--port", "0", "--log-format", "text", "--history-stream", "off"],
      ...["--nats", `nats://127.0.0.1:${port}`, "--nats-reconnect-wait-ms", "200"],
    ]);
    t.after(() => void cli.child.kill("SIGKILL"));
    await eventually(() => cli.stdout.includes("nats not reachable"), "the warning", 15000);
    cli.child.kill("SIGTERM");
    assert.equal((await cli.exit()).code, 0);
    const lines = cli.stdout.split("\n").filter((line) => line !== "");
    assert.deepEqual(
      lines.filter((line) => line.startsWith("{")),
      [],
      "no JSON lines",
    );
    const line = (pattern: RegExp): string | undefined => lines.find((l) => pattern.test(l));
    const time = String.raw`\[\d\d:\d\d:\d\d\.\d{3}\]`;
    assert.ok(line(new RegExp(`^${time} INFO: starting `)), cli.stdout);
    assert.ok(line(new RegExp(`^${time} INFO: config gateway: host=127\\.0\\.0\\.1 port=0 `)), cli.stdout);
    assert.ok(
      line(new RegExp(`^${time} INFO: config nats: servers=external nats://127\\.0\\.0\\.1:${port} `)),
    );
    assert.ok(line(new RegExp(`^${time} INFO: gateway listening .*"port":\\d+`)), cli.stdout);
    assert.ok(line(new RegExp(`^${time} WARN: nats not reachable; retrying .*"retryInMs":200`)), cli.stdout);
    assert.ok(line(new RegExp(`^${time} INFO: stopped`)), cli.stdout);
  });

  it("off a terminal the default is one JSON object per line with the whole config first", async () => {
    const cli = CliProcess.run([
      "serve",
      "--port",
      "0",
      "--nats",
      "nats://127.0.0.1:1",
      "--history-stream",
      "off",
    ]);
    await cli.port();
    cli.child.kill("SIGTERM");
    assert.equal((await cli.exit()).code, 0);
    const first = cli.logs[0]!;
    assert.equal(first["msg"], "starting");
    assert.equal(first["level"], 30);
    assert.equal(typeof first["config"], "object");
    assert.equal(
      cli.logs.length,
      cli.stdout.split("\n").filter((l) => l !== "").length,
      "every line is JSON",
    );
  });
});
