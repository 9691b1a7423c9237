/**
 * Why a token was refused: a small fixed set, usable as a metric label (never a topic, a `sub` or
 * token text). proto/PROTOCOL.md lists them under the `auth` request.
 */
export const AUTH_REFUSAL_REASONS = [
  /** Not a string, longer than {@link MAX_TOKEN_LENGTH}, or not a compact JWS with a JSON claims object. */
  "malformed",
  /** The header's `alg` is not in the allow-list (`none` never is; HS* never is with public keys, and the reverse). */
  "bad_algorithm",
  /** The signature does not verify with the configured key (tampered, or signed with another key). */
  "bad_signature",
  /** No configured key matches the token's `kid`/`alg`, even after a JWKS refresh. */
  "no_key",
  /** The JWKS could not be loaded and no earlier copy is cached. */
  "keys_unavailable",
  /** `exp` is past (beyond the clock tolerance). */
  "expired",
  /** `nbf` is in the future (beyond the clock tolerance). */
  "not_yet_valid",
  /** `iss` is not the configured issuer. */
  "wrong_issuer",
  /** `aud` does not name the configured audience. */
  "wrong_audience",
  /** A required claim (`sub`, `exp`, `tw`) is missing or invalid, e.g. a bad pattern in `tw.topics`. */
  "bad_claims",
  /** A refresh (`auth` on an authenticated connection) with a token for another `sub`. */
  "sub_changed",
] as const;
export type AuthRefusalReason = (typeof AUTH_REFUSAL_REASONS)[number];

/** Longest token accepted, in characters; longer ones are refused as `malformed` before any decoding. */
export const MAX_TOKEN_LENGTH = 8192;
