import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { TestClient, type Message } from "./helpers/client.ts";
import { CliProcess } from "./helpers/process.ts";

/** Debian's libfaketime (`apt-get install faketime`; scripts/setup.sh --test installs it). */
const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/** How far a gateway `ts` is behind this process's wall clock, in seconds. */
const behindSeconds = (m: Message): number => (Date.now() * 1000 - (m["ts"] as number)) / 1e6;

describe("gateway time follows wall-clock corrections (issue 10 §5)", () => {
  it("a gateway started with its clock 30 s slow stamps ts 30 s behind, and the real time once the clock is corrected", async () => {
    assert.ok(
      existsSync(LIBFAKETIME),
      `${LIBFAKETIME} is missing: run scripts/setup.sh --test (apt-get install faketime)`,
    );
    const dir = mkdtempSync(join(tmpdir(), "tickwire-faketime-"));
    const offsetFile = join(dir, "offset");
    writeFileSync(offsetFile, "-30s\n");
    const nats = await NatsServerProcess.start();
    // Only the wall clock is faked (DONT_FAKE_MONOTONIC): the monotonic clock runs on, as it does when
    // NTP steps a host clock. FAKETIME_NO_CACHE re-reads the offset file on every clock read.
    const gateway = CliProcess.run(
      ["serve", "--nats", nats.url, "--port", "0", "--heartbeat-ms", "100", "--history-stream", "off"],
      {
        LD_PRELOAD: LIBFAKETIME,
        FAKETIME_TIMESTAMP_FILE: offsetFile,
        FAKETIME_NO_CACHE: "1",
        DONT_FAKE_MONOTONIC: "1",
      },
    );
    let client: TestClient | undefined;
    try {
      client = await TestClient.connect(`ws://127.0.0.1:${await gateway.port()}/v1/stream`);
      const c = client;
      const slow = await c.waitFor((m) => m["e"] === "heartbeat");
      const before = behindSeconds(slow);
      assert.ok(before > 25 && before < 35, `ts is ${before} s behind while the clock is 30 s slow`);
      const ping = await c.request("ping");
      const pingBehind = (Date.now() * 1000 - ((ping["result"] as Message)["ts"] as number)) / 1e6;
      assert.ok(pingBehind > 25, `ping ts is ${pingBehind} s behind while the clock is 30 s slow`);

      writeFileSync(offsetFile, "+0\n");
      const seen = c.messages.length;
      // Heartbeats every 100 ms: the first one stamped after the correction is within a second of now.
      await c.until(
        () => c.messages.slice(seen).some((m) => m["e"] === "heartbeat" && Math.abs(behindSeconds(m)) < 1),
        10000,
        "a heartbeat stamped with the corrected clock",
      );
      const ping2 = await c.request("ping");
      const after = (Date.now() * 1000 - ((ping2["result"] as Message)["ts"] as number)) / 1e6;
      assert.ok(Math.abs(after) < 1, `ping ts is ${after} s off after the correction`);
    } finally {
      await client?.close();
      gateway.child.kill("SIGTERM");
      await gateway.exit();
      await nats.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
