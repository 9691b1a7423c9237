import { parseArgs } from "node:util";
import { checkAuthConfig, type AuthConfig } from "../auth/index.ts";
import { ConfigError } from "../errors/index.ts";
import {
  OPTIONS,
  type Config,
  type ConfigOf,
  type KindValue,
  type OptionKind,
  type OptionSpec,
} from "./options.ts";
import { Secret, urlWithoutCredentials } from "./secret.ts";

type AnySpec = OptionSpec<string, string, OptionKind, unknown>;
/** Values resolved so far, by group and key (a value that failed to read is absent). */
type Resolved = Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;

/**
 * Resolves the configuration from flags (highest), then environment variables, then defaults;
 * validates everything and returns a frozen object of frozen groups. The only reader of flags and
 * `process.env`.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  return loadOptions(OPTIONS, argv, env, crossChecks);
}

/** Rules between options of `tickwire serve`, reported with every other problem. */
function crossChecks(resolved: Resolved): string[] {
  const problems: string[] = [];
  const soft = resolved["fanout"]?.["slowSoftBytes"];
  const hard = resolved["fanout"]?.["slowHardBytes"];
  const backpressure = resolved["gateway"]?.["maxBackpressureBytes"];
  if (typeof soft === "number" && typeof hard === "number" && hard <= soft) {
    problems.push("slow-hard-bytes must be above slow-soft-bytes");
  }
  if (typeof backpressure === "number" && typeof hard === "number" && backpressure < hard) {
    problems.push("max-backpressure-bytes must be at least slow-hard-bytes");
  }
  const idle = resolved["gateway"]?.["idleTimeoutMs"];
  const probe = resolved["fanout"]?.["probeIntervalMs"];
  if (
    typeof idle === "number" &&
    typeof probe === "number" &&
    idle >= 8000 &&
    probe > 0 &&
    probe * 4 > idle
  ) {
    // With probes on, uWS sends no pings of its own: the probes' pongs are what keep a quiet client open.
    problems.push(
      "probe-interval-ms must be at most a quarter of idle-timeout-ms (its pongs keep clients open)",
    );
  }
  const auth = resolved["auth"];
  // Only when every auth option could be read (a bad one is reported already).
  if (auth !== undefined && Object.keys(auth).length === 13) {
    problems.push(...checkAuthConfig(auth as unknown as AuthConfig));
  }
  const tls = resolved["tls"];
  if (tls !== undefined && (tls["certFile"] === undefined) !== (tls["keyFile"] === undefined)) {
    problems.push("--tls-cert and --tls-key go together (both or neither)");
  }
  problems.push(...natsSecurityChecks(resolved));
  return problems;
}

/**
 * Rules between the NATS TLS and credential options ({@link NATS_SECURITY_OPTIONS}), for every command
 * that takes them (`serve`, `history`).
 */
export function natsSecurityChecks(resolved: Resolved): string[] {
  const problems: string[] = [];
  const nats = resolved["nats"];
  if (nats !== undefined) {
    if ((nats["tlsCertFile"] === undefined) !== (nats["tlsKeyFile"] === undefined)) {
      problems.push("--nats-tls-cert and --nats-tls-key go together (both or neither)");
    }
    const password = nats["password"] as Secret | undefined;
    if ((nats["user"] === undefined) !== (password?.isSet !== true)) {
      problems.push("--nats-user and --nats-password go together (both or neither)");
    }
    const ways = [
      nats["user"] !== undefined ? "--nats-user" : undefined,
      (nats["token"] as Secret | undefined)?.isSet === true ? "--nats-token" : undefined,
      nats["nkeySeedFile"] !== undefined ? "--nats-nkey-seed-file" : undefined,
      nats["credsFile"] !== undefined ? "--nats-creds-file" : undefined,
    ].filter((way) => way !== undefined);
    if (ways.length > 1) problems.push(`NATS credentials: use one of ${ways.join(", ")}, not several`);
  }
  return problems;
}

/**
 * Resolves any option table (the serve options, or a test's own table): flags, then variables, then
 * defaults; every problem at once in a {@link ConfigError}, each naming the flag or variable (a secret's
 * value is never quoted).
 */
export function loadOptions<const Specs extends readonly AnySpec[]>(
  specs: Specs,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  extraChecks: (resolved: Resolved) => readonly string[] = () => [],
): ConfigOf<Specs> {
  const problems: string[] = [];
  // Non-strict parse so that an unknown flag is reported together with every other problem.
  const { values, tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      specs.map((o) => [o.flag, { type: o.kind === "boolean" ? ("boolean" as const) : ("string" as const) }]),
    ),
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
  });
  const byFlag = new Map(specs.map((o) => [o.flag, o]));
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token?.kind === "option" && !byFlag.has(token.name)) {
      problems.push(`unknown option ${token.rawName} (see tickwire --help)`);
      // `--bogus 1`: the "1" belongs to the unknown option, not a separate problem.
      if (token.value === undefined && tokens[i + 1]?.kind === "positional") i++;
    } else if (
      token?.kind === "option" &&
      byFlag.get(token.name)?.kind !== "boolean" &&
      typeof values[token.name] !== "string"
    ) {
      problems.push(`${token.rawName} needs a value (see tickwire --help)`);
    } else if (token?.kind === "positional") {
      problems.push(`unexpected argument "${token.value}" (see tickwire --help)`);
    }
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const fromFlag = values[spec.flag];
    const envName = spec.env.find((name) => env[name] !== undefined && env[name] !== "");
    const raw =
      fromFlag !== undefined ? fromFlag : envName !== undefined ? (env[envName] as string) : undefined;
    const source = fromFlag !== undefined ? `--${spec.flag}` : (envName ?? "default");
    const shown = spec.kind === "secret" ? Secret.REDACTED : JSON.stringify(raw ?? spec.default);
    const read = readKind(spec.kind, raw ?? spec.default);
    if (typeof read === "string") {
      problems.push(`${source}=${shown}: ${read} (${spec.unit})`);
      continue;
    }
    const problem = spec.check?.(read.value);
    if (problem !== undefined) problems.push(`${source}=${shown}: ${problem}`);
    const group = (out[spec.group] ??= {});
    group[spec.key] = spec.parse === undefined ? read.value : spec.parse(read.value);
  }
  problems.push(...extraChecks(out));
  if (problems.length > 0) throw new ConfigError(problems);
  for (const group of Object.values(out)) Object.freeze(group);
  return Object.freeze(out) as ConfigOf<Specs>;
}

/** Reads a raw flag, variable or default as its kind; a string is the problem when it cannot. */
function readKind<K extends OptionKind>(
  kind: K,
  raw: string | number | boolean,
): { readonly value: KindValue[K] } | string {
  const text = String(raw);
  switch (kind) {
    case "integer":
      return /^\s*-?\d+\s*$/.test(text) ? { value: Number(text) as KindValue[K] } : "must be an integer";
    case "boolean": {
      const word = text.trim().toLowerCase();
      if (["true", "1", "yes"].includes(word)) return { value: true as KindValue[K] };
      if (["false", "0", "no"].includes(word)) return { value: false as KindValue[K] };
      return "must be true or false";
    }
    case "list":
      return {
        value: text
          .split(",")
          .map((item) => item.trim())
          .filter((item) => item !== "") as unknown as KindValue[K],
      };
    case "secret":
      // Not trimmed: a passphrase is taken exactly as given.
      return { value: new Secret(text) as KindValue[K] };
    case "string":
    case "path":
      return { value: text.trim() as KindValue[K] };
  }
  return "unknown kind";
}

/**
 * A copy of a resolved configuration that is safe to log: every `secret` option's value replaced by
 * `[redacted]` (the {@link Secret} wrapper already prints so; this makes the log line plain JSON), and
 * every `url` option's URLs without the credentials they may carry.
 */
export function redactedConfig(
  config: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  specs: readonly AnySpec[] = OPTIONS,
): Record<string, Record<string, unknown>> {
  const copy: Record<string, Record<string, unknown>> = {};
  for (const [group, values] of Object.entries(config)) copy[group] = { ...values };
  for (const spec of specs) {
    const group = copy[spec.group];
    if (group === undefined || !(spec.key in group)) continue;
    if (spec.kind === "secret") group[spec.key] = Secret.REDACTED;
    else if (spec.unit === "url") group[spec.key] = mapStrings(group[spec.key], urlWithoutCredentials);
  }
  return copy;
}

/**
 * The configuration as short readable lines, one per group (`gateway: host=127.0.0.1 port=9000 …`), safe
 * to log like {@link redactedConfig}: the start-up summary of the text log format.
 */
export function configSummary(
  config: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  specs: readonly AnySpec[] = OPTIONS,
): string[] {
  const show = (value: unknown): string => {
    if (Array.isArray(value)) return value.map(show).join(",");
    if (typeof value === "object" && value !== null) return Object.values(value).map(show).join(" ");
    return String(value);
  };
  return Object.entries(redactedConfig(config, specs)).map(
    ([group, values]) =>
      `${group}: ${Object.entries(values)
        .map(([key, value]) => `${key}=${show(value)}`)
        .join(" ")}`,
  );
}

/** `value` with every string in it (in arrays and plain objects too) passed through `map`. */
function mapStrings(value: unknown, map: (text: string) => string): unknown {
  if (typeof value === "string") return map(value);
  if (Array.isArray(value)) return value.map((item: unknown) => mapStrings(item, map));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, map)]));
  }
  return value;
}

/** `tickwire serve --help` text: every option with flag, variables, unit and default (secrets redacted). */
export function helpText(specs: readonly AnySpec[] = OPTIONS): string {
  const lines = [
    "Usage: tickwire serve [options]",
    "",
    "Live market-data fan-out: NATS md.<venue>.<symbol>.<type> → WebSocket clients (ws://HOST:PORT/v1/stream).",
    "Each option is also read from the environment variable shown; flags win over variables.",
    "",
    "Options:",
  ];
  for (const o of specs) {
    lines.push(`  --${o.flag} <${o.unit}>`);
    lines.push(`      ${o.help}`);
    lines.push(`      env: ${o.env.join(", ")}; default: ${defaultText(o)}`);
  }
  return lines.join("\n");
}

function defaultText(o: AnySpec): string {
  if (o.kind === "secret") return o.default === "" ? '"" (unset)' : Secret.REDACTED;
  if (o.default === "") return o.flag === "nats" ? '"" (embedded)' : '""';
  return String(o.default);
}
