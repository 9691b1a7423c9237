import { isIP } from "node:net";
import { AUTH_DEFAULTS, AUTH_MODES, type AuthMode } from "../auth/index.ts";
import type { Secret } from "./secret.ts";

/**
 * The option table: the one declaration of every `tickwire serve` option. Each entry names its group and
 * key in {@link Config} (derived from this table below), its flag, its variables, its kind and unit, its
 * default and its check. The README's option table is checked against it (test/readme.test.ts).
 */

/** Subsystems of the configuration; each module is given only its own group. */
export type OptionGroup =
  "gateway" | "fanout" | "nats" | "history" | "embedded" | "lifecycle" | "process" | "log" | "auth" | "tls";

/**
 * How a raw flag or variable is read. `list` is comma-separated (empty items dropped); `boolean` takes
 * `--flag`, `--no-flag`, `--flag=true|false` or a variable of `true|false|1|0`; `secret` is a string that is
 * never logged, shown in `--help` or put in an error message (wrapped in {@link Secret}).
 */
export type OptionKind = "integer" | "string" | "boolean" | "list" | "path" | "secret";

/** The value of each kind once read, before the option's own `parse`. */
export interface KindValue {
  readonly integer: number;
  readonly string: string;
  readonly boolean: boolean;
  readonly list: readonly string[];
  readonly path: string;
  readonly secret: Secret;
}

/** The default of each kind as written in the table (and in the README): the text form for lists and secrets. */
export interface KindDefault {
  readonly integer: number;
  readonly string: string;
  readonly boolean: boolean;
  readonly list: string;
  readonly path: string;
  readonly secret: string;
}

export interface OptionSpec<
  G extends string = string,
  K extends string = string,
  Kind extends OptionKind = OptionKind,
  V = unknown,
> {
  /** Group of {@link Config} the value goes to. */
  readonly group: G;
  /** Key of the value in its group. */
  readonly key: K;
  /** Flag name without the leading dashes. */
  readonly flag: string;
  /** Variables read when the flag is absent, first non-empty one wins. */
  readonly env: readonly string[];
  readonly kind: Kind;
  readonly unit: string;
  readonly default: KindDefault[Kind];
  readonly help: string;
  // Methods, not function properties: bivariant parameters let every spec stand in a table of OptionSpec.
  /** Returns a problem description, or undefined when the value is acceptable. */
  check?(value: KindValue[Kind]): string | undefined;
  /** Turns the checked value into the config's value (e.g. a sentinel into a union); identity when absent. */
  parse?(value: KindValue[Kind]): V;
}

/** Declares one option, keeping its group, key and value type for {@link ConfigOf}. */
export function option<
  const G extends string,
  const K extends string,
  Kind extends OptionKind,
  V = KindValue[Kind],
>(spec: OptionSpec<G, K, Kind, V>): OptionSpec<G, K, Kind, V> {
  return spec;
}

/** Where the gateway gets its feed: its own nats-server child (embedded mode) or a NATS deployment. */
export type NatsServers =
  { readonly mode: "embedded" } | { readonly mode: "external"; readonly urls: readonly string[] };

/** Where snapshots of topics the gateway has not seen come from: a JetStream stream, or nowhere. */
export type HistoryStream =
  { readonly mode: "off" } | { readonly mode: "jetstream"; readonly stream: string };

/** The value type of one option: what its `parse` returns (the kind's value when it has none). */
type ValueOf<S> = S extends { readonly parse?: (value: never) => infer V } ? V : never;

/** The resolved configuration of a table of options: one frozen object per group. */
export type ConfigOf<Specs extends readonly OptionSpec<string, string, OptionKind, unknown>[]> = {
  readonly [G in Specs[number]["group"]]: {
    readonly [S in Specs[number] as S["group"] extends G ? S["key"] : never]: ValueOf<S>;
  };
};

/** `address` or `address/prefix` (the gateway's TrustedProxies.parse reads the same syntax). */
function isAddressBlock(entry: string): boolean {
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

const range =
  (min: number, max: number) =>
  (v: number): string | undefined =>
    v < min || v > max ? `must be between ${min} and ${max}` : undefined;

/** An optional path or string: the empty default means unset. */
const optional = (v: string): string | undefined => (v === "" ? undefined : v);
const nonNegativeMs = range(0, 86_400_000);

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const LOG_FORMATS = ["auto", "text", "json"];
const TOKEN = /^[A-Za-z0-9_\-]{1,32}$/;

/**
 * TLS and credentials of a NATS connection: `tickwire serve` and `tickwire history` take the same ones
 * (one definition, spread into both tables). Secrets are `secret` options: never logged, never in --help.
 */
export const NATS_SECURITY_OPTIONS = [
  option({
    group: "nats",
    key: "tlsCaFile",
    flag: "nats-tls-ca",
    env: ["TICKWIRE_NATS_TLS_CA"],
    kind: "path",
    unit: "path",
    default: "",
    help: "PEM CA to verify the NATS server with (implies TLS)",
    parse: optional,
  }),
  option({
    group: "nats",
    key: "tlsCertFile",
    flag: "nats-tls-cert",
    env: ["TICKWIRE_NATS_TLS_CERT"],
    kind: "path",
    unit: "path",
    default: "",
    help: "PEM client certificate for NATS (with --nats-tls-key)",
    parse: optional,
  }),
  option({
    group: "nats",
    key: "tlsKeyFile",
    flag: "nats-tls-key",
    env: ["TICKWIRE_NATS_TLS_KEY"],
    kind: "path",
    unit: "path",
    default: "",
    help: "PEM private key of --nats-tls-cert",
    parse: optional,
  }),
  option({
    group: "nats",
    key: "user",
    flag: "nats-user",
    env: ["TICKWIRE_NATS_USER"],
    kind: "string",
    unit: "name",
    default: "",
    help: "NATS user name (with --nats-password)",
    parse: optional,
  }),
  option({
    group: "nats",
    key: "password",
    flag: "nats-password",
    env: ["TICKWIRE_NATS_PASSWORD"],
    kind: "secret",
    unit: "secret",
    default: "",
    help: "NATS password (never logged)",
  }),
  option({
    group: "nats",
    key: "token",
    flag: "nats-token",
    env: ["TICKWIRE_NATS_TOKEN"],
    kind: "secret",
    unit: "secret",
    default: "",
    help: "NATS authentication token (never logged)",
  }),
  option({
    group: "nats",
    key: "nkeySeedFile",
    flag: "nats-nkey-seed-file",
    env: ["TICKWIRE_NATS_NKEY_SEED_FILE"],
    kind: "path",
    unit: "path",
    default: "",
    help: "file holding a NATS NKey user seed (SU…)",
    parse: optional,
  }),
  option({
    group: "nats",
    key: "credsFile",
    flag: "nats-creds-file",
    env: ["TICKWIRE_NATS_CREDS_FILE"],
    kind: "path",
    unit: "path",
    default: "",
    help: "NATS .creds file (user JWT and NKey seed)",
    parse: optional,
  }),
] as const;

export const OPTIONS = [
  option({
    group: "gateway",
    key: "host",
    flag: "host",
    env: ["TICKWIRE_HOST"],
    kind: "string",
    unit: "address",
    default: "127.0.0.1",
    help: "address to listen on; 0.0.0.0 for all interfaces",
  }),
  option({
    group: "gateway",
    key: "port",
    flag: "port",
    env: ["TICKWIRE_PORT"],
    kind: "integer",
    unit: "port",
    default: 9000,
    help: "TCP port of WebSocket and HTTP endpoints (0 = any free port)",
    check: range(0, 65535),
  }),
  option({
    group: "nats",
    key: "servers",
    flag: "nats",
    env: ["NATS_URL", "TICKWIRE_NATS_URL"],
    kind: "list",
    unit: "url",
    default: "",
    help: "NATS server URL(s), comma-separated; empty = embedded mode: start a local nats-server and a demo feed",
    check: (urls) =>
      urls.every((u) => /^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s:/]+:\d+$/.test(u))
        ? undefined
        : "must be nats://host:port[,…]",
    parse: (urls): NatsServers => (urls.length === 0 ? { mode: "embedded" } : { mode: "external", urls }),
  }),
  option({
    group: "nats",
    key: "subjectPrefix",
    flag: "subject-prefix",
    env: ["TICKWIRE_SUBJECT_PREFIX"],
    kind: "string",
    unit: "token",
    default: "md",
    help: "first token of feed subjects: <prefix>.<venue>.<symbol>.<type>",
    check: (v) => (TOKEN.test(v) ? undefined : "must be one subject token of [A-Za-z0-9_-]"),
  }),
  option({
    group: "fanout",
    key: "maxTopicsPerConnection",
    flag: "max-topics-per-connection",
    env: ["TICKWIRE_MAX_TOPICS_PER_CONNECTION"],
    kind: "integer",
    unit: "patterns",
    default: 1024,
    help: "subscription patterns one connection may hold; a subscribe past it is refused whole (4006)",
    check: range(1, 100_000),
  }),
  option({
    group: "gateway",
    key: "maxMessageBytes",
    flag: "max-message-bytes",
    env: ["TICKWIRE_MAX_MESSAGE_BYTES"],
    kind: "integer",
    unit: "bytes",
    // 256 KiB: the largest request the topic limits allow (1,024 topics of 200 characters, ~208 kB in
    // JSON or msgpack) fits, so a valid subscribe is never closed as too big (issue 10 item 3). It adds no
    // exposure: the WebSocket layer already buffers frames up to its 1 MiB hard cap before this check.
    default: 262144,
    help: "largest client frame, at least 1024; a larger one closes the connection with 1009 naming the limit, which the SDK and the Python client then split their requests under (the default fits the largest valid request)",
    // At least 1 KiB: a request with one pattern of the longest allowed topic (200 characters) and every
    // option fits, so a client that splits its requests under a lowered limit always can.
    check: range(1024, 16 * 1024 * 1024),
  }),
  option({
    group: "fanout",
    key: "slowSoftBytes",
    flag: "slow-soft-bytes",
    env: ["TICKWIRE_SLOW_SOFT_BYTES"],
    kind: "integer",
    unit: "bytes",
    default: 1048576,
    help: "soft watermark: a socket with more unsent is conflated (latest value per topic, flagged CONFLATED with n) until it drains under it",
    check: range(16384, 1024 * 1024 * 1024),
  }),
  option({
    group: "fanout",
    key: "slowHardBytes",
    flag: "slow-hard-bytes",
    env: ["TICKWIRE_SLOW_HARD_BYTES"],
    kind: "integer",
    unit: "bytes",
    default: 4194304,
    help: "hard watermark: a socket with more unsent is closed with 4007 (must be above slow-soft-bytes, at most max-backpressure-bytes)",
    check: range(16384, 2 * 1024 * 1024 * 1024),
  }),
  option({
    group: "fanout",
    key: "slowCloseMs",
    flag: "slow-close-ms",
    env: ["TICKWIRE_SLOW_CLOSE_MS"],
    kind: "integer",
    unit: "ms",
    default: 10000,
    help: "a connection conflated this long without catching up (drained to the soft watermark, and a lag probe answered within max-lag-ms) is closed with 4007 and a retry hint",
    check: range(100, 3_600_000),
  }),
  option({
    group: "gateway",
    key: "maxBackpressureBytes",
    flag: "max-backpressure-bytes",
    env: ["TICKWIRE_MAX_BACKPRESSURE_BYTES"],
    kind: "integer",
    unit: "bytes",
    default: 8388608,
    help: "uWS per-socket backpressure limit; frames past it are dropped by uWS and counted as backpressure drops (must be ≥ slow-hard-bytes)",
    check: range(16384, 2 * 1024 * 1024 * 1024),
  }),
  option({
    group: "fanout",
    key: "heartbeatMs",
    flag: "heartbeat-ms",
    env: ["TICKWIRE_HEARTBEAT_MS"],
    kind: "integer",
    unit: "ms",
    default: 1000,
    help: "period of the heartbeat event (sent, conflated, dropped counters) to every connection; 0 = none",
    check: (v) => (v === 0 || (v >= 100 && v <= 600_000) ? undefined : "must be 0 or 100 to 600000"),
  }),
  option({
    group: "fanout",
    key: "maxHz",
    flag: "max-hz",
    env: ["TICKWIRE_MAX_HZ"],
    kind: "integer",
    unit: "events/s",
    default: 0,
    help: "cap on events per second per topic for every subscription (lower maxHz requests still apply); 0 = no cap",
    check: range(0, 1000),
  }),
  option({
    group: "fanout",
    key: "maxLagMs",
    flag: "max-lag-ms",
    env: ["TICKWIRE_MAX_LAG_MS"],
    kind: "integer",
    unit: "ms",
    default: 1000,
    help: "a connection whose lag probe is unanswered this long, or that was sent more than it reads in this long, is conflated until a probe comes back within it; 0 = measure lag only",
    check: (v) => (v === 0 || (v >= 50 && v <= 600_000) ? undefined : "must be 0 or 50 to 600000"),
  }),
  option({
    group: "fanout",
    key: "probeIntervalMs",
    flag: "probe-interval-ms",
    env: ["TICKWIRE_PROBE_INTERVAL_MS"],
    kind: "integer",
    unit: "ms",
    default: 250,
    help: "period of the lag probes (WebSocket pings, one in flight per connection; they replace uWS's automatic pings) of a connection not known to keep up; one written under 16 KiB since its last probe, or whose last probe came back within a quarter of max-lag-ms, is probed every max-lag-ms (at most a third of idle-timeout-ms); 0 = no probes and no lag rule",
    check: (v) => (v === 0 || (v >= 10 && v <= 60_000) ? undefined : "must be 0 or 10 to 60000"),
  }),
  option({
    group: "history",
    key: "stream",
    flag: "history-stream",
    env: ["TICKWIRE_HISTORY_STREAM"],
    kind: "string",
    unit: "name",
    default: "TICKWIRE_LAST",
    help: "JetStream stream keeping the last feed message per subject, read for snapshots of topics the gateway has not seen (embedded mode creates it); off = no history",
    check: (v) =>
      /^[A-Za-z0-9_-]{1,64}$/.test(v) ? undefined : "must be a stream name of [A-Za-z0-9_-], or off",
    parse: (v): HistoryStream => (v === "off" ? { mode: "off" } : { mode: "jetstream", stream: v }),
  }),
  option({
    group: "fanout",
    key: "historyTimeoutMs",
    flag: "history-timeout-ms",
    env: ["TICKWIRE_HISTORY_TIMEOUT_MS"],
    kind: "integer",
    unit: "ms",
    default: 500,
    help: "longest a subscribe's snapshot waits for the feed history before completing without it",
    check: range(10, 60_000),
  }),
  option({
    group: "gateway",
    key: "idleTimeoutMs",
    flag: "idle-timeout-ms",
    env: ["TICKWIRE_IDLE_TIMEOUT_MS"],
    kind: "integer",
    unit: "ms",
    default: 120000,
    help: "close a connection silent this long (the lag probes, or uWS pings when probes are off, keep an answering client from being silent); 0 disables; whole seconds from 8000 to 960000",
    // uWS aborts the process for idleTimeout outside 0 or 8–960 s (PERF-NOTES.md).
    check: (v) =>
      v === 0 || (v >= 8000 && v <= 960_000 && v % 1000 === 0)
        ? undefined
        : "must be 0, or whole seconds from 8000 to 960000 (uWS limit)",
  }),
  option({
    group: "fanout",
    key: "controlRatePerSec",
    flag: "control-rate",
    env: ["TICKWIRE_CONTROL_RATE"],
    kind: "integer",
    unit: "messages/s",
    default: 50,
    help: "control messages per second per connection, sustained; more get 4008",
    check: range(1, 100_000),
  }),
  option({
    group: "fanout",
    key: "controlBurst",
    flag: "control-burst",
    env: ["TICKWIRE_CONTROL_BURST"],
    kind: "integer",
    unit: "messages",
    default: 100,
    help: "control-message burst per connection; after this many refusals in a row (each answered 4008) the next message closes the connection with 4008",
    check: range(1, 100_000),
  }),
  option({
    group: "nats",
    key: "maxFeedPayloadBytes",
    flag: "max-feed-payload-bytes",
    env: ["TICKWIRE_MAX_FEED_PAYLOAD_BYTES"],
    kind: "integer",
    unit: "bytes",
    default: 4096,
    help: "largest feed message accepted from NATS; larger ones are counted as too_large and dropped",
    check: range(64, 1024 * 1024),
  }),
  option({
    group: "nats",
    key: "pingIntervalMs",
    flag: "nats-ping-interval-ms",
    env: ["TICKWIRE_NATS_PING_INTERVAL_MS"],
    kind: "integer",
    unit: "ms",
    default: 10000,
    help: "NATS client ping interval (dead-server detection)",
    check: range(500, 600_000),
  }),
  option({
    group: "nats",
    key: "maxPingsOut",
    flag: "nats-max-pings-out",
    env: ["TICKWIRE_NATS_MAX_PINGS_OUT"],
    kind: "integer",
    unit: "pings",
    default: 3,
    help: "unanswered NATS pings before the connection is considered dead",
    check: range(1, 100),
  }),
  option({
    group: "nats",
    key: "reconnectWaitMs",
    flag: "nats-reconnect-wait-ms",
    env: ["TICKWIRE_NATS_RECONNECT_WAIT_MS"],
    kind: "integer",
    unit: "ms",
    default: 1000,
    help: "wait between NATS reconnect attempts (retries forever)",
    check: range(50, 600_000),
  }),
  option({
    group: "lifecycle",
    key: "shutdownGraceMs",
    flag: "shutdown-grace-ms",
    env: ["TICKWIRE_SHUTDOWN_GRACE_MS"],
    kind: "integer",
    unit: "ms",
    default: 5000,
    help: "on SIGTERM/SIGINT, longest wait for clients to close and NATS to drain before exiting",
    check: range(0, 600_000),
  }),
  option({
    group: "lifecycle",
    key: "drainDelayMs",
    flag: "drain-delay-ms",
    env: ["TICKWIRE_DRAIN_DELAY_MS"],
    kind: "integer",
    unit: "ms",
    default: 0,
    help: "on SIGTERM/SIGINT, report not ready (/readyz 503) this long before closing clients, so a load balancer stops sending new ones",
    check: range(0, 600_000),
  }),
  option({
    group: "fanout",
    key: "retryAfterMs",
    flag: "retry-after-ms",
    env: ["TICKWIRE_RETRY_AFTER_MS"],
    kind: "integer",
    unit: "ms",
    default: 1000,
    help: "reconnect hint sent to clients in the close reason of going-away (1001) and slow-consumer (4007) closes",
    check: range(0, 3_600_000),
  }),
  option({
    group: "embedded",
    key: "demoRatePerSec",
    flag: "demo-rate",
    env: ["TICKWIRE_DEMO_RATE"],
    kind: "integer",
    unit: "messages/s",
    default: 200,
    help: "embedded mode: demo feed rate over all symbols (0 = no demo feed)",
    check: range(0, 1_000_000),
  }),
  option({
    group: "embedded",
    key: "natsServerBin",
    flag: "nats-server-bin",
    env: ["TICKWIRE_NATS_SERVER_BIN"],
    kind: "path",
    unit: "path",
    default: "nats-server",
    help: "embedded mode: the nats-server executable, a name looked up on PATH (and /usr/sbin) or a path",
    check: (v) => (v.length > 0 ? undefined : "must not be empty"),
  }),
  option({
    group: "process",
    key: "workers",
    flag: "workers",
    env: ["TICKWIRE_WORKERS"],
    kind: "integer",
    unit: "processes",
    default: 0,
    help: "gateway worker processes sharing the port (SO_REUSEPORT), each with its own NATS connection; 0 = one per CPU core; 1 = a single process that owns its port",
    check: range(0, 256),
  }),
  option({
    group: "gateway",
    key: "maxConnectionAgeMs",
    flag: "max-connection-age-ms",
    env: ["TICKWIRE_MAX_CONNECTION_AGE_MS"],
    kind: "integer",
    unit: "ms",
    default: 0,
    help: "close a connection older than this (drawn at random between the age and 1.5 × the age) with 1001 and the retry hint, so clients rebalance over new nodes; 0 = never",
    check: (v) =>
      v === 0 || (v >= 1000 && v <= 31 * 86_400_000) ? undefined : "must be 0 or between 1000 and 2678400000",
  }),
  option({
    group: "gateway",
    key: "trustedProxies",
    flag: "trusted-proxies",
    env: ["TICKWIRE_TRUSTED_PROXIES"],
    kind: "list",
    unit: "address/CIDR",
    default: "",
    help: "reverse proxies (addresses or CIDR blocks, comma-separated) whose X-Forwarded-For names the client; empty = the TCP peer is the client",
    check: (entries) => {
      const bad = entries.find((entry) => !isAddressBlock(entry));
      return bad === undefined ? undefined : `"${bad}" is not an IPv4 or IPv6 address or CIDR block`;
    },
  }),
  option({
    group: "log",
    key: "level",
    flag: "log-level",
    env: ["TICKWIRE_LOG_LEVEL"],
    kind: "string",
    unit: "level",
    default: "info",
    help: `log level: ${LOG_LEVELS.join(", ")}`,
    check: (v) => (LOG_LEVELS.includes(v) ? undefined : `must be one of ${LOG_LEVELS.join(", ")}`),
  }),
  option({
    group: "log",
    key: "format",
    flag: "log-format",
    env: ["TICKWIRE_LOG_FORMAT"],
    kind: "string",
    unit: "format",
    default: "auto",
    help: "log format: text (one readable line per event, level names), json (one JSON object per line), auto (text on a terminal, json otherwise)",
    check: (v) => (LOG_FORMATS.includes(v) ? undefined : `must be one of ${LOG_FORMATS.join(", ")}`),
  }),
  option({
    group: "gateway",
    key: "maxConnections",
    flag: "max-connections",
    env: ["TICKWIRE_MAX_CONNECTIONS"],
    kind: "integer",
    unit: "connections",
    default: 0,
    help: "open WebSocket connections at most, per process (each worker has its own cap); past it an upgrade gets 503 with retry-after, counted and logged (0 = the open-file limit less max(64, 5%))",
    check: range(0, 10_000_000),
  }),
  option({
    group: "gateway",
    key: "maxConnectionsPerIp",
    flag: "max-connections-per-ip",
    env: ["TICKWIRE_MAX_CONNECTIONS_PER_IP"],
    kind: "integer",
    unit: "connections",
    default: 0,
    help: "open WebSocket connections at most from one client address (after --trusted-proxies), per process; past it an upgrade gets 429 with retry-after, counted (0 = no limit: offices and mobile carriers put many users behind one address)",
    check: range(0, 10_000_000),
  }),
  option({
    group: "gateway",
    key: "metricsPort",
    flag: "metrics-port",
    env: ["TICKWIRE_METRICS_PORT"],
    kind: "integer",
    unit: "port",
    default: 0,
    help: "serve /metrics (and /healthz, /readyz) on this separate port and no longer on the public one; workers share it, any of them answering with the totals (0 = /metrics stays on the public port)",
    check: range(0, 65535),
  }),
  option({
    group: "gateway",
    key: "metricsHost",
    flag: "metrics-host",
    env: ["TICKWIRE_METRICS_HOST"],
    kind: "string",
    unit: "address",
    default: "127.0.0.1",
    help: "address of the --metrics-port listener",
  }),
  option({
    group: "gateway",
    key: "metricsCacheMs",
    flag: "metrics-cache-ms",
    env: ["TICKWIRE_METRICS_CACHE_MS"],
    kind: "integer",
    unit: "ms",
    default: 1000,
    help: "a /metrics scrape is rendered at most once per this interval and shared, in each worker (0 = render per scrape, sharing only a render in progress)",
    check: range(0, 60_000),
  }),
  option({
    group: "fanout",
    key: "maxSnapshotValues",
    flag: "max-snapshot-values",
    env: ["TICKWIRE_MAX_SNAPSHOT_VALUES"],
    kind: "integer",
    unit: "values",
    default: 10000,
    help: "values one subscribe's snapshot carries at most; past it the snapshot stops and snapshot_end says truncated: true",
    check: range(1, 1_000_000),
  }),
  option({
    group: "fanout",
    key: "maxTopics",
    flag: "max-topics",
    env: ["TICKWIRE_MAX_TOPICS"],
    kind: "integer",
    unit: "topics",
    default: 100000,
    help: "topics kept (sequence counter, last value) at most; past it the least recently updated topics nobody holds by exact name (a wildcard does not keep a topic) are forgotten, down to 90%",
    check: range(100, 100_000_000),
  }),
  option({
    group: "fanout",
    key: "maxHistoryLookupsPerConnection",
    flag: "max-history-lookups-per-connection",
    env: ["TICKWIRE_MAX_HISTORY_LOOKUPS_PER_CONNECTION"],
    kind: "integer",
    unit: "lookups",
    default: 4,
    help: "feed-history lookups (one per pattern of a subscribe) one connection may have in flight; further ones wait for one of its own, within --history-timeout-ms",
    check: range(1, 32),
  }),
  option({
    group: "auth",
    key: "mode",
    flag: "auth",
    env: ["TICKWIRE_AUTH"],
    kind: "string",
    unit: "mode",
    default: "none",
    help: "none: anyone who can connect reads every topic (a warning is logged on a non-loopback --host); jwt: a token granting topics is required (auth request or Authorization: Bearer)",
    check: (v) =>
      (AUTH_MODES as readonly string[]).includes(v) ? undefined : `must be one of ${AUTH_MODES.join(", ")}`,
    parse: (v) => v as AuthMode,
  }),
  option({
    group: "auth",
    key: "authTimeoutMs",
    flag: "auth-timeout-ms",
    env: ["TICKWIRE_AUTH_TIMEOUT_MS"],
    kind: "integer",
    unit: "ms",
    default: AUTH_DEFAULTS.authTimeoutMs,
    help: "--auth jwt: a connection without a valid token this long after opening is closed with 4001",
    check: range(100, 600_000),
  }),
  option({
    group: "auth",
    key: "jwtSecretFile",
    flag: "jwt-secret-file",
    env: ["TICKWIRE_JWT_SECRET_FILE"],
    kind: "path",
    unit: "path",
    default: "",
    help: "--auth jwt: file holding the HMAC secret (HS256/384/512; at least 32 bytes); the secret is never logged",
    parse: optional,
  }),
  option({
    group: "auth",
    key: "jwtPublicKeyFile",
    flag: "jwt-public-key-file",
    env: ["TICKWIRE_JWT_PUBLIC_KEY_FILE"],
    kind: "path",
    unit: "path",
    default: "",
    help: "--auth jwt: PEM public key or certificate (RS*, PS*, ES*, EdDSA)",
    parse: optional,
  }),
  option({
    group: "auth",
    key: "jwksFile",
    flag: "jwks-file",
    env: ["TICKWIRE_JWKS_FILE"],
    kind: "path",
    unit: "path",
    default: "",
    help: "--auth jwt: JWK set file, keys picked by kid, re-read on an unknown kid",
    parse: optional,
  }),
  option({
    group: "auth",
    key: "jwksUrl",
    flag: "jwks-url",
    env: ["TICKWIRE_JWKS_URL"],
    kind: "string",
    unit: "url",
    default: "",
    help: "--auth jwt: JWK set URL (https; http only to loopback), cached and refreshed, keys picked by kid",
    parse: optional,
  }),
  option({
    group: "auth",
    key: "jwtIssuer",
    flag: "jwt-issuer",
    env: ["TICKWIRE_JWT_ISSUER"],
    kind: "string",
    unit: "string",
    default: "",
    help: "--auth jwt: required iss claim; empty = not checked",
    parse: optional,
  }),
  option({
    group: "auth",
    key: "jwtAudience",
    flag: "jwt-audience",
    env: ["TICKWIRE_JWT_AUDIENCE"],
    kind: "string",
    unit: "string",
    default: "",
    help: "--auth jwt: aud must name this; empty = not checked",
    parse: optional,
  }),
  option({
    group: "auth",
    key: "jwtAlgorithms",
    flag: "jwt-algorithms",
    env: ["TICKWIRE_JWT_ALGORITHMS"],
    kind: "list",
    unit: "algorithms",
    default: "",
    help: "--auth jwt: allowed alg values, comma-separated (never none); empty = HS256 with a secret, what the key supports otherwise",
    parse: (v): readonly string[] | undefined => (v.length === 0 ? undefined : v),
  }),
  option({
    group: "auth",
    key: "jwtClockToleranceMs",
    flag: "jwt-clock-tolerance-ms",
    env: ["TICKWIRE_JWT_CLOCK_TOLERANCE_MS"],
    kind: "integer",
    unit: "ms",
    default: AUTH_DEFAULTS.jwtClockToleranceMs,
    help: "--auth jwt: leeway on exp and nbf for clock skew (a connection closes at exp plus this)",
    check: nonNegativeMs,
  }),
  option({
    group: "auth",
    key: "jwksMaxAgeMs",
    flag: "jwks-max-age-ms",
    env: ["TICKWIRE_JWKS_MAX_AGE_MS"],
    kind: "integer",
    unit: "ms",
    default: AUTH_DEFAULTS.jwksMaxAgeMs,
    help: "--auth jwt: a cached JWK set older than this is refreshed",
    check: nonNegativeMs,
  }),
  option({
    group: "auth",
    key: "jwksCooldownMs",
    flag: "jwks-cooldown-ms",
    env: ["TICKWIRE_JWKS_COOLDOWN_MS"],
    kind: "integer",
    unit: "ms",
    default: AUTH_DEFAULTS.jwksCooldownMs,
    help: "--auth jwt: least time between two JWK set loads (an unknown kid triggers one)",
    check: nonNegativeMs,
  }),
  option({
    group: "auth",
    key: "jwksTimeoutMs",
    flag: "jwks-timeout-ms",
    env: ["TICKWIRE_JWKS_TIMEOUT_MS"],
    kind: "integer",
    unit: "ms",
    default: AUTH_DEFAULTS.jwksTimeoutMs,
    help: "--auth jwt: longest wait for the JWK set URL",
    check: range(100, 600_000),
  }),
  option({
    group: "gateway",
    key: "allowedOrigins",
    flag: "allowed-origins",
    env: ["TICKWIRE_ALLOWED_ORIGINS"],
    kind: "list",
    unit: "origins",
    default: "",
    help: "browser upgrades (with an Origin header) accepted only from these origins (scheme://host[:port], comma-separated; * = any), others get HTTP 403; empty = not checked",
    check: (v) =>
      v.every((o) => o === "*" || /^https?:\/\/[^/\s]+$/.test(o))
        ? undefined
        : "must be * or origins like https://app.example.com[:port]",
  }),
  option({
    group: "tls",
    key: "certFile",
    flag: "tls-cert",
    env: ["TICKWIRE_TLS_CERT"],
    kind: "path",
    unit: "path",
    default: "",
    help: "PEM certificate chain: serve wss:// and https:// (with --tls-key); read at start-up (restart to reload)",
    parse: optional,
  }),
  option({
    group: "tls",
    key: "keyFile",
    flag: "tls-key",
    env: ["TICKWIRE_TLS_KEY"],
    kind: "path",
    unit: "path",
    default: "",
    help: "PEM private key of --tls-cert",
    parse: optional,
  }),
  option({
    group: "tls",
    key: "passphrase",
    flag: "tls-passphrase",
    env: ["TICKWIRE_TLS_PASSPHRASE"],
    kind: "secret",
    unit: "secret",
    default: "",
    help: "passphrase of an encrypted --tls-key (never logged)",
  }),
  ...NATS_SECURITY_OPTIONS,
] as const;

/** The resolved `tickwire serve` configuration, grouped by subsystem (derived from {@link OPTIONS}). */
export type Config = ConfigOf<typeof OPTIONS>;
