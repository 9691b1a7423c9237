import { strict as assert } from "node:assert";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { TempDir, jwtConfig, keyPair, signToken, type TestKeyPair } from "./auth.test-support.ts";
import { MAX_JWKS_BYTES, createTokenVerifier, type TokenVerifier, type VerifyResult } from "./index.ts";

const COOLDOWN_MS = 30_000;
const MAX_AGE_MS = 600_000;

/** A clock the test moves by hand: no test waits for real time. */
class Clock {
  ms = Date.UTC(2026, 10, 30, 12, 0, 0);
  readonly now = (): number => this.ms;
}

function jwks(...pairs: TestKeyPair[]): string {
  return JSON.stringify({ keys: pairs.map((p) => p.publicJwk) });
}

function reasonOf(result: VerifyResult): string {
  return result.ok ? "ok" : result.reason;
}

describe("JWKS from a file: rotation by kid", () => {
  const dir = new TempDir();
  const clock = new Clock();
  let k1: TestKeyPair, k2: TestKeyPair, k3: TestKeyPair;
  let path: string;
  let verifier: TokenVerifier;
  const tokenOf = (pair: TestKeyPair): Promise<string> =>
    signToken(pair.alg, pair.privateKey, clock.ms, { sub: pair.kid }, pair.kid);

  before(async () => {
    [k1, k2, k3] = await Promise.all([
      keyPair("ES256", "k1"),
      keyPair("RS256", "k2"),
      keyPair("EdDSA", "k3"),
    ]);
    path = dir.file("jwks.json", jwks(k1, k2));
    verifier = await createTokenVerifier(
      jwtConfig({ jwksFile: path, jwksCooldownMs: COOLDOWN_MS, jwksMaxAgeMs: MAX_AGE_MS }),
      { now: clock.now },
    );
  });
  after(() => dir.remove());

  it("verifies tokens of both keys while both are in the set", async () => {
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k1))), "ok");
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k2))), "ok");
    assert.equal(verifier.stats.keyRefreshes, 1, "loaded once, on the first token");
  });

  it("refuses the old key once it is removed and the set refreshed", async () => {
    dir.file("jwks.json", jwks(k2));
    assert.deepEqual(await verifier.refreshKeys(), { ok: true, keys: 1 });
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k1))), "no_key");
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k2))), "ok");
    assert.equal(verifier.stats.refused.no_key, 1);
  });

  it("picks up a new kid on its first token once the cooldown has passed", async () => {
    dir.file("jwks.json", jwks(k2, k3));
    const token = await tokenOf(k3);
    assert.equal(reasonOf(await verifier.verify(token)), "no_key", "within the cooldown: no reload");
    clock.ms += COOLDOWN_MS;
    assert.equal(reasonOf(await verifier.verify(token)), "ok", "unknown kid after the cooldown: reloaded");
    assert.equal(verifier.stats.keyRefreshes, 3);
  });

  it("reloads a set older than the max age in the background, serving the old set meanwhile", async () => {
    dir.file("jwks.json", jwks(k3));
    clock.ms += MAX_AGE_MS;
    const k2Token = await tokenOf(k2);
    assert.equal(reasonOf(await verifier.verify(k2Token)), "ok", "the stale set still serves");
    await verifier.refreshKeys(); // joins the background reload
    assert.equal(reasonOf(await verifier.verify(k2Token)), "no_key");
  });

  it("keeps the last good set when a reload fails, and counts the failure", async () => {
    dir.file("jwks.json", "{ not json");
    const result = await verifier.refreshKeys();
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.detail, /jwks\.json: is not JSON/);
    assert.equal(verifier.stats.keyRefreshFailures, 1);
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k3))), "ok");
  });
});

/** Serves whatever `body` holds at /jwks.json; counts requests. */
class JwksServer {
  body = "";
  status = 200;
  requests = 0;
  readonly server: Server = createServer((req, res) => {
    this.requests++;
    res.writeHead(this.status, { "content-type": "application/jwk-set+json", connection: "close" });
    res.end(this.body);
  });
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
  }
}

describe("JWKS from a URL (a real HTTP server on 127.0.0.1)", () => {
  const clock = new Clock();
  const jwksServer = new JwksServer();
  let url: string;
  let k1: TestKeyPair, k2: TestKeyPair;
  let verifier: TokenVerifier;
  let closed = false;
  const tokenOf = (pair: TestKeyPair): Promise<string> =>
    signToken(pair.alg, pair.privateKey, clock.ms, { sub: pair.kid }, pair.kid);

  before(async () => {
    [k1, k2] = await Promise.all([keyPair("ES256", "k1"), keyPair("ES256", "k2")]);
    jwksServer.body = jwks(k1);
    url = await jwksServer.listen();
    verifier = await createTokenVerifier(
      jwtConfig({
        jwksUrl: url,
        jwksCooldownMs: COOLDOWN_MS,
        jwksMaxAgeMs: MAX_AGE_MS,
        jwtAlgorithms: ["ES256"],
      }),
      { now: clock.now },
    );
  });
  after(async () => {
    if (!closed) await jwksServer.close();
  });

  it("fetches the set once and verifies from the cache", async () => {
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k1))), "ok");
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k1))), "ok");
    assert.equal(jwksServer.requests, 1);
  });

  it("rotates: a new kid is fetched after the cooldown, a removed one refused after refresh", async () => {
    jwksServer.body = jwks(k1, k2);
    const k2Token = await tokenOf(k2);
    assert.equal(reasonOf(await verifier.verify(k2Token)), "no_key");
    assert.equal(jwksServer.requests, 1, "no fetch within the cooldown, however many unknown kids arrive");
    clock.ms += COOLDOWN_MS;
    assert.equal(reasonOf(await verifier.verify(k2Token)), "ok");
    assert.equal(jwksServer.requests, 2);
    jwksServer.body = jwks(k2);
    assert.deepEqual(await verifier.refreshKeys(), { ok: true, keys: 1 });
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k1))), "no_key");
  });

  it("counts a refused answer (HTTP 500, oversized) and keeps the last good set", async () => {
    jwksServer.status = 500;
    const failed = await verifier.refreshKeys();
    assert.deepEqual(failed, {
      ok: false,
      detail: `url ${new URL(url).origin}/jwks.json: answered HTTP 500`,
    });
    jwksServer.status = 200;
    jwksServer.body = " ".repeat(MAX_JWKS_BYTES + 1);
    const big = await verifier.refreshKeys();
    assert.equal(big.ok, false);
    if (!big.ok) assert.match(big.detail, /larger than/);
    assert.equal(verifier.stats.keyRefreshFailures, 2);
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k2))), "ok");
  });

  it("keeps verifying with the cached set when the URL becomes unreachable", async () => {
    await jwksServer.close();
    closed = true;
    clock.ms += MAX_AGE_MS;
    assert.equal(reasonOf(await verifier.verify(await tokenOf(k2))), "ok");
    const result = await verifier.refreshKeys();
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.detail, /request failed \(ECONNREFUSED\)/);
    assert.ok(verifier.stats.keyRefreshFailures >= 3);
  });

  it("refuses with keys_unavailable, counted, when the URL never answered", async () => {
    const fresh = await createTokenVerifier(jwtConfig({ jwksUrl: url, jwksCooldownMs: COOLDOWN_MS }), {
      now: clock.now,
    });
    const token = await tokenOf(k2);
    assert.equal(reasonOf(await fresh.verify(token)), "keys_unavailable");
    assert.equal(reasonOf(await fresh.verify(token)), "keys_unavailable");
    assert.equal(fresh.stats.refused.keys_unavailable, 2);
    assert.equal(fresh.stats.keyRefreshFailures, 1, "one attempt per cooldown, not one per token");
  });
});
