import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { FeedPublisher } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { freePort } from "./helpers/free-port.ts";
import { CliProcess } from "./helpers/process.ts";
import { quote } from "./helpers/stack.ts";

async function history(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = CliProcess.run(["history", ...args]);
  const { code } = await cli.exit();
  return { code, stdout: cli.stdout, stderr: cli.stderr };
}

describe("tickwire history create|info (the feed-history stream without the nats CLI)", () => {
  let nats: NatsServerProcess;
  before(async () => {
    nats = await NatsServerProcess.start({ jetstream: true });
  });
  after(async () => {
    await nats.dispose();
  });

  it("create makes the stream tickwire reads: <prefix>.>, one message per subject, direct get", async () => {
    const created = await history(
      "create",
      "--nats",
      nats.url,
      "--storage",
      "memory",
      "--subject-prefix",
      "px",
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^created stream TICKWIRE_LAST on nats:\/\/127\.0\.0\.1:\d+: px\.>/);
    const info = await history("info", "--nats", nats.url);
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual(JSON.parse(info.stdout), {
      name: "TICKWIRE_LAST",
      subjects: ["px.>"],
      storage: "memory",
      replicas: 1,
      maxMsgsPerSubject: 1,
      maxBytes: 268435456,
      allowDirect: true,
      messages: 0,
      bytes: 0,
      subjectCount: 0,
    });
  });

  it("the stream keeps the last feed message of each subject", async () => {
    const publisher = await FeedPublisher.connect(nats.url, "history-admin-test");
    try {
      for (const bp of [1, 2, 3]) publisher.publish("px.xnas.AAPL.quote", encodeFeedPayload(quote(bp)));
      publisher.publish("px.xnas.MSFT.quote", encodeFeedPayload(quote(4)));
      await publisher.flush();
    } finally {
      await publisher.close();
    }
    const info = JSON.parse((await history("info", "--nats", nats.url)).stdout) as Record<string, number>;
    assert.equal(info["messages"], 2);
    assert.equal(info["subjectCount"], 2);
  });

  it("create again with the same settings leaves it alone and exits 0", async () => {
    const again = await history(
      "create",
      "--nats",
      nats.url,
      "--storage",
      "memory",
      "--subject-prefix",
      "px",
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /stream TICKWIRE_LAST exists .* nothing to do/);
  });

  it("create with other settings names each difference, changes nothing and exits 1", async () => {
    const other = await history(
      "create",
      "--nats",
      nats.url,
      "--subject-prefix",
      "px",
      "--max-bytes",
      "4096",
    );
    assert.equal(other.code, 1);
    assert.match(other.stderr, /storage: "memory" \(asked for "file"\)/);
    assert.match(other.stderr, /max_bytes: 268435456 \(asked for 4096\)/);
    const info = JSON.parse((await history("info", "--nats", nats.url)).stdout) as Record<string, unknown>;
    assert.equal(info["storage"], "memory");
  });

  it("NATS not reachable: exit 1 with the error code, credentials never printed", async () => {
    const port = await freePort();
    const failed = await history("create", "--nats", `nats://admin:hunter2@127.0.0.1:${port}`);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /cannot create the feed history stream TICKWIRE_LAST: nats not reachable/);
    assert.match(failed.stderr, /TICKWIRE_ERR_HISTORY_STREAM/);
    assert.doesNotMatch(failed.stdout + failed.stderr, /hunter2/);
  });

  it("usage problems exit 2: no --nats, an unknown sub-command", async () => {
    const noNats = CliProcess.run(["history", "create"], { NATS_URL: "", TICKWIRE_NATS_URL: "" });
    assert.equal((await noNats.exit()).code, 2);
    assert.match(noNats.stderr, /--nats|NATS_URL/);
    assert.equal((await history("drop")).code, 2);
  });
});
