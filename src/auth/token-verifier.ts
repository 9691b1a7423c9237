import { webcrypto } from "node:crypto";
import { importSPKI, jwtVerify, type CryptoKey, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { checkAuthConfig, isHmac, type AuthConfig, type JwtAlgorithm } from "./auth-config.ts";
import { AuthConfigError, TickwireErrorCode } from "../errors/index.ts";
import { JwksKeys, jwksFileLoader, jwksUrlLoader, type KeyRefresh } from "./jwks-keys.ts";
import { JWKS_ALGORITHMS, loadPublicKeyFile, loadSecretFile } from "./key-files.ts";
import { MAX_TOKEN_LENGTH, type AuthRefusalReason } from "./reasons.ts";
import { AuthStats } from "./stats.ts";
import { parseClaims, type Identity } from "./tw-claim.ts";

export type VerifyResult =
  | { readonly ok: true; readonly identity: Identity }
  | {
      readonly ok: false;
      readonly reason: AuthRefusalReason;
      /** Why, in words the token's holder may see (an `auth` error's `msg`); never token or key text. */
      readonly detail: string;
    };

/**
 * Verifies tokens for `--auth jwt`. Build it with {@link createTokenVerifier} (reads the key files, so
 * start-up problems surface there); `verify` never throws for a bad token: it returns a refusal reason,
 * counted in `stats`.
 */
export class TokenVerifier {
  readonly stats: AuthStats;
  readonly #options: JWTVerifyOptions;

  constructor(
    private readonly key: JWTVerifyGetKey,
    /** The allow-list, already checked against the key type. */
    readonly algorithms: readonly JwtAlgorithm[],
    private readonly config: AuthConfig,
    private readonly jwks: JwksKeys | undefined,
    stats: AuthStats,
    /** One-line description for the start-up log (no secret). */
    readonly description: string,
    private readonly now: () => number,
  ) {
    this.stats = stats;
    this.#options = {
      algorithms: [...algorithms],
      requiredClaims: ["sub", "exp"],
      clockTolerance: config.jwtClockToleranceMs / 1000,
      ...(config.jwtIssuer !== undefined && config.jwtIssuer !== "" ? { issuer: config.jwtIssuer } : {}),
      ...(config.jwtAudience !== undefined && config.jwtAudience !== ""
        ? { audience: config.jwtAudience }
        : {}),
    };
  }

  /**
   * Checks signature, `alg`, `exp`, `nbf`, `iss`, `aud` and the `tw` claim; with `expectedSub` (a
   * refresh), also that the token is for that `sub` (else `sub_changed`).
   */
  async verify(token: unknown, expectedSub?: string): Promise<VerifyResult> {
    if (typeof token !== "string" || token.length === 0)
      return this.#refuse("malformed", "token must be a non-empty string");
    if (token.length > MAX_TOKEN_LENGTH) {
      return this.#refuse("malformed", `token is longer than ${MAX_TOKEN_LENGTH} characters`);
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        ...this.#options,
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      const [reason, detail] = classify(error);
      return this.#refuse(reason, detail);
    }
    const claims = parseClaims(payload);
    if (!claims.ok) return this.#refuse("bad_claims", claims.detail);
    if (expectedSub !== undefined && claims.identity.sub !== expectedSub) {
      return this.#refuse("sub_changed", "sub differs from the connection's");
    }
    this.stats.accepted++;
    return { ok: true, identity: claims.identity };
  }

  /** Reloads a JWKS now (for SIGHUP or start-up); a no-op success for a secret or a PEM key. */
  refreshKeys(): Promise<KeyRefresh> {
    return this.jwks?.refresh() ?? Promise.resolve({ ok: true, keys: 1 });
  }

  /** The configured `--auth-timeout-ms`, for the control plane. */
  get authTimeoutMs(): number {
    return this.config.authTimeoutMs;
  }

  #refuse(reason: AuthRefusalReason, detail: string): VerifyResult {
    this.stats.refused[reason]++;
    return { ok: false, reason, detail };
  }
}

/** Maps jose's errors (by their stable `code`) to a refusal reason and a message safe to show. */
function classify(error: unknown): [AuthRefusalReason, string] {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return ["malformed", message];
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return ["bad_algorithm", message];
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return ["bad_signature", "signature verification failed"];
    case "ERR_JWT_EXPIRED":
      return ["expired", "token has expired"];
    case "ERR_JWKS_NO_MATCHING_KEY":
      return ["no_key", "no key matches the token's kid and alg"];
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return ["no_key", "several keys match a token without kid (issue tokens with kid)"];
    case TickwireErrorCode.AUTH_KEYS_UNAVAILABLE:
      return ["keys_unavailable", "the key set is not available (try again later)"];
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const claim = (error as { claim?: unknown }).claim;
      if (claim === "nbf") return ["not_yet_valid", "token is not valid yet (nbf)"];
      if (claim === "iss") return ["wrong_issuer", "unexpected iss"];
      if (claim === "aud") return ["wrong_audience", "unexpected aud"];
      return ["bad_claims", message];
    }
    default:
      // jose throws TypeError for a key unusable with the header's alg (e.g. a JWK of another type):
      // the token asked for something this key cannot do.
      if (error instanceof TypeError) return ["bad_algorithm", message];
      return ["malformed", message];
  }
}

export interface VerifierHooks {
  /** Clock, ms since the epoch (tests move it; default Date.now). */
  readonly now?: () => number;
}

/**
 * Builds the verifier of a `--auth jwt` configuration: checks it, reads the secret or public key file
 * (a JWKS is loaded on first use or by `refreshKeys()`). Throws {@link AuthConfigError} or
 * AuthKeyError (see docs/errors.md), whose messages never carry key material.
 */
export async function createTokenVerifier(
  config: AuthConfig,
  hooks: VerifierHooks = {},
): Promise<TokenVerifier> {
  const problems = checkAuthConfig(config);
  if (config.mode !== "jwt") problems.push("a token verifier needs --auth jwt");
  if (problems.length > 0) throw new AuthConfigError(problems);
  const now = hooks.now ?? Date.now;
  const stats = new AuthStats();
  const checks: string[] = [];
  if (config.jwtIssuer !== undefined && config.jwtIssuer !== "") checks.push(`iss=${config.jwtIssuer}`);
  if (config.jwtAudience !== undefined && config.jwtAudience !== "") checks.push(`aud=${config.jwtAudience}`);
  const withChecks = (text: string): string => [text, ...checks].join(", ");

  if (config.jwtSecretFile !== undefined && config.jwtSecretFile !== "") {
    const secret = await loadSecretFile(config.jwtSecretFile);
    const algorithms = allowList(config, ["HS256"], ["HS256", "HS384", "HS512"]);
    const raw = secret.export();
    const keys = await keysByAlgorithm(algorithms, (alg) =>
      webcrypto.subtle.importKey("raw", raw, { name: "HMAC", hash: `SHA-${alg.slice(2)}` }, false, [
        "verify",
      ]),
    );
    return new TokenVerifier(
      keys,
      algorithms,
      config,
      undefined,
      stats,
      withChecks(
        `jwt ${algorithms.join(",")} with the secret in ${config.jwtSecretFile} (${secret.symmetricKeySize ?? 0} bytes)`,
      ),
      now,
    );
  }
  if (config.jwtPublicKeyFile !== undefined && config.jwtPublicKeyFile !== "") {
    const file = await loadPublicKeyFile(config.jwtPublicKeyFile);
    const algorithms = allowList(config, file.algorithms, file.algorithms, file.description);
    const spki = file.key.export({ type: "spki", format: "pem" }) as string;
    const keys = await keysByAlgorithm(algorithms, (alg) => importSPKI(spki, alg));
    return new TokenVerifier(
      keys,
      algorithms,
      config,
      undefined,
      stats,
      withChecks(
        `jwt ${algorithms.join(",")} with the ${file.description} public key in ${config.jwtPublicKeyFile}`,
      ),
      now,
    );
  }
  const loader =
    config.jwksUrl !== undefined && config.jwksUrl !== ""
      ? jwksUrlLoader(config.jwksUrl, config.jwksTimeoutMs)
      : jwksFileLoader(config.jwksFile as string);
  const jwks = new JwksKeys(
    loader,
    { maxAgeMs: config.jwksMaxAgeMs, cooldownMs: config.jwksCooldownMs },
    stats,
    now,
  );
  const algorithms = allowList(config, JWKS_ALGORITHMS, JWKS_ALGORITHMS);
  return new TokenVerifier(
    jwks.getKey,
    algorithms,
    config,
    jwks,
    stats,
    withChecks(`jwt ${algorithms.join(",")} with the JWKS at ${loader.source}`),
    now,
  );
}

/**
 * One CryptoKey per allowed algorithm, imported once at start-up: WebCrypto keys are bound to an
 * algorithm, and jose would otherwise convert a Node KeyObject on every verification (bench/results/
 * *-jwt-verify.md: the conversion cost more than the HS256 check itself).
 */
async function keysByAlgorithm(
  algorithms: readonly JwtAlgorithm[],
  importKey: (alg: JwtAlgorithm) => Promise<CryptoKey>,
): Promise<JWTVerifyGetKey> {
  const keys = new Map<string, CryptoKey>();
  for (const alg of algorithms) keys.set(alg, await importKey(alg));
  return (header) => {
    const key = keys.get(header.alg ?? "");
    // Unreachable: jose checks the allow-list before asking for a key.
    if (key === undefined) throw new TypeError(`no key for alg ${header.alg ?? "(none)"}`);
    return key;
  };
}

/** The configured allow-list, or the default; refuses algorithms the key cannot verify. */
function allowList(
  config: AuthConfig,
  defaults: readonly JwtAlgorithm[],
  supported: readonly JwtAlgorithm[],
  keyDescription?: string,
): JwtAlgorithm[] {
  const configured = config.jwtAlgorithms;
  if (configured === undefined) return [...defaults];
  const unsupported = configured.filter((alg) => !(supported as readonly string[]).includes(alg));
  if (unsupported.length > 0) {
    const what =
      keyDescription !== undefined
        ? `the ${keyDescription} key`
        : isHmac(supported[0] ?? "")
          ? "an HMAC secret"
          : "a JWKS";
    throw new AuthConfigError([
      `--jwt-algorithms ${unsupported.join(",")} cannot be verified with ${what} (it verifies ${supported.join(", ")})`,
    ]);
  }
  return configured as JwtAlgorithm[];
}
