import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TempDir } from "../src/auth/auth.test-support.ts";
import { runLoadTest, validateOptions, type LoadTestResult } from "../loadtest/index.ts";
import { startStack, type Stack } from "./helpers/stack.ts";

/**
 * The load harness against a gateway running --auth jwt (issue 13 §10): with --jwt-secret-file each client
 * mints its own token and sends it as Authorization: Bearer, so an authenticated deployment can be
 * load-tested; every client is accepted and every event delivered.
 */
describe("load harness with --jwt-secret-file against --auth jwt", () => {
  const CLIENTS = 40;
  const MESSAGES = 400;
  const dir = new TempDir();
  const secretFile = dir.file("jwt.secret", randomBytes(32).toString("hex"));
  let stack: Stack;
  let result: LoadTestResult;

  before(async () => {
    stack = await startStack({ auth: { mode: "jwt", jwtSecretFile: secretFile } });
    result = await runLoadTest(
      validateOptions({
        url: stack.wsUrl,
        jwtSecretFile: secretFile,
        nats: stack.nats.url,
        natsMonitorUrl: stack.nats.monitorUrl ?? "",
        clients: CLIENTS,
        workers: 1,
        symbols: 20,
        topicsPerClient: 5,
        rate: 400,
        messages: MESSAGES,
        rampS: 0.2,
        warmupS: 0.5,
        durationS: 10,
        progress: "off",
        outDir: dir.path,
        name: "auth",
      }),
    );
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  it("every client authenticates with its own token, subscribes and gets every event", async () => {
    assert.equal(result.clients.subscribed, CLIENTS);
    assert.deepEqual(result.errorsByCode, {});
    assert.equal(result.delivery.delivered, result.delivery.expected);
    assert.equal(await stack.metric("tickwire_auth_accepted_total"), CLIENTS);
  });
});
