export {
  ASYMMETRIC_ALGORITHMS,
  AUTH_DEFAULTS,
  AUTH_MODES,
  HMAC_ALGORITHMS,
  MIN_SECRET_BYTES,
  checkAuthConfig,
  type AuthConfig,
  type AuthMode,
  type JwtAlgorithm,
} from "./auth-config.ts";
export { MAX_JWKS_BYTES, type KeyRefresh } from "./jwks-keys.ts";
export { loadSecretFile } from "./key-files.ts";
export { mintTestToken, type MintOptions } from "./mint.ts";
export { AUTH_REFUSAL_REASONS, MAX_TOKEN_LENGTH, type AuthRefusalReason } from "./reasons.ts";
export { redactToken } from "./redact.ts";
export { AUTH_METRICS, AuthStats } from "./stats.ts";
export {
  TokenVerifier,
  createTokenVerifier,
  type VerifierHooks,
  type VerifyResult,
} from "./token-verifier.ts";
export {
  MAX_GRANT_CONNECTIONS,
  MAX_GRANT_PATTERNS,
  MAX_SUB_LENGTH,
  parseClaims,
  type Grants,
  type Identity,
} from "./tw-claim.ts";
