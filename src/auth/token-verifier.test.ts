import { strict as assert } from "node:assert";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CompactSign, UnsecuredJWT } from "jose";
import { AuthConfigError, AuthKeyError } from "../errors/index.ts";
import { MAX_HZ_LIMIT } from "../protocol/index.ts";
import { TempDir, base64url, jwtConfig, keyPair, signToken, type TestKeyPair } from "./auth.test-support.ts";
import {
  AUTH_REFUSAL_REASONS,
  MAX_GRANT_PATTERNS,
  createTokenVerifier,
  mintTestToken,
  redactToken,
  type AuthRefusalReason,
  type TokenVerifier,
  type VerifyResult,
} from "./index.ts";

const SECRET = "s3cret-for-tests-only-0123456789abcdefghijkl"; // 44 bytes
const secretBytes = new TextEncoder().encode(SECRET);
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const now = (): number => NOW;

function refused(result: VerifyResult, reason: AuthRefusalReason): void {
  assert.equal(result.ok, false, `expected a refusal (${reason}), got ${JSON.stringify(result)}`);
  if (!result.ok) assert.equal(result.reason, reason, result.detail);
}

describe("token verifier", () => {
  const dir = new TempDir();
  let hs: TokenVerifier;
  const pairs = new Map<string, TestKeyPair>();
  const pemVerifiers = new Map<string, TokenVerifier>();
  after(() => dir.remove());

  before(async () => {
    hs = await createTokenVerifier(
      jwtConfig({
        jwtSecretFile: dir.file("secret", `${SECRET}\n`),
        jwtIssuer: "idp",
        jwtAudience: "tickwire",
      }),
      { now },
    );
    for (const alg of ["RS256", "ES256", "EdDSA"]) {
      const pair = await keyPair(alg);
      pairs.set(alg, pair);
      pemVerifiers.set(
        alg,
        await createTokenVerifier(
          jwtConfig({ jwtPublicKeyFile: dir.file(`${alg}.pem`, pair.publicKeyPem) }),
          { now },
        ),
      );
    }
  });

  it("accepts an HS256 token and returns the identity and grants of its tw claim", async () => {
    const token = await mintTestToken({
      secret: secretBytes,
      sub: "alice",
      grants: { topics: ["xnas.>", "binance.*.quote", "xnas.>"], maxHz: 4, maxConnections: 3 },
      issuer: "idp",
      audience: "tickwire",
      ttlMs: 60_000,
      nowMs: NOW,
    });
    const result = await hs.verify(token);
    assert.deepEqual(result, {
      ok: true,
      identity: {
        sub: "alice",
        expiresAtMs: Math.floor(NOW / 1000) * 1000 + 60_000,
        grants: { topics: ["xnas.>", "binance.*.quote"], maxHz: 4, maxConnections: 3 },
      },
    });
    assert.equal(hs.stats.accepted, 1);
  });

  for (const alg of ["RS256", "ES256", "EdDSA"]) {
    it(`accepts an ${alg} token verified with a PEM public key`, async () => {
      const pair = pairs.get(alg)!;
      const verifier = pemVerifiers.get(alg)!;
      const result = await verifier.verify(await signToken(alg, pair.privateKey, NOW, { sub: `sub-${alg}` }));
      assert.equal(result.ok, true, JSON.stringify(result));
      if (result.ok) assert.equal(result.identity.sub, `sub-${alg}`);
    });
  }

  it("refuses expired, not-yet-valid, wrong-issuer and wrong-audience tokens, each with its reason", async () => {
    const claims = { iss: "idp", aud: "tickwire" };
    refused(
      await hs.verify(await signToken("HS256", secretBytes, NOW, { ...claims, expInSec: -60 })),
      "expired",
    );
    refused(
      await hs.verify(await signToken("HS256", secretBytes, NOW, { ...claims, nbfInSec: 60 })),
      "not_yet_valid",
    );
    refused(
      await hs.verify(await signToken("HS256", secretBytes, NOW, { ...claims, iss: "evil" })),
      "wrong_issuer",
    );
    refused(
      await hs.verify(await signToken("HS256", secretBytes, NOW, { ...claims, aud: "other" })),
      "wrong_audience",
    );
    refused(await hs.verify(await signToken("HS256", secretBytes, NOW, { aud: "tickwire" })), "wrong_issuer");
  });

  it("applies the clock tolerance to exp and nbf", async () => {
    const tolerant = await createTokenVerifier(
      jwtConfig({ jwtSecretFile: dir.file("secret2", SECRET), jwtClockToleranceMs: 30_000 }),
      { now },
    );
    const strict = await createTokenVerifier(
      jwtConfig({ jwtSecretFile: dir.file("secret3", SECRET), jwtClockToleranceMs: 0 }),
      { now },
    );
    const expired10sAgo = await signToken("HS256", secretBytes, NOW, { expInSec: -10 });
    const valid10sFromNow = await signToken("HS256", secretBytes, NOW, { nbfInSec: 10 });
    const expired60sAgo = await signToken("HS256", secretBytes, NOW, { expInSec: -60 });
    assert.equal((await tolerant.verify(expired10sAgo)).ok, true);
    assert.equal((await tolerant.verify(valid10sFromNow)).ok, true);
    refused(await tolerant.verify(expired60sAgo), "expired");
    refused(await strict.verify(expired10sAgo), "expired");
    refused(await strict.verify(valid10sFromNow), "not_yet_valid");
  });

  it("refuses a tampered payload and a token signed with another key", async () => {
    const es = pemVerifiers.get("ES256")!;
    const token = await signToken("ES256", pairs.get("ES256")!.privateKey, NOW, {
      tw: { topics: ["xnas.AAPL.quote"] },
    });
    const [header, , signature] = token.split(".");
    const widened = `${header}.${base64url({ sub: "user-1", exp: NOW / 1000 + 3600, tw: { topics: [">"] } })}.${signature}`;
    refused(await es.verify(widened), "bad_signature");
    const other = await keyPair("ES256");
    refused(await es.verify(await signToken("ES256", other.privateKey, NOW)), "bad_signature");
    refused(
      await hs.verify(await signToken("HS256", new TextEncoder().encode("x".repeat(40)), NOW)),
      "bad_signature",
    );
  });

  it('refuses alg "none" and algorithm confusion (HS256 keyed with the RSA public key PEM)', async () => {
    const unsigned = new UnsecuredJWT({ sub: "mallory", tw: { topics: [">"] } })
      .setExpirationTime(NOW / 1000 + 3600)
      .encode();
    refused(await hs.verify(unsigned), "bad_algorithm");
    refused(await pemVerifiers.get("RS256")!.verify(unsigned), "bad_algorithm");
    const rsa = pairs.get("RS256")!;
    const confused = await signToken("HS256", new TextEncoder().encode(rsa.publicKeyPem), NOW, {
      tw: { topics: [">"] },
    });
    refused(await pemVerifiers.get("RS256")!.verify(confused), "bad_algorithm");
    // And the reverse: an RS256 token is not checked against an HMAC secret.
    refused(await hs.verify(await signToken("RS256", rsa.privateKey, NOW)), "bad_algorithm");
  });

  it("refuses what is not a compact JWS as malformed, without throwing", async () => {
    for (const token of [
      undefined,
      42,
      "",
      "abc",
      "a.b.c",
      "x".repeat(9000),
      `${base64url({ alg: "HS256" })}.e30`,
    ]) {
      refused(await hs.verify(token), "malformed");
    }
    // Signed, but the claims are a JSON array, not an object.
    const array = await new CompactSign(new TextEncoder().encode("[1]"))
      .setProtectedHeader({ alg: "HS256" })
      .sign(secretBytes);
    refused(await hs.verify(array), "malformed");
  });

  it("refuses bad claims: missing sub or exp, a bad tw claim", async () => {
    const cases: readonly [string, Parameters<typeof signToken>[3]][] = [
      ["no sub", { sub: "", extra: { sub: undefined } }],
      ["no exp", { expInSec: undefined }],
      ["no tw", { extra: { tw: undefined } }],
      ["tw not an object", { tw: ["xnas.>"] }],
      ["topics missing", { tw: { maxHz: 1 } }],
      ["topics not an array", { tw: { topics: "xnas.>" } }],
      ["bad pattern", { tw: { topics: ["xnas.>", "a..b"] } }],
      ["> not last", { tw: { topics: [">.quote"] } }],
      ["unknown type", { tw: { topics: ["xnas.AAPL.depth"] } }],
      [
        "too many patterns",
        { tw: { topics: Array.from({ length: MAX_GRANT_PATTERNS + 1 }, (_, i) => `v.S${i}.quote`) } },
      ],
      ["maxHz zero", { tw: { topics: ["xnas.>"], maxHz: 0 } }],
      ["maxHz above the protocol bound", { tw: { topics: ["xnas.>"], maxHz: MAX_HZ_LIMIT + 1 } }],
      ["maxHz a string", { tw: { topics: ["xnas.>"], maxHz: "4" } }],
      ["maxConnections fractional", { tw: { topics: ["xnas.>"], maxConnections: 1.5 } }],
      ["maxConnections zero", { tw: { topics: ["xnas.>"], maxConnections: 0 } }],
      ["unknown tw field", { tw: { topics: ["xnas.>"], maxTopics: 10 } }],
    ];
    for (const [name, claims] of cases) {
      const result = await hs.verify(
        await signToken("HS256", secretBytes, NOW, { iss: "idp", aud: "tickwire", ...claims }),
      );
      assert.equal(result.ok, false, name);
      if (!result.ok) assert.equal(result.reason, "bad_claims", `${name}: ${result.reason} ${result.detail}`);
    }
    const empty = await hs.verify(
      await signToken("HS256", secretBytes, NOW, { iss: "idp", aud: "tickwire", tw: { topics: [] } }),
    );
    assert.equal(empty.ok, true, "an empty grant list is valid: authenticated, entitled to nothing");
  });

  it("counts every refusal by reason, with every reason present from the start", async () => {
    const verifier = await createTokenVerifier(jwtConfig({ jwtSecretFile: dir.file("secret4", SECRET) }), {
      now,
    });
    assert.deepEqual(Object.keys(verifier.stats.refused).sort(), [...AUTH_REFUSAL_REASONS].sort());
    await verifier.verify("garbage");
    await verifier.verify(await signToken("HS256", secretBytes, NOW, { expInSec: -3600 }));
    await verifier.verify(await signToken("HS256", secretBytes, NOW, { expInSec: -3600 }));
    await verifier.verify(await signToken("HS256", secretBytes, NOW));
    assert.equal(verifier.stats.refused.malformed, 1);
    assert.equal(verifier.stats.refused.expired, 2);
    assert.equal(verifier.stats.accepted, 1);
  });

  it("redacts tokens to a length and a fingerprint", async () => {
    const token = await signToken("HS256", secretBytes, NOW);
    const redacted = redactToken(token);
    assert.match(redacted, /^\[token sha256:[0-9a-f]{12} \d+ chars\]$/);
    for (const part of token.split(".")) assert.ok(!redacted.includes(part.slice(0, 8)));
    assert.equal(redactToken(undefined), "[not a token: undefined]");
  });
});

describe("token verifier start-up", () => {
  const dir = new TempDir();
  after(() => dir.remove());

  async function rejects(
    config: Parameters<typeof createTokenVerifier>[0],
    code: string,
    pattern: RegExp,
  ): Promise<Error> {
    let caught: unknown;
    try {
      await createTokenVerifier(config);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof Error, "expected an error");
    assert.equal((caught as { code?: unknown }).code, code);
    assert.match(caught.message, pattern);
    return caught;
  }

  it("refuses an unreadable key file, naming it, and a short secret without showing it", async () => {
    const missing = `${dir.path}/missing.pem`;
    const error = await rejects(
      jwtConfig({ jwtPublicKeyFile: missing }),
      "TICKWIRE_ERR_AUTH_KEY",
      /missing\.pem cannot be read \(ENOENT\)/,
    );
    assert.ok(error instanceof AuthKeyError);
    const short = "short-secret-abc";
    const shortError = await rejects(
      jwtConfig({ jwtSecretFile: dir.file("short", short) }),
      "TICKWIRE_ERR_AUTH_KEY",
      /16 bytes/,
    );
    assert.ok(!shortError.message.includes(short));
  });

  it("refuses a bad PEM and a private key given as the public key, without echoing the file", async () => {
    const garbage = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n";
    const bad = await rejects(
      jwtConfig({ jwtPublicKeyFile: dir.file("bad.pem", garbage) }),
      "TICKWIRE_ERR_AUTH_KEY",
      /not a PEM public key/,
    );
    assert.ok(!bad.message.includes("bm90IGEga2V5"));
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const priv = await rejects(
      jwtConfig({ jwtPublicKeyFile: dir.file("priv.pem", pem) }),
      "TICKWIRE_ERR_AUTH_KEY",
      /holds a private key/,
    );
    assert.ok(!priv.message.includes(pem.split("\n")[1]!));
  });

  it("refuses algorithm allow-lists that mix key kinds, contain none, or do not fit the key", async () => {
    const rsa = await keyPair("RS256");
    const rsaFile = dir.file("rsa.pem", rsa.publicKeyPem);
    const secretFile = dir.file("secret", SECRET);
    const error = await rejects(
      jwtConfig({ jwtPublicKeyFile: rsaFile, jwtAlgorithms: ["HS256"] }),
      "TICKWIRE_ERR_AUTH_CONFIG",
      /HMAC algorithms/,
    );
    assert.ok(error instanceof AuthConfigError);
    await rejects(
      jwtConfig({ jwksUrl: "https://idp.example/jwks", jwtAlgorithms: ["HS256", "RS256"] }),
      "TICKWIRE_ERR_AUTH_CONFIG",
      /HMAC/,
    );
    await rejects(
      jwtConfig({ jwtSecretFile: secretFile, jwtAlgorithms: ["RS256"] }),
      "TICKWIRE_ERR_AUTH_CONFIG",
      /need a public key/,
    );
    await rejects(
      jwtConfig({ jwtSecretFile: secretFile, jwtAlgorithms: ["none"] }),
      "TICKWIRE_ERR_AUTH_CONFIG",
      /"none"/,
    );
    await rejects(
      jwtConfig({ jwtPublicKeyFile: rsaFile, jwtAlgorithms: ["ES256"] }),
      "TICKWIRE_ERR_AUTH_CONFIG",
      /rsa 2048-bit/,
    );
    await rejects(
      jwtConfig({ jwtSecretFile: secretFile, jwtPublicKeyFile: rsaFile }),
      "TICKWIRE_ERR_AUTH_CONFIG",
      /exactly one key source/,
    );
    await rejects(jwtConfig({}), "TICKWIRE_ERR_AUTH_CONFIG", /needs one key source/);
    await rejects(
      jwtConfig({ jwksUrl: "http://idp.example/jwks" }),
      "TICKWIRE_ERR_AUTH_CONFIG",
      /must be https/,
    );
    await rejects(
      jwtConfig({ jwksUrl: "https://u:pw@idp.example/jwks" }),
      "TICKWIRE_ERR_AUTH_CONFIG",
      /credentials/,
    );
  });

  it("describes itself for the start-up log without the secret", async () => {
    const verifier = await createTokenVerifier(
      jwtConfig({ jwtSecretFile: dir.file("s", SECRET), jwtIssuer: "idp" }),
    );
    assert.match(verifier.description, /^jwt HS256 with the secret in .+ \(44 bytes\), iss=idp$/);
    assert.ok(!verifier.description.includes(SECRET));
  });
});
