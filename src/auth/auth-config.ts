/** `--auth`: `none` lets anyone connected read every topic; `jwt` requires a token granting topics. */
export const AUTH_MODES = ["none", "jwt"] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** HMAC algorithms: verified with `--jwt-secret-file`, never with a public key. */
export const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
/** Public-key algorithms: verified with `--jwt-public-key-file`, `--jwks-file` or `--jwks-url`. */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;
export type JwtAlgorithm = (typeof HMAC_ALGORITHMS)[number] | (typeof ASYMMETRIC_ALGORITHMS)[number];

/**
 * The `auth` option group (flags `--auth`, `--jwt-*`, `--jwks-*`; variables `TICKWIRE_AUTH`,
 * `TICKWIRE_JWT_*`, `TICKWIRE_JWKS_*`). The flag names are a contract with operators (issue 13).
 * Exactly one key source is set when `mode` is `jwt`.
 */
export interface AuthConfig {
  readonly mode: AuthMode;
  /** `--jwt-secret-file PATH`: HMAC secret (HS*), the file's bytes less trailing whitespace, ≥ 32 bytes. */
  readonly jwtSecretFile?: string | undefined;
  /** `--jwt-public-key-file PATH`: one PEM public key (SPKI) or X.509 certificate (RS*, PS*, ES*, EdDSA). */
  readonly jwtPublicKeyFile?: string | undefined;
  /** `--jwks-file PATH`: a JWK set; re-read like a URL (on an unknown `kid`, and after `jwksMaxAgeMs`). */
  readonly jwksFile?: string | undefined;
  /** `--jwks-url URL`: https (http only to a loopback host); cached, refreshed, keys picked by `kid`. */
  readonly jwksUrl?: string | undefined;
  /** `--jwt-issuer`: required `iss`; unset means not checked. */
  readonly jwtIssuer?: string | undefined;
  /** `--jwt-audience`: `aud` must name it; unset means not checked. */
  readonly jwtAudience?: string | undefined;
  /**
   * `--jwt-algorithms` (comma list): the allow-list. Unset: HS256 with a secret; every algorithm the
   * key type supports with a PEM key; every public-key algorithm with a JWKS. `none` is never accepted.
   */
  readonly jwtAlgorithms?: readonly string[] | undefined;
  /** `--jwt-clock-tolerance-ms`: leeway on `exp` and `nbf` for clock skew, ms (default 30000). */
  readonly jwtClockToleranceMs: number;
  /** `--jwks-max-age-ms`: a cached JWK set older than this is refreshed in the background, ms (default 600000). */
  readonly jwksMaxAgeMs: number;
  /** `--jwks-cooldown-ms`: least time between two JWKS loads (an unknown `kid` triggers one), ms (default 30000). */
  readonly jwksCooldownMs: number;
  /** `--jwks-timeout-ms`: longest wait for a JWKS URL's answer, ms (default 5000). */
  readonly jwksTimeoutMs: number;
  /** `--auth-timeout-ms`: a `jwt` connection without a valid token by then is closed with 4001, ms (default 10000). Used by the control plane, not the verifier. */
  readonly authTimeoutMs: number;
}

/** Defaults of the numeric options, ms. */
export const AUTH_DEFAULTS = {
  jwtClockToleranceMs: 30_000,
  jwksMaxAgeMs: 600_000,
  jwksCooldownMs: 30_000,
  jwksTimeoutMs: 5_000,
  authTimeoutMs: 10_000,
} as const;

/** Shortest HMAC secret accepted, bytes (RFC 7518 §3.2: at least the hash size; 32 for HS256). */
export const MIN_SECRET_BYTES = 32;

/**
 * Every problem of an auth configuration at once (empty when usable), each naming the option: for the
 * config loader, which reports them with the rest. Does not read files (see createTokenVerifier).
 */
export function checkAuthConfig(config: AuthConfig): string[] {
  const problems: string[] = [];
  if (!(AUTH_MODES as readonly string[]).includes(config.mode)) {
    problems.push(`--auth must be one of ${AUTH_MODES.join(", ")}, got "${String(config.mode)}"`);
  }
  for (const [key, flag] of [
    ["jwtClockToleranceMs", "--jwt-clock-tolerance-ms"],
    ["jwksMaxAgeMs", "--jwks-max-age-ms"],
    ["jwksCooldownMs", "--jwks-cooldown-ms"],
    ["jwksTimeoutMs", "--jwks-timeout-ms"],
    ["authTimeoutMs", "--auth-timeout-ms"],
  ] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 0) problems.push(`${flag} must be a whole number of ms ≥ 0`);
  }
  const sources = [
    ["--jwt-secret-file", config.jwtSecretFile],
    ["--jwt-public-key-file", config.jwtPublicKeyFile],
    ["--jwks-file", config.jwksFile],
    ["--jwks-url", config.jwksUrl],
  ].filter(([, value]) => value !== undefined && value !== "");
  if (config.mode === "none") {
    if (sources.length > 0) {
      problems.push(`${sources.map(([flag]) => flag).join(", ")} given but --auth is none (use --auth jwt)`);
    }
    return problems;
  }
  if (sources.length !== 1) {
    problems.push(
      sources.length === 0
        ? "--auth jwt needs one key source: --jwt-secret-file, --jwt-public-key-file, --jwks-file or --jwks-url"
        : `--auth jwt takes exactly one key source, got ${sources.map(([flag]) => flag).join(" and ")}`,
    );
  }
  if (config.jwksUrl !== undefined && config.jwksUrl !== "") problems.push(...checkJwksUrl(config.jwksUrl));
  const algorithms = config.jwtAlgorithms;
  if (algorithms !== undefined) {
    if (algorithms.length === 0) problems.push("--jwt-algorithms is empty");
    for (const alg of algorithms) {
      if (alg.toLowerCase() === "none") {
        problems.push('--jwt-algorithms must not contain "none" (unsigned tokens are never accepted)');
      } else if (!isJwtAlgorithm(alg)) {
        problems.push(
          `--jwt-algorithms: unknown algorithm "${alg}" (known: ${[...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS].join(", ")})`,
        );
      }
    }
    const hmac = algorithms.filter(isHmac);
    const asymmetric = algorithms.filter((alg) => isJwtAlgorithm(alg) && !isHmac(alg));
    // Algorithm confusion (RFC 8725 §2.1): a public key must never be usable as an HMAC secret.
    if (config.jwtSecretFile !== undefined && asymmetric.length > 0) {
      problems.push(
        `--jwt-algorithms ${asymmetric.join(",")} need a public key, but --jwt-secret-file gives an HMAC secret (HS256, HS384, HS512 only)`,
      );
    }
    if (config.jwtSecretFile === undefined && sources.length > 0 && hmac.length > 0) {
      problems.push(
        `--jwt-algorithms ${hmac.join(",")} are HMAC algorithms: they need --jwt-secret-file, never a public key or JWKS`,
      );
    }
  }
  return problems;
}

function checkJwksUrl(raw: string): string[] {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return ["--jwks-url is not a URL"];
  }
  if (url.username !== "" || url.password !== "") {
    return ["--jwks-url must not carry credentials (user:password@)"];
  }
  if (url.protocol === "https:") return [];
  const loopback = ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
  if (url.protocol === "http:" && loopback) return [];
  // Keys fetched over plain http can be replaced in transit, and with them every token's meaning.
  return [`--jwks-url must be https (http only to a loopback host), got ${url.protocol}//${url.host}`];
}

export function isJwtAlgorithm(alg: string): alg is JwtAlgorithm {
  return (
    (HMAC_ALGORITHMS as readonly string[]).includes(alg) ||
    (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)
  );
}

export function isHmac(alg: string): alg is (typeof HMAC_ALGORITHMS)[number] {
  return (HMAC_ALGORITHMS as readonly string[]).includes(alg);
}
