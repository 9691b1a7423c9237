import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { urlWithoutCredentials } from "../config/index.ts";
import { natsConnectOptions, type SecretValue } from "./nats-link.ts";

const secret = (value: string): SecretValue => ({ reveal: () => value, isSet: value !== "" });
const base = { servers: ["tls://127.0.0.1:4222"], name: "t", reconnectWaitMs: 100 };

describe("NATS connect options (the one place they are built)", () => {
  it("removes URL credentials for logs", () => {
    assert.equal(urlWithoutCredentials("nats://alice:pw@127.0.0.1:4222"), "nats://127.0.0.1:4222");
    assert.equal(urlWithoutCredentials("tls://tok3n@nats:4222"), "tls://nats:4222");
    assert.equal(urlWithoutCredentials("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
  });

  it("sets TLS files, and user/password or token, from the link options", () => {
    const dir = mkdtempSync(join(tmpdir(), "tickwire-nats-opts-"));
    try {
      const ca = join(dir, "ca.pem");
      writeFileSync(ca, "-----BEGIN CERTIFICATE-----\n");
      const withUser = natsConnectOptions({
        ...base,
        tls: { caFile: ca },
        credentials: { user: "gw", password: secret("pw") },
      });
      assert.deepEqual(withUser.tls, { caFile: ca });
      assert.equal(withUser.user, "gw");
      assert.equal(withUser.pass, "pw");
      const withToken = natsConnectOptions({ ...base, credentials: { token: secret("tk") } });
      assert.equal(withToken.token, "tk");
      assert.equal(withToken.tls, undefined);
      assert.equal(natsConnectOptions(base).user, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an unreadable file is TICKWIRE_ERR_TLS_FILE naming the option, never a secret", () => {
    assert.throws(
      () => natsConnectOptions({ ...base, tls: { caFile: "/nonexistent/ca.pem" } }),
      (error: Error & { code?: string }) =>
        error.code === "TICKWIRE_ERR_TLS_FILE" && /--nats-tls-ca: cannot read/.test(error.message),
    );
    assert.throws(
      () => natsConnectOptions({ ...base, credentials: { credsFile: "/nonexistent/x.creds" } }),
      /--nats-creds-file: cannot read/,
    );
  });
});
