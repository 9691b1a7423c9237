import { InvalidArgumentError } from "./errors.ts";

/** Where a client's token comes from: a fixed string, or a function called when one is needed. */
export interface TokenSource {
  readonly token?: string | undefined;
  readonly getToken?: (() => string | Promise<string>) | undefined;
  /** Refresh this long before `exp` (default 30000 ms). */
  readonly refreshBeforeExpiryMs?: number | undefined;
}

/** The `auth` result (PROTOCOL.md "auth"): who the gateway took us for and what we may read. */
export interface AuthResult {
  readonly sub: string;
  /** Token expiry, seconds since the epoch. */
  readonly exp: number;
  readonly grants: {
    readonly topics: readonly string[];
    readonly maxHz?: number;
    readonly maxConnections?: number;
  };
  /** Patterns a refresh removed (no longer covered by the new grants). */
  readonly removed: readonly string[];
}

/**
 * A client's token: cached with its expiry, so `getToken()` is called when a token is needed (first
 * connection, near expiry, after a refusal) and not on every reconnect. Two refusals in a row, or one
 * with a fixed token, mean that retrying cannot help: the client then stops instead of reconnecting in a loop.
 */
export class TokenKeeper {
  #cached: string | undefined;
  /** Expiry of the cached token, ms since the epoch (from the gateway's `auth` result). */
  #expiresAtMs = Number.POSITIVE_INFINITY;
  #refusedInARow = 0;
  readonly refreshBeforeMs: number;

  constructor(private readonly source: TokenSource) {
    if (source.token !== undefined && source.getToken !== undefined) {
      throw new InvalidArgumentError("give token or getToken, not both");
    }
    if (source.token !== undefined && (typeof source.token !== "string" || source.token === "")) {
      throw new InvalidArgumentError("token must be a non-empty string");
    }
    this.refreshBeforeMs = source.refreshBeforeExpiryMs ?? 30_000;
    this.#cached = source.token;
  }

  /** Whether a new token can be obtained (a `getToken` function was given). */
  get renewable(): boolean {
    return this.source.getToken !== undefined;
  }

  /** The token to send now: the cached one unless it is about to expire, else a fresh one. */
  async current(nowMs: number = Date.now()): Promise<string> {
    const fresh = this.#cached !== undefined && this.#expiresAtMs - this.refreshBeforeMs > nowMs;
    if (fresh || !this.renewable) return this.#cached as string;
    return this.renew();
  }

  /** A new token from `getToken()` (for a refresh before `exp`). */
  async renew(): Promise<string> {
    const getToken = this.source.getToken;
    if (getToken === undefined) return this.#cached as string;
    const token = await getToken();
    if (typeof token !== "string" || token === "")
      throw new InvalidArgumentError("getToken() must return a non-empty string");
    this.#cached = token;
    this.#expiresAtMs = Number.POSITIVE_INFINITY;
    return token;
  }

  /** The gateway accepted the token; returns when to refresh it, ms from now (undefined: never). */
  accepted(result: AuthResult, nowMs: number = Date.now()): number | undefined {
    this.#refusedInARow = 0;
    this.#expiresAtMs = result.exp * 1000;
    if (!this.renewable) return undefined;
    return Math.max(0, this.#expiresAtMs - this.refreshBeforeMs - nowMs);
  }

  /** The gateway refused the token (or closed for expiry): true when getting another one may help. */
  refused(): boolean {
    this.#refusedInARow++;
    if (this.renewable) this.#cached = undefined;
    return this.renewable && this.#refusedInARow < 2;
  }
}

/** The `reason` word of a 4001 close reason (JSON `{"msg":…,"reason":"expired"}`), or "" when absent. */
export function closeReasonWord(text: string): string {
  try {
    const value = JSON.parse(text) as { reason?: unknown };
    return typeof value.reason === "string" ? value.reason : "";
  } catch {
    return "";
  }
}
