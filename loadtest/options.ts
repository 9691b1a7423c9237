/**
 * Every flag of `tickwire-loadtest`, with unit, default and meaning: one table drives parsing,
 * validation and `--help`. Problems are reported all at once, naming the flag and what was expected.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

type Kind = "number" | "string" | "boolean";
interface OptionSpec<K extends Kind> {
  readonly kind: K;
  readonly group: string;
  readonly unit: string;
  readonly help: string;
  /** Allowed values of a string option. */
  readonly choices?: readonly string[];
  /** Inclusive range of a number option. */
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}
const num = (group: string, unit: string, help: string, extra: Partial<OptionSpec<"number">> = {}) =>
  ({ kind: "number", group, unit, help, min: 0, ...extra }) as const;
const str = (group: string, unit: string, help: string, choices?: readonly string[]) =>
  ({ kind: "string", group, unit, help, ...(choices === undefined ? {} : { choices }) }) as const;
const bool = (group: string, help: string) => ({ kind: "boolean", group, unit: "true|false", help }) as const;

/** Defaults: the reference workload of the side-by-side (1000 clients × 10 of 100 topics). */
export const DEFAULTS = {
  url: "",
  jwtSecretFile: "",
  nats: "",
  natsMonitorUrl: "",
  subjectPrefix: "md",
  encoding: "msgpack",
  adapter: "tickwire",
  serverPid: 0,
  gatewayArgs: "",
  clients: 1000,
  workers: 0,
  rampS: 2,
  connectConcurrency: 256,
  connectTimeoutS: 60,
  sourceAddresses: "",
  snapshot: true,
  venue: "xload",
  symbols: 100,
  types: "quote",
  topicsPerClient: 10,
  skew: 0,
  wildcardShare: 0,
  maxHzShare: 0,
  maxHz: 10,
  seed: 1,
  rate: 1000,
  messages: 0,
  feedBytes: 0,
  warmupS: 2,
  durationS: 10,
  drainS: 5,
  settleMs: 500,
  slowShare: 0,
  slowMode: "throttle",
  slowDuty: 0.1,
  churnPerS: 0,
  stormAtS: 0,
  stormShare: 0.5,
  reconnect: true,
  // Outside the working tree, so a run leaves nothing for git, ESLint or Prettier to trip on.
  outDir: join(tmpdir(), "tickwire-loadtest"),
  name: "",
  progress: "auto",
} as const;

type Widen<T> = T extends number ? number : T extends string ? string : T extends boolean ? boolean : T;
/** The resolved, frozen options of one run. */
export type LoadTestOptions = { readonly [K in keyof typeof DEFAULTS]: Widen<(typeof DEFAULTS)[K]> };

export const OPTIONS: { readonly [K in keyof typeof DEFAULTS]: OptionSpec<Kind> } = {
  url: str(
    "target",
    "url",
    "ws:// or wss:// URL of the target; empty = start nats-server and a tickwire gateway locally",
  ),
  jwtSecretFile: str(
    "target",
    "path",
    "a target running --auth jwt with this HS256 secret: each client gets its own token (sub load-N, grants >), sent as Authorization: Bearer",
  ),
  nats: str(
    "target",
    "url",
    "NATS URL to publish the feed to; empty with --url = publish nothing (measure the live feed)",
  ),
  natsMonitorUrl: str(
    "target",
    "url",
    "nats-server monitoring URL: wait until the gateway holds NATS interest before publishing",
  ),
  subjectPrefix: str("target", "token", "first token of feed subjects: <prefix>.<venue>.<symbol>.<type>"),
  encoding: str("target", "name", "subprotocol: tickwire.v1.msgpack or tickwire.v1.json", [
    "msgpack",
    "json",
  ]),
  adapter: str(
    "target",
    "name|path",
    "client protocol: tickwire, or a module exporting createAdapter (bench/ uses it for competitors)",
  ),
  serverPid: num(
    "target",
    "pid",
    "PID of a target running on this machine: its RSS and CPU are sampled (0 = none, or the local gateway)",
    { integer: true },
  ),
  gatewayArgs: str("target", "flags", "extra flags for the locally started gateway (`tickwire serve ...`)"),
  clients: num("clients", "connections", "WebSocket connections to open", {
    integer: true,
    min: 1,
    max: 1_000_000,
  }),
  workers: num(
    "clients",
    "processes",
    "client processes (0 = one per core, less one for a local target; at least one per 15,000 clients)",
    {
      integer: true,
      max: 256,
    },
  ),
  rampS: num("clients", "s", "spread the connection starts over this long"),
  connectConcurrency: num("clients", "handshakes", "handshakes in flight per worker", {
    integer: true,
    min: 1,
  }),
  connectTimeoutS: num("clients", "s", "give up waiting for connections and subscriptions after this long", {
    min: 1,
  }),
  sourceAddresses: str(
    "clients",
    "list",
    "comma-separated local addresses to bind (default: 127.0.0.x, one per 20,000 clients, for loopback targets)",
  ),
  snapshot: bool("clients", "ask for snapshots in subscribe (counted apart from live events)"),
  venue: str("model", "token", "venue token of the topics"),
  symbols: num("model", "symbols", "distinct symbols S0000…", { integer: true, min: 1 }),
  types: str(
    "model",
    "list",
    "comma-separated event types per symbol (trade, quote, bar); topics = symbols × types",
  ),
  topicsPerClient: num("model", "topics", "subscriptions per client", { integer: true, min: 1, max: 1024 }),
  skew: num(
    "model",
    "exponent",
    "popularity skew: 0 = even, s > 0 = Zipf 1/rank^s (1 = a few hot symbols, a long tail)",
  ),
  wildcardShare: num("model", "fraction", "clients subscribing with <venue>.<symbol>.> wildcards", {
    max: 1,
  }),
  maxHzShare: num("model", "fraction", "clients sending maxHz in subscribe (needs protocol v1.2)", {
    max: 1,
  }),
  maxHz: num("model", "1/s", "the maxHz those clients ask for", { min: 0.001 }),
  seed: num("model", "integer", "seed of the skewed draw", { integer: true }),
  rate: num("feed", "messages/s", "feed publishes per second over all topics, round-robin"),
  messages: num("feed", "messages", "stop publishing after this many (0 = publish until the duration ends)", {
    integer: true,
  }),
  feedBytes: num("feed", "bytes", "pad each feed message to at least this size (0 = no padding)", {
    integer: true,
    max: 65536,
  }),
  warmupS: num("time", "s", "publishing before the measured window"),
  durationS: num("time", "s", "measured window (publishing stops at its end, or after --messages)", {
    min: 0.1,
  }),
  drainS: num("time", "s", "longest wait for in-flight events after publishing stops"),
  settleMs: num(
    "time",
    "ms",
    "wait after every client subscribed (and NATS interest is seen, when it can be) before reading the server's RSS and publishing",
  ),
  slowShare: num("misbehaviour", "fraction", "clients that read slowly", { max: 1 }),
  slowMode: str(
    "misbehaviour",
    "mode",
    "throttle: read --slow-duty of each second; pause: stop reading after subscribing",
    ["throttle", "pause"],
  ),
  slowDuty: num("misbehaviour", "fraction", "throttle: fraction of each second a slow client reads", {
    max: 1,
  }),
  churnPerS: num("misbehaviour", "connections/s", "close and reopen this many random clients per second"),
  stormAtS: num("misbehaviour", "s", "reconnect storm this long after publishing starts (0 = none)"),
  stormShare: num(
    "misbehaviour",
    "fraction",
    "clients dropped at once in the storm (they reconnect at once)",
    { max: 1 },
  ),
  reconnect: bool(
    "misbehaviour",
    "reconnect after the server closes a connection (after its retryAfterMs, with jitter)",
  ),
  outDir: str("output", "dir", "where the JSON result and the HTML report go"),
  name: str("output", "name", "file name stem (default loadtest-<UTC time>)"),
  progress: str("output", "mode", "live progress line: auto (on a terminal), on, off", ["auto", "on", "off"]),
};

export class LoadTestOptionsError extends Error {
  override readonly name = "LoadTestOptionsError";
  readonly code = "TICKWIRE_ERR_LOADTEST_OPTIONS";
}

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Every option takes a value, so `--flag value` is always `--flag=value`, even when the value starts with
 * a dash (`--gateway-args "--port 9310"`, which parseArgs otherwise refuses as ambiguous).
 */
function joinValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg.startsWith("--") && !arg.includes("=") && arg !== "--" && next !== undefined) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Resolves options from flags (`--clients 500`) over `overrides` over the defaults; throws listing every problem. */
export function parseOptions(
  argv: readonly string[],
  overrides: Partial<LoadTestOptions> = {},
): LoadTestOptions {
  const spec: Record<string, { type: "string" }> = {};
  for (const key of Object.keys(DEFAULTS)) spec[kebab(key)] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: joinValues(argv),
      options: spec,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new LoadTestOptionsError((error as Error).message, { cause: error });
  }
  const raw: Record<string, unknown> = { ...DEFAULTS, ...overrides };
  for (const [key, value] of Object.entries(values)) {
    const name = Object.keys(DEFAULTS).find((k) => kebab(k) === key);
    if (name !== undefined && typeof value === "string") raw[name] = value;
  }
  return validateOptions(raw);
}

/** Checks and converts every option (strings from flags, typed values from code). */
export function validateOptions(raw: Readonly<Record<string, unknown>>): LoadTestOptions {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(OPTIONS)) {
    const flag = `--${kebab(key)}`;
    const value = raw[key] ?? DEFAULTS[key as keyof typeof DEFAULTS];
    if (spec.kind === "number") {
      const n = typeof value === "number" ? value : Number(value);
      if (typeof value === "string" && value.trim() === "")
        problems.push(`${flag}: expected a number, got ""`);
      else if (!Number.isFinite(n)) problems.push(`${flag}: expected a number, got ${JSON.stringify(value)}`);
      else if (spec.integer === true && !Number.isInteger(n))
        problems.push(`${flag}: expected an integer, got ${n}`);
      else if (spec.min !== undefined && n < spec.min)
        problems.push(`${flag}: must be ≥ ${spec.min}, got ${n}`);
      else if (spec.max !== undefined && n > spec.max)
        problems.push(`${flag}: must be ≤ ${spec.max}, got ${n}`);
      out[key] = n;
    } else if (spec.kind === "boolean") {
      if (typeof value === "boolean") out[key] = value;
      else if (value === "true" || value === "false") out[key] = value === "true";
      else problems.push(`${flag}: expected true or false, got ${JSON.stringify(value)}`);
    } else {
      const s = typeof value === "string" ? value : JSON.stringify(value);
      if (spec.choices !== undefined && !spec.choices.includes(s))
        problems.push(`${flag}: expected one of ${spec.choices.join(", ")}, got "${s}"`);
      out[key] = s;
    }
  }
  const url = String(out["url"]);
  if (url !== "" && !/^wss?:\/\//.test(url))
    problems.push(`--url: expected a ws:// or wss:// URL, got "${url}"`);
  const nats = String(out["nats"]);
  if (nats !== "" && !/^(nats|tls):\/\//.test(nats.split(",")[0] ?? ""))
    problems.push(`--nats: expected nats://HOST:PORT, got "${nats}"`);
  for (const type of String(out["types"]).split(",")) {
    if (!["trade", "quote", "bar"].includes(type.trim()))
      problems.push(`--types: unknown event type "${type}" (known: trade, quote, bar)`);
  }
  if (problems.length > 0) throw new LoadTestOptionsError(problems.join("\n"));
  return Object.freeze(out) as LoadTestOptions;
}

/** `--help` text, grouped, with units and defaults. */
export function helpText(): string {
  const lines = [
    "Usage: tickwire-loadtest [options]",
    "",
    "Load-tests a tickwire gateway (or any ws:// target speaking protocol v1): opens --clients WebSocket",
    "connections over worker processes, publishes a feed to NATS at --rate, and reports end-to-end",
    "latency (NATS publish → client receive), delivered events/s, gaps, conflations, errors and closes,",
    "as a JSON result and a self-contained HTML report. Without --url it starts nats-server and a",
    "gateway locally. Every run stops by itself (--duration-s, --messages, bounded waits).",
  ];
  let group = "";
  for (const [key, spec] of Object.entries(OPTIONS)) {
    if (spec.group !== group) {
      group = spec.group;
      lines.push("", `${group}:`);
    }
    const def = DEFAULTS[key as keyof typeof DEFAULTS];
    lines.push(
      `  --${kebab(key)} <${spec.unit}>`.padEnd(34) +
        `${spec.help} (default ${def === "" ? '""' : String(def)})`,
    );
  }
  lines.push("", "  --help                          this text", "");
  return lines.join("\n");
}
