import { loadOptions, natsSecurityChecks } from "./load.ts";
import { NATS_SECURITY_OPTIONS, option, type ConfigOf } from "./options.ts";

/** Sub-commands of `tickwire history`. */
export const HISTORY_COMMANDS = ["create", "info"] as const;
export type HistoryCommand = (typeof HISTORY_COMMANDS)[number];

/**
 * Options of `tickwire history create|info`: the feed-history stream of a NATS deployment. The variables
 * are the ones `tickwire serve` reads, so one environment file serves both; the NATS TLS and credential
 * options are serve's own definitions ({@link NATS_SECURITY_OPTIONS}).
 */
export const HISTORY_OPTIONS = [
  option({
    group: "nats",
    key: "servers",
    flag: "nats",
    env: ["NATS_URL", "TICKWIRE_NATS_URL"],
    kind: "list",
    unit: "url",
    default: "",
    help: "NATS server URL(s), comma-separated (required)",
    check: (urls) =>
      urls.length > 0 && urls.every((u) => /^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s:/]+:\d+$/.test(u))
        ? undefined
        : "must be nats://host:port[,…]",
  }),
  ...NATS_SECURITY_OPTIONS,
  option({
    group: "stream",
    key: "name",
    flag: "stream",
    env: ["TICKWIRE_HISTORY_STREAM"],
    kind: "string",
    unit: "name",
    default: "TICKWIRE_LAST",
    help: "the stream's name (what `tickwire serve --history-stream` reads)",
    check: (v) => (/^[A-Za-z0-9_-]{1,64}$/.test(v) ? undefined : "must be a stream name of [A-Za-z0-9_-]"),
  }),
  option({
    group: "stream",
    key: "subjectPrefix",
    flag: "subject-prefix",
    env: ["TICKWIRE_SUBJECT_PREFIX"],
    kind: "string",
    unit: "token",
    default: "md",
    help: "first token of feed subjects: the stream keeps <prefix>.>",
    check: (v) =>
      /^[A-Za-z0-9_-]{1,32}$/.test(v) ? undefined : "must be one subject token of [A-Za-z0-9_-]",
  }),
  option({
    group: "stream",
    key: "storage",
    flag: "storage",
    env: ["TICKWIRE_HISTORY_STORAGE"],
    kind: "string",
    unit: "storage",
    default: "file",
    help: "file (kept across NATS restarts) or memory",
    check: (v) => (v === "file" || v === "memory" ? undefined : "must be file or memory"),
    parse: (v) => v as "file" | "memory",
  }),
  option({
    group: "stream",
    key: "replicas",
    flag: "replicas",
    env: ["TICKWIRE_HISTORY_REPLICAS"],
    kind: "integer",
    unit: "count",
    default: 1,
    help: "copies kept in a JetStream cluster (1 to 5)",
    check: (v) => (v >= 1 && v <= 5 ? undefined : "must be between 1 and 5"),
  }),
  option({
    group: "stream",
    key: "maxBytes",
    flag: "max-bytes",
    env: ["TICKWIRE_HISTORY_MAX_BYTES"],
    kind: "integer",
    unit: "bytes",
    default: 268_435_456,
    help: "size limit; past it the oldest subjects' values are discarded",
    check: (v) => (v >= 1024 ? undefined : "must be at least 1024"),
  }),
] as const;

export type HistoryAdminConfig = ConfigOf<typeof HISTORY_OPTIONS>;

export const HISTORY_USAGE = `Usage: tickwire history <create|info> --nats <url> [options]

Manages the JetStream stream tickwire reads snapshots of unseen topics from (README "Feed history"):
the last feed message of every <prefix>.> subject, direct get allowed.

  create   creates the stream; an existing one with the same settings is left alone (exit 0), one with
           other settings is reported and left alone (exit 1)
  info     prints the stream's settings and state as JSON

Options (each also read from the variable shown):
${HISTORY_OPTIONS.map(
  (o) =>
    `  --${o.flag} <${o.unit}>\n      ${o.help}; env ${o.env.join(", ")}; default: ${o.default === "" ? "none" : o.default}`,
).join("\n")}

Exit status: 0 done, 1 NATS or JetStream refused (message on stderr), 2 usage.
`;

/** Parses `tickwire history …` options (after the sub-command); every problem at once in a ConfigError. */
export function loadHistoryAdminConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Readonly<HistoryAdminConfig> {
  return loadOptions(HISTORY_OPTIONS, argv, env, natsSecurityChecks);
}
