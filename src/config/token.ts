import { parseArgs } from "node:util";
import { ConfigError } from "../errors/index.ts";

/** Resolved options of `tickwire token` (HS256 test tokens, docs/SECURITY.md "Issuing tokens"). */
export interface TokenCommandConfig {
  readonly secretFile: string;
  readonly sub: string;
  /** Granted patterns (`tw.topics`), at least one. */
  readonly topics: readonly string[];
  readonly maxHz: number | undefined;
  readonly maxConnections: number | undefined;
  /** Lifetime, ms. */
  readonly ttlMs: number;
  readonly issuer: string | undefined;
  readonly audience: string | undefined;
}

export const TOKEN_USAGE = `Usage: tickwire token --jwt-secret-file PATH --sub USER --topic PATTERN... [options]

Prints an HS256 token for a gateway running --auth jwt --jwt-secret-file PATH (tests, load tests, demos;
production tokens come from your identity provider: docs/SECURITY.md).

Options:
  --jwt-secret-file <path>   the gateway's HMAC secret file (env TICKWIRE_JWT_SECRET_FILE)
  --sub <user>               the token's subject
  --topic <pattern>          a granted pattern (tw.topics); repeat for more
  --max-hz <n>               tw.maxHz: cap on every subscription
  --max-connections <n>      tw.maxConnections: connections of this sub per node
  --ttl-ms <ms>              lifetime (default 3600000)
  --issuer <iss>             iss claim (match --jwt-issuer)
  --audience <aud>           aud claim (match --jwt-audience)
  -h, --help                 this help
`;

/** Parses `tickwire token` arguments; every problem at once in a {@link ConfigError}. */
export function loadTokenConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Readonly<TokenCommandConfig> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        "jwt-secret-file": { type: "string" },
        sub: { type: "string" },
        topic: { type: "string", multiple: true },
        "max-hz": { type: "string" },
        "max-connections": { type: "string" },
        "ttl-ms": { type: "string" },
        issuer: { type: "string" },
        audience: { type: "string" },
      },
    });
  } catch (error) {
    throw new ConfigError([`${(error as Error).message} (see tickwire token --help)`]);
  }
  const { values } = parsed;
  const problems: string[] = [];
  const secretFile = values["jwt-secret-file"] ?? env["TICKWIRE_JWT_SECRET_FILE"] ?? "";
  if (secretFile === "") problems.push("--jwt-secret-file is needed");
  const sub = values.sub ?? "";
  if (sub === "") problems.push("--sub is needed");
  const topics = values.topic ?? [];
  if (topics.length === 0) problems.push("at least one --topic is needed, e.g. --topic 'xnas.>'");
  const num = (flag: string, raw: string | undefined, integer: boolean): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      problems.push(`${flag}=${JSON.stringify(raw)}: must be a ${integer ? "whole " : ""}number above 0`);
      return undefined;
    }
    return n;
  };
  const maxHz = num("--max-hz", values["max-hz"], false);
  const maxConnections = num("--max-connections", values["max-connections"], true);
  const ttlMs = num("--ttl-ms", values["ttl-ms"], true) ?? 3_600_000;
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    secretFile,
    sub,
    topics,
    maxHz,
    maxConnections,
    ttlMs,
    issuer: values.issuer,
    audience: values.audience,
  });
}
