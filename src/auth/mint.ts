import type { KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import type { Grants } from "./tw-claim.ts";

export interface MintOptions {
  /** HMAC secret (from loadSecretFile, or the raw bytes). */
  readonly secret: KeyObject | Uint8Array;
  readonly sub: string;
  readonly grants: Grants;
  /** Lifetime from `nowMs`, ms (default 1 hour). */
  readonly ttlMs?: number;
  readonly issuer?: string;
  readonly audience?: string;
  /** `nbf` this long after `nowMs`, ms (default: no `nbf`). */
  readonly notBeforeMs?: number;
  /** `kid` header, when the verifier picks keys by id. */
  readonly kid?: string;
  /** Issue time, ms since the epoch (default Date.now()). */
  readonly nowMs?: number;
}

/**
 * Signs an HS256 token carrying the `tw` claim: for tests, the load harness (`--jwt-secret-file`)
 * and `tickwire token`. Production tokens come from the operator's identity provider (docs/SECURITY.md).
 */
export async function mintTestToken(options: MintOptions): Promise<string> {
  const nowSec = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const ttlSec = Math.ceil((options.ttlMs ?? 3_600_000) / 1000);
  const jwt = new SignJWT({ tw: { ...options.grants, topics: [...options.grants.topics] } })
    .setProtectedHeader(
      options.kid !== undefined
        ? { alg: "HS256", typ: "JWT", kid: options.kid }
        : { alg: "HS256", typ: "JWT" },
    )
    .setSubject(options.sub)
    .setIssuedAt(nowSec)
    .setExpirationTime(nowSec + ttlSec);
  if (options.notBeforeMs !== undefined) jwt.setNotBefore(nowSec + Math.ceil(options.notBeforeMs / 1000));
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(options.secret);
}
