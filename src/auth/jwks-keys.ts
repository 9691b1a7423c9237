import { readFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createLocalJWKSet, type JWTVerifyGetKey } from "jose";
import { AuthKeysUnavailableError } from "../errors/index.ts";

/** Largest JWKS document accepted, bytes: a key set is a few kB; a huge answer is refused, not buffered. */
export const MAX_JWKS_BYTES = 1 << 20;

/** Where a JWK set comes from; `load` resolves to the parsed JSON or rejects with a message naming the source. */
export interface JwksLoader {
  /** `file PATH` or `url URL` (no credentials: the config refuses them), for logs and errors. */
  readonly source: string;
  load(): Promise<unknown>;
}

export type KeyRefresh =
  { readonly ok: true; readonly keys: number } | { readonly ok: false; readonly detail: string };

export interface JwksTiming {
  /** A set loaded longer ago than this is reloaded in the background (the old one serves meanwhile). */
  readonly maxAgeMs: number;
  /** Least time between two load attempts: an unknown `kid` cannot make us hammer the source. */
  readonly cooldownMs: number;
}

/** Counters of key loads (plain numbers; the metrics layer reads them at scrape time). */
export interface KeyLoadCounters {
  keyRefreshes: number;
  keyRefreshFailures: number;
}

/**
 * A cached JWK set with key rotation by `kid`. Loads lazily (no timer: the constructor starts nothing),
 * on the first token, then:
 * - a token whose `kid` is not in the set triggers one reload, at most once per `cooldownMs`
 *   (a newly rotated-in key is picked up at once);
 * - a set older than `maxAgeMs` is reloaded in the background while the old one keeps serving
 *   (a rotated-out key stops verifying after at most one more period);
 * - a failed reload keeps the last good set (an outage of the JWKS host does not log everyone out),
 *   and is counted.
 */
export class JwksKeys {
  #set: ReturnType<typeof createLocalJWKSet> | undefined;
  #keys = 0;
  #loadedAtMs = Number.NEGATIVE_INFINITY;
  #attemptedAtMs = Number.NEGATIVE_INFINITY;
  #pending: Promise<KeyRefresh> | undefined;

  constructor(
    private readonly loader: JwksLoader,
    private readonly timing: JwksTiming,
    private readonly counters: KeyLoadCounters,
    private readonly now: () => number,
  ) {}

  /** jose's key lookup (`jwtVerify(token, keys.getKey, …)`). */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const now = this.now();
    if (this.#set === undefined) {
      if (now - this.#attemptedAtMs >= this.timing.cooldownMs) await this.refresh();
      if (this.#set === undefined)
        throw new AuthKeysUnavailableError(`no key set loaded from ${this.loader.source}`);
    } else if (
      now - this.#loadedAtMs >= this.timing.maxAgeMs &&
      now - this.#attemptedAtMs >= this.timing.cooldownMs
    ) {
      void this.refresh();
    }
    const set = this.#set;
    try {
      return await set(header, token);
    } catch (error) {
      if ((error as { code?: unknown }).code !== "ERR_JWKS_NO_MATCHING_KEY") throw error;
      if (this.now() - this.#attemptedAtMs < this.timing.cooldownMs) throw error;
      await this.refresh();
      return await (this.#set ?? set)(header, token);
    }
  };

  /** Loads the set now (joins a load in progress). Never rejects: a failure is a value, and counted. */
  refresh(): Promise<KeyRefresh> {
    this.#pending ??= this.#load().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** Keys in the current set (0 before the first load). */
  get keyCount(): number {
    return this.#keys;
  }

  async #load(): Promise<KeyRefresh> {
    this.#attemptedAtMs = this.now();
    try {
      const json = await this.loader.load();
      const set = createLocalJWKSet(json as Parameters<typeof createLocalJWKSet>[0]);
      this.#set = set;
      this.#keys = set.jwks().keys.length;
      this.#loadedAtMs = this.now();
      this.counters.keyRefreshes++;
      return { ok: true, keys: this.#keys };
    } catch (error) {
      this.counters.keyRefreshFailures++;
      return { ok: false, detail: `${this.loader.source}: ${(error as Error).message}` };
    }
  }
}

export function jwksFileLoader(path: string): JwksLoader {
  return {
    source: `file ${path}`,
    async load() {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (cause) {
        throw new Error(`cannot be read (${(cause as NodeJS.ErrnoException).code ?? "unknown error"})`, {
          cause,
        });
      }
      return parseJson(text);
    },
  };
}

/**
 * GETs a JWK set over http(s): no redirects followed, no connection kept (agent: false: nothing is left
 * open between refreshes), at most {@link MAX_JWKS_BYTES}, `timeoutMs` for the whole exchange.
 */
export function jwksUrlLoader(url: string, timeoutMs: number): JwksLoader {
  const parsed = new URL(url);
  const request = parsed.protocol === "https:" ? httpsRequest : httpRequest;
  return {
    source: `url ${parsed.origin}${parsed.pathname}`,
    load: () =>
      new Promise<unknown>((resolve, reject) => {
        const req = request(
          parsed,
          { method: "GET", agent: false, headers: { accept: "application/jwk-set+json, application/json" } },
          (res) => {
            readBody(res).then((text) => {
              if (res.statusCode !== 200) reject(new Error(`answered HTTP ${res.statusCode ?? "?"}`));
              else resolve(parseJson(text));
            }, reject);
          },
        );
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", (error) =>
          reject(new Error(`request failed (${errorCode(error)})`, { cause: error })),
        );
        req.end();
      }),
  };
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_JWKS_BYTES) {
        res.destroy(new Error(`answer is larger than ${MAX_JWKS_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new Error("is not JSON", { cause });
  }
}

function errorCode(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message;
}
