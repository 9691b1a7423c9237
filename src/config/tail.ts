import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError } from "../errors/index.ts";

/** Output formats of `tickwire tail`. */
export const TAIL_FORMATS = ["jsonl", "csv", "table"] as const;
export type TailFormat = (typeof TAIL_FORMATS)[number];

/** Resolved options of `tickwire tail`. */
export interface TailConfig {
  /** Patterns to subscribe to, at least one. */
  readonly topics: readonly string[];
  /** Stream URL (flag `--url`, else `TICKWIRE_URL`, else ws://127.0.0.1:9000/v1/stream). */
  readonly url: string;
  /** `table` only on a terminal; default table on a terminal, jsonl otherwise. */
  readonly format: TailFormat;
  /** Per-topic rate asked of the gateway (protocol v1.2 `maxHz`), or undefined. */
  readonly maxHz: number | undefined;
  /** Exit 0 after this many data events; undefined: run until interrupted. */
  readonly count: number | undefined;
  /** Add `lat_ms`: receive time minus the venue time `te`, in milliseconds. */
  readonly latency: boolean;
  /** Ask for the snapshot of each topic first (default true; `--no-snapshot`). */
  readonly snapshot: boolean;
  /** Token for a gateway running `--auth jwt` (`--token`, `--token-file`, or `TICKWIRE_TOKEN`). */
  readonly token: string | undefined;
  /** Report on stderr when the heartbeat's `lag` (protocol v1.5) goes over this many ms, and when back. */
  readonly maxLagMs: number;
}

export const TAIL_USAGE = `Usage: tickwire tail <pattern>... [options]

Streams events to stdout, one per line; gaps, conflation and reconnects go to stderr.
Patterns are topics with NATS wildcards: xnas.AAPL.quote 'binance.*.trade' 'xlon.>'.

Options:
  --url <url>          stream URL (env TICKWIRE_URL; default ws://127.0.0.1:9000/v1/stream)
  --format <format>    jsonl | csv | table (default: table on a terminal, jsonl otherwise; table needs a terminal)
  --max-hz <n>         at most n events per second per topic (asks the gateway to conflate)
  --count <n>          exit after n data events
  --latency            add lat_ms: receive time minus venue time te, in ms
  --no-snapshot        skip the current value of each topic at start
  --token-file <path>  token for a gateway running --auth jwt (file content, trimmed)
  --token <token>      the token itself (env TICKWIRE_TOKEN; a flag shows in the process list: prefer the file)
  --max-lag-ms <n>     say on stderr when the gateway measures this reader over n ms behind, and when back under (default 1000)
  -h, --help           this help

Exit status: 0 done (--count reached, interrupted, or stdout closed), 1 refused or cannot connect, 2 usage.
`;

/**
 * Parses `tickwire tail` arguments; every problem is reported at once in a {@link ConfigError}.
 * @param stdoutIsTty whether stdout is a terminal (decides the default format; table needs one)
 */
export function loadTailConfig(
  argv: readonly string[],
  stdoutIsTty: boolean,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<TailConfig> {
  const problems: string[] = [];
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      allowNegative: true,
      options: {
        url: { type: "string" },
        format: { type: "string" },
        "max-hz": { type: "string" },
        count: { type: "string" },
        latency: { type: "boolean", default: false },
        snapshot: { type: "boolean", default: true },
        token: { type: "string" },
        "token-file": { type: "string" },
        "max-lag-ms": { type: "string" },
      },
    });
  } catch (error) {
    throw new ConfigError([`${(error as Error).message} (see tickwire tail --help)`]);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) problems.push("at least one topic pattern is needed, e.g. 'xnas.*.quote'");
  const url = values.url ?? (env["TICKWIRE_URL"] || "ws://127.0.0.1:9000/v1/stream");
  if (!/^wss?:\/\/./.test(url))
    problems.push(`--url=${JSON.stringify(url)}: must start with ws:// or wss://`);
  const format = values.format ?? (stdoutIsTty ? "table" : "jsonl");
  if (!(TAIL_FORMATS as readonly string[]).includes(format)) {
    problems.push(`--format=${JSON.stringify(format)}: must be one of ${TAIL_FORMATS.join(", ")}`);
  } else if (format === "table" && !stdoutIsTty) {
    problems.push("--format=table needs a terminal; use jsonl or csv when stdout is a pipe or a file");
  }
  const maxHz = number(values["max-hz"], "--max-hz", problems, (n) => n > 0, "a number above 0");
  const count = number(
    values.count,
    "--count",
    problems,
    (n) => Number.isInteger(n) && n > 0,
    "a whole number above 0",
  );
  let token = values.token ?? (env["TICKWIRE_TOKEN"] || undefined);
  const tokenFile = values["token-file"];
  if (tokenFile !== undefined) {
    if (values.token !== undefined) problems.push("--token and --token-file: give one");
    try {
      token = readFileSync(tokenFile, "utf8").trim();
    } catch (error) {
      problems.push(
        `--token-file=${JSON.stringify(tokenFile)}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      );
    }
  }
  if (token === "") problems.push("the token is empty");
  const maxLagMs = number(
    values["max-lag-ms"],
    "--max-lag-ms",
    problems,
    (n) => Number.isInteger(n) && n > 0,
    "a whole number above 0",
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    token,
    topics: positionals,
    url,
    format: format as TailFormat,
    maxHz,
    count,
    latency: values.latency,
    snapshot: values.snapshot,
    maxLagMs: maxLagMs ?? 1000,
  });
}

function number(
  raw: string | undefined,
  flag: string,
  problems: string[],
  ok: (n: number) => boolean,
  expected: string,
): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || !ok(n)) {
    problems.push(`${flag}=${JSON.stringify(raw)}: must be ${expected}`);
    return undefined;
  }
  return n;
}
