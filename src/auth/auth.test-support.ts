import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { AUTH_DEFAULTS, type AuthConfig } from "./auth-config.ts";

/** A `--auth jwt` configuration with the defaults and the given overrides. */
export function jwtConfig(overrides: Partial<AuthConfig>): AuthConfig {
  return { mode: "jwt", ...AUTH_DEFAULTS, ...overrides };
}

/** A temporary folder for key files; `remove()` deletes it. */
export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), "tickwire-auth-"));
  file(name: string, content: string | Uint8Array): string {
    const path = join(this.path, name);
    writeFileSync(path, content);
    return path;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export interface TestKeyPair {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKeyPem: string;
  readonly publicJwk: JWK;
}

/** A real key pair made by jose (WebCrypto), with its public half as PEM and as a JWK. */
export async function keyPair(alg: string, kid = `${alg}-key`): Promise<TestKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, publicKeyPem: await exportSPKI(publicKey), publicJwk };
}

export interface Claims {
  readonly sub?: string;
  readonly tw?: unknown;
  readonly iss?: string;
  readonly aud?: string;
  /** Seconds relative to `nowMs`. */
  readonly expInSec?: number | undefined;
  readonly nbfInSec?: number;
  readonly extra?: Record<string, unknown>;
}

/** Signs a token with any algorithm and key, claims relative to `nowMs`. */
export async function signToken(
  alg: string,
  key: CryptoKey | Uint8Array,
  nowMs: number,
  claims: Claims = {},
  kid?: string,
): Promise<string> {
  const nowSec = Math.floor(nowMs / 1000);
  const payload: Record<string, unknown> = {
    sub: claims.sub ?? "user-1",
    tw: claims.tw ?? { topics: ["xnas.>"] },
    iat: nowSec,
    ...claims.extra,
  };
  if (!("expInSec" in claims) || claims.expInSec !== undefined)
    payload["exp"] = nowSec + (claims.expInSec ?? 3600);
  if (claims.nbfInSec !== undefined) payload["nbf"] = nowSec + claims.nbfInSec;
  if (claims.iss !== undefined) payload["iss"] = claims.iss;
  if (claims.aud !== undefined) payload["aud"] = claims.aud;
  return new SignJWT(payload)
    .setProtectedHeader(kid !== undefined ? { alg, kid, typ: "JWT" } : { alg, typ: "JWT" })
    .sign(key);
}

export function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
