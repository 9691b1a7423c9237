import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "nats";
import type { NatsServerProcess } from "../src/embedded/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import { GatewayChild } from "./helpers/gateway-child.ts";
import { CliProcess } from "./helpers/process.ts";
import { quote, startStack, type Stack } from "./helpers/stack.ts";
import {
  encryptKey,
  makeClientCertificate,
  makeTestCertificates,
  startTlsNats,
  type TestCertificates,
} from "./helpers/tls.ts";

// Issue 13 §7–8: TLS on the client side (uWS SSLApp, wss://) and on the NATS side (tls with a client
// certificate and user/password), with a throw-away CA; secrets never in the logs or --help.

const dir = mkdtempSync(join(tmpdir(), "tickwire-tls-test-"));
let certs: TestCertificates;
before(() => {
  certs = makeTestCertificates(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("--tls-cert/--tls-key: wss:// with a Node client against a test CA", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ tls: { certFile: certs.certPath, keyFile: certs.keyPath } });
  });
  after(() => stack.close());

  it("a wss client trusting the CA subscribes and gets live events; https serves /healthz", async () => {
    const url = `wss://127.0.0.1:${stack.service.port}/v1/stream`;
    const client = await TestClient.connect(url, [], { ca: certs.ca });
    try {
      await stack.subscribe(client, ["xnas.AAPL.quote"]);
      await stack.publishAndFlush("xnas.AAPL.quote", quote(101));
      await client.until(() => client.events.some((e) => e["t"] === "xnas.AAPL.quote"));
    } finally {
      await client.close();
    }
    const agent = new Agent({ ca: certs.ca });
    const body = await new Promise<string>((resolve, reject) => {
      request(`https://127.0.0.1:${stack.service.port}/healthz`, { agent }, (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve(text));
      })
        .on("error", reject)
        .end();
    });
    agent.destroy();
    assert.equal(body, "ok\n");
  });

  it("a client that does not trust the CA cannot connect", async () => {
    const url = `wss://127.0.0.1:${stack.service.port}/v1/stream`;
    await assert.rejects(TestClient.connect(url), /self-signed|unable to verify|certificate/i);
  });
});

describe("NATS over TLS with a client certificate and user/password, wss with an encrypted key; secrets never logged", () => {
  const password = "n4ts-pass-word-s3cret";
  let nats: NatsServerProcess;
  let gateway: GatewayChild;
  let feed: NatsConnection;
  let client: { certPath: string; keyPath: string };

  const passphrase = "tls-key-pass-phrase-s3cret";
  before(async () => {
    client = makeClientCertificate(dir);
    // The gateway's own certificate with an encrypted key: --tls-passphrase (a secret option) opens it.
    encryptKey(certs.keyPath, passphrase, join(dir, "server-encrypted.key"));
    const started = await startTlsNats(certs, { user: "gateway", password });
    nats = started.nats;
    const tlsUrl = started.tlsUrl;
    gateway = await GatewayChild.start(tlsUrl, [
      "--history-stream",
      "off",
      "--log-level",
      "debug",
      "--nats-tls-ca",
      certs.caPath,
      "--nats-tls-cert",
      client.certPath,
      "--nats-tls-key",
      client.keyPath,
      "--nats-user",
      "gateway",
      "--nats-password",
      password,
      "--tls-cert",
      certs.certPath,
      "--tls-key",
      join(dir, "server-encrypted.key"),
      "--tls-passphrase",
      passphrase,
    ]);
    feed = await connect({
      servers: tlsUrl,
      user: "gateway",
      pass: password,
      tls: { caFile: certs.caPath, certFile: client.certPath, keyFile: client.keyPath },
    });
  });
  after(async () => {
    await feed.close();
    await gateway.stop();
    await nats.dispose();
  });

  it("the gateway connects over TLS, subscribes and delivers; the password is in no log line", async () => {
    const ws = await TestClient.connect(`wss://127.0.0.1:${gateway.port}/v1/stream`, [], { ca: certs.ca });
    try {
      await ws.subscribe(["xnas.AAPL.quote"]);
      // Publish until the gateway's NATS interest is in place (no timing assumption).
      for (let i = 0; !ws.events.some((e) => e["t"] === "xnas.AAPL.quote"); i++) {
        assert.ok(i < 250, "no event over the TLS NATS link");
        feed.publish("md.xnas.AAPL.quote", encodeFeedPayload(quote(100 + i)));
        await feed.flush();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await ws.close();
    }
    const output = gateway.process.stdout + gateway.process.stderr;
    assert.match(output, /nats connected/);
    assert.ok(!output.includes(password), "the NATS password is never logged");
    assert.ok(!output.includes(passphrase), "the TLS passphrase is never logged");
    assert.match(output, /"ws":"wss:\/\/127\.0\.0\.1:\d+\/v1\/stream"/);
    assert.match(output, /"password":"\[redacted\]"/);
  });

  it("secrets are absent from --help, even when set in the environment", async () => {
    const cli = CliProcess.run(["serve", "--help"], {
      TICKWIRE_NATS_PASSWORD: password,
      TICKWIRE_TLS_PASSPHRASE: password,
      TICKWIRE_NATS_TOKEN: password,
    });
    await cli.exit();
    assert.match(cli.stdout, /--nats-password/);
    assert.match(cli.stdout, /--tls-passphrase/);
    assert.ok(!(cli.stdout + cli.stderr).includes(password));
  });

  it("an unreadable NATS TLS file is a start-up error naming the option, never its content", async () => {
    const cli = CliProcess.run([
      "serve",
      "--nats",
      nats.url,
      "--port",
      "0",
      "--nats-tls-ca",
      join(dir, "missing-ca.crt"),
    ]);
    const exit = await cli.exit();
    assert.notEqual(exit.code, 0);
    assert.match(cli.stdout + cli.stderr, /TICKWIRE_ERR_TLS_FILE|--nats-tls-ca: cannot read/);
  });
});
