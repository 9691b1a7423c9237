import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NatsServerProcess } from "../src/embedded/index.ts";
import { CliProcess } from "./helpers/process.ts";
import {
  makeClientCertificate,
  makeTestCertificates,
  startTlsNats,
  type TestCertificates,
} from "./helpers/tls.ts";

// `tickwire history` takes serve's NATS TLS and credential options (the same definitions): a deployment whose
// NATS needs TLS with a client certificate and a password can create its history stream. Secrets never reach
// stdout, stderr or --help.

const PASSWORD = "h1story-nats-pass-s3cret";

async function history(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; output: string; stdout: string }> {
  const cli = CliProcess.run(["history", ...args], env);
  const { code } = await cli.exit();
  return { code, output: cli.stdout + cli.stderr, stdout: cli.stdout };
}

describe("tickwire history against NATS over TLS with a client certificate and user/password", () => {
  const dir = mkdtempSync(join(tmpdir(), "tickwire-history-tls-"));
  let certs: TestCertificates;
  let client: { certPath: string; keyPath: string };
  let nats: NatsServerProcess;
  let tlsUrl: string;
  before(async () => {
    certs = makeTestCertificates(dir);
    client = makeClientCertificate(dir);
    ({ nats, tlsUrl } = await startTlsNats(
      certs,
      { user: "admin", password: PASSWORD },
      { jetstream: true },
    ));
  });
  after(async () => {
    await nats.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const tlsFlags = (): string[] => [
    "--nats-tls-ca",
    certs.caPath,
    "--nats-tls-cert",
    client.certPath,
    "--nats-tls-key",
    client.keyPath,
  ];

  it("create and info over TLS, the password from the environment; it is in no output", async () => {
    const env = { TICKWIRE_NATS_USER: "admin", TICKWIRE_NATS_PASSWORD: PASSWORD };
    const created = await history(["create", "--nats", tlsUrl, "--storage", "memory", ...tlsFlags()], env);
    assert.equal(created.code, 0, created.output);
    assert.match(created.stdout, /^created stream TICKWIRE_LAST on tls:\/\/127\.0\.0\.1:\d+: md\.>/);
    const info = await history(["info", "--nats", tlsUrl, ...tlsFlags()], env);
    assert.equal(info.code, 0, info.output);
    assert.equal((JSON.parse(info.stdout) as { name: string }).name, "TICKWIRE_LAST");
    assert.ok(!(created.output + info.output).includes(PASSWORD));
  });

  it("a wrong password is refused by NATS: exit 1, an error without the password", async () => {
    const wrong = "wrong-pass-w0rd-s3cret";
    const result = await history([
      "info",
      "--nats",
      tlsUrl,
      ...tlsFlags(),
      "--nats-user",
      "admin",
      "--nats-password",
      wrong,
    ]);
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /TICKWIRE_ERR_/);
    assert.ok(!result.output.includes(wrong), result.output);
  });

  it("without the client certificate NATS refuses the connection (the TLS flags are what let it in)", async () => {
    const result = await history(["info", "--nats", tlsUrl, "--nats-tls-ca", certs.caPath], {
      TICKWIRE_NATS_USER: "admin",
      TICKWIRE_NATS_PASSWORD: PASSWORD,
    });
    assert.equal(result.code, 1, result.output);
    assert.ok(!result.output.includes(PASSWORD));
  });

  it("--help lists the NATS TLS and credential options and no secret, even one set in the environment", async () => {
    const result = await history(["--help"], {
      TICKWIRE_NATS_PASSWORD: PASSWORD,
      TICKWIRE_NATS_TOKEN: PASSWORD,
    });
    assert.equal(result.code, 0);
    for (const flag of [
      "--nats-tls-ca",
      "--nats-tls-cert",
      "--nats-tls-key",
      "--nats-user",
      "--nats-password",
    ])
      assert.match(result.stdout, new RegExp(`${flag} `));
    assert.match(result.stdout, /--nats-token .*\n.*TICKWIRE_NATS_TOKEN/);
    assert.match(result.stdout, /--nats-creds-file /);
    assert.ok(!result.output.includes(PASSWORD));
  });

  it("option rules as for serve: cert without key, and two kinds of credentials, are usage errors (exit 2)", async () => {
    const result = await history(
      ["info", "--nats", tlsUrl, "--nats-tls-cert", client.certPath, "--nats-token", PASSWORD],
      { TICKWIRE_NATS_USER: "admin", TICKWIRE_NATS_PASSWORD: PASSWORD },
    );
    assert.equal(result.code, 2, result.output);
    assert.match(result.output, /--nats-tls-cert and --nats-tls-key go together/);
    assert.match(result.output, /NATS credentials: use one of --nats-user, --nats-token, not several/);
    assert.ok(!result.output.includes(PASSWORD));
  });

  it("an unreadable TLS file names the option, never the content", async () => {
    const result = await history(["info", "--nats", tlsUrl, "--nats-tls-ca", join(dir, "missing.crt")]);
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /--nats-tls-ca: cannot read|TICKWIRE_ERR_TLS_FILE/);
  });
});
