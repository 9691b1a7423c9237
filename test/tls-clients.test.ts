import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { connect, type StateChange, UnrecoverableCloseError } from "../src/client/index.ts";
import { mintTestToken } from "../src/auth/index.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, natsSubscriptionsOfGateway, quote, startStack, type Stack } from "./helpers/stack.ts";
import { makeTestCertificates, type TestCertificates } from "./helpers/tls.ts";

// Issue 13, tests: "wss with Node, Python and the SDK against a test CA" (Node: test/tls.test.ts). Each client
// trusts the throw-away CA explicitly; without it, the gateway's certificate is refused with a clear reason.

const CLIENT = fileURLToPath(new URL("../clients/python/", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../examples/python/subscribe.py", import.meta.url));
const TOPIC = "xnas.AAPL.quote";
/** Scratch files that must sit inside the checkout (to resolve `ws` and tsx from its node_modules); git ignores it. */
const ARTIFACTS = fileURLToPath(new URL("./artifacts/", import.meta.url));

const PY_SCRIPT = `
import asyncio, os, sys
from tickwire_client import ConnectionFailed, DataEvent, TickwireClient

async def main():
    ca_file = os.environ.get("TW_CA_FILE") or None
    try:
        async with TickwireClient(os.environ["TW_URL"], [${JSON.stringify(TOPIC)}], ca_file=ca_file) as client:
            async for event in client:
                if isinstance(event, DataEvent) and not event.snapshot:
                    print("event", event.topic, event.fields["bp"], flush=True)
                    return
    except ConnectionFailed as error:
        print("failed", error, flush=True)
        sys.exit(3)

asyncio.run(main())
`;

function python(url: string, caFile: string | undefined): CliProcess {
  return new CliProcess(
    spawn("/usr/bin/python3", ["-c", PY_SCRIPT], {
      env: {
        ...process.env,
        PYTHONPATH: CLIENT,
        PYTHONDONTWRITEBYTECODE: "1",
        TW_URL: url,
        TW_CA_FILE: caFile ?? "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

describe("wss:// with the Python client and the SDK against a test CA", () => {
  const dir = mkdtempSync(join(tmpdir(), "tickwire-tls-clients-"));
  let certs: TestCertificates;
  let stack: Stack;
  let url: string;
  before(async () => {
    certs = makeTestCertificates(dir);
    stack = await startStack({ tls: { certFile: certs.certPath, keyFile: certs.keyPath } });
    url = `wss://127.0.0.1:${stack.service.port}/v1/stream`;
  });
  after(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("Python with ca_file: subscribes over wss and receives a live event", async () => {
    const py = python(url, certs.caPath);
    await eventually(
      async () => (await natsSubscriptionsOfGateway(stack.nats)).includes(`md.${TOPIC}`),
      `the Python client's subscription (stderr: ${py.stderr})`,
      15_000,
    );
    await eventually(
      async () => {
        if (py.child.exitCode === null) await stack.publishAndFlush(TOPIC, quote(211));
        return py.child.exitCode !== null;
      },
      `the Python client to exit (stdout: ${py.stdout}, stderr: ${py.stderr})`,
      15_000,
    );
    assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
    assert.match(py.stdout, /^event xnas\.AAPL\.quote 211/m);
  });

  it("Python without the CA: ConnectionFailed naming the certificate, no reconnect loop", async () => {
    const py = python(url, undefined);
    assert.deepEqual(await py.exit(), { code: 3, signal: null }, py.stderr);
    assert.match(py.stdout, /failed wss:\/\/127\.0\.0\.1:\d+\/v1\/stream: TLS certificate not trusted/);
    assert.match(py.stdout, /self[- ]signed certificate in certificate chain|unable to get local issuer/);
    assert.match(py.stdout, /give ca_file/);
  });

  it("the README's SDK TLS snippet (ws with the CA as its `ca` option) runs as written: subscribes over wss, receives a live event", async () => {
    // README, Client SDK: the ```ts block after "TLS options in Node". What changes: the CA's path and the
    // gateway's address; what is added: the import of `connect` (the README's earlier snippet has it) and
    // a subscribe that prints the first live event.
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const at = readme.indexOf("TLS options in Node");
    assert.ok(at >= 0, "README has its TLS options paragraph");
    const snippet = /```ts\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
    assert.ok(snippet !== undefined, "a ts block after it");
    assert.ok(
      snippet.includes('"/etc/tickwire/ca.crt"') && snippet.includes("wss://md.internal:9000"),
      snippet,
    );
    const script = join(ARTIFACTS, `readme-tls-${process.pid}.ts`);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(
      script,
      `import { connect } from ${JSON.stringify(fileURLToPath(new URL("../src/client/index.ts", import.meta.url)))};\n` +
        snippet
          .replace('"/etc/tickwire/ca.crt"', JSON.stringify(certs.caPath))
          .replace("wss://md.internal:9000", `wss://127.0.0.1:${stack.service.port}`) +
        `const sub = await client.subscribe([${JSON.stringify(TOPIC)}]);\n` +
        "for await (const ev of sub) {\n" +
        "  if (((ev.f ?? 0) & 1) === 0) { console.log('event', ev.t); break; }\n" +
        "}\n" +
        "await client.close();\n",
    );
    const child = new CliProcess(
      spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "pipe"] }),
    );
    try {
      await eventually(async () => {
        await stack.publishAndFlush(TOPIC, quote(212));
        return child.stdout.includes(`event ${TOPIC}`);
      }, "a live event over wss, printed by the snippet's client");
      assert.deepEqual(await child.exit(), { code: 0, signal: null }, child.stderr);
    } finally {
      child.child.kill();
      rmSync(script, { force: true });
    }
  });

  it("the SDK without the CA never opens and stops, naming the certificate error (no reconnect loop), as Python does", async () => {
    const client = connect(url, { initialDelayMs: 1, maxDelayMs: 20 });
    const changes: StateChange[] = [];
    const errors: Error[] = [];
    client.on("state", (s) => changes.push(s));
    client.on("error", (e) => errors.push(e));
    try {
      await assert.rejects(client.subscribe([TOPIC]), UnrecoverableCloseError);
      await eventually(() => client.state === "closed", "the client to stop");
      await new Promise((resolve) => setTimeout(resolve, 200)); // room for retries, had it kept trying
      assert.ok(!changes.some((s) => s.state === "open"));
      assert.equal(changes.filter((s) => s.state === "reconnecting").length, 0, "no second attempt");
      assert.ok(errors[0] instanceof UnrecoverableCloseError);
      assert.match(
        errors[0].message,
        /could not be opened: .*(self[- ]signed certificate|unable to verify)/i,
      );
    } finally {
      await client.close();
    }
  });
});

describe("examples/python/subscribe.py with --token-file and --ca-file (wss, --auth jwt)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tickwire-tls-example-"));
  const secret = Buffer.from(randomBytes(32).toString("hex"));
  const secretFile = join(dir, "jwt.secret");
  const tokenFile = join(dir, "alice.token");
  let certs: TestCertificates;
  let stack: Stack;
  before(async () => {
    certs = makeTestCertificates(dir);
    writeFileSync(secretFile, secret);
    writeFileSync(
      tokenFile,
      `${await mintTestToken({ secret, sub: "alice", grants: { topics: ["xnas.>"] } })}\n`,
    );
    stack = await startStack({
      tls: { certFile: certs.certPath, keyFile: certs.keyPath },
      auth: { mode: "jwt", jwtSecretFile: secretFile },
    });
  });
  after(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("authenticates with the token file, trusts the CA file, and prints live events as JSON lines", async () => {
    const url = `wss://127.0.0.1:${stack.service.port}/v1/stream`;
    const args = [EXAMPLE, "--url", url, "--count", "1", "--no-snapshot"];
    const py = new CliProcess(
      spawn("/usr/bin/python3", [...args, "--token-file", tokenFile, "--ca-file", certs.caPath, TOPIC], {
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    await eventually(
      async () => {
        if (py.child.exitCode === null) await stack.publishAndFlush(TOPIC, quote(213));
        return py.child.exitCode !== null;
      },
      `the example to print one event and exit (stdout: ${py.stdout}, stderr: ${py.stderr})`,
      15_000,
    );
    assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
    const event = JSON.parse(py.stdout.trim().split("\n")[0] ?? "") as { t: string; bp: number };
    assert.equal(event.t, TOPIC);
    assert.equal(event.bp, 213);
  });
});
