import { parseArgs } from "node:util";
import { OPTIONS, type Config, type OptionSpec } from "./options.ts";

/** Start-up failure: every configuration problem at once, each naming the option and what is expected. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "TICKWIRE_ERR_CONFIG";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

/**
 * Resolves the configuration from flags (highest), then environment variables, then defaults;
 * validates everything and returns a frozen object. The only reader of flags and `process.env`.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const problems: string[] = [];
  // Non-strict parse so that an unknown flag is reported together with every other problem.
  const { values, tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: "string" as const }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const known = new Set(OPTIONS.map((o) => o.flag));
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token?.kind === "option" && !known.has(token.name)) {
      problems.push(`unknown option ${token.rawName} (see tickwire --help)`);
      // `--bogus 1`: the "1" belongs to the unknown option, not a separate problem.
      if (token.value === undefined && tokens[i + 1]?.kind === "positional") i++;
    } else if (token?.kind === "option" && typeof values[token.name] !== "string") {
      problems.push(`${token.rawName} needs a value (see tickwire --help)`);
    } else if (token?.kind === "positional") {
      problems.push(`unexpected argument "${token.value}" (see tickwire --help)`);
    }
  }
  const out: Record<string, number | string> = {};
  for (const spec of OPTIONS) {
    const fromFlag = values[spec.flag];
    const envName = spec.env.find((name) => env[name] !== undefined && env[name] !== "");
    const raw = typeof fromFlag === "string" ? fromFlag : envName !== undefined ? env[envName] : undefined;
    const source = typeof fromFlag === "string" ? `--${spec.flag}` : (envName ?? "default");
    const value = raw === undefined ? spec.default : coerce(spec, raw);
    if (value === undefined) {
      problems.push(`${source}=${JSON.stringify(raw)}: must be an integer (${spec.unit})`);
      continue;
    }
    const problem = spec.check?.(value as number & string);
    if (problem !== undefined) problems.push(`${source}=${JSON.stringify(raw ?? value)}: ${problem}`);
    out[spec.key] = value;
  }
  const backpressure = out["maxBackpressureBytes"];
  const soft = out["slowSoftBytes"];
  const hard = out["slowHardBytes"];
  if (typeof soft === "number" && typeof hard === "number" && hard <= soft) {
    problems.push("slow-hard-bytes must be above slow-soft-bytes");
  }
  if (typeof backpressure === "number" && typeof hard === "number" && backpressure < hard) {
    problems.push("max-backpressure-bytes must be at least slow-hard-bytes");
  }
  const idle = out["idleTimeoutMs"];
  const probe = out["probeIntervalMs"];
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
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out as unknown as Config);
}

function coerce(spec: OptionSpec, raw: string): number | string | undefined {
  if (spec.kind === "string") return raw.trim();
  if (!/^\s*-?\d+\s*$/.test(raw)) return undefined;
  return Number(raw);
}

/** `tickwire serve --help` text: every option with flag, variables, unit and default. */
export function helpText(): string {
  const lines = [
    "Usage: tickwire serve [options]",
    "",
    "Live market-data fan-out: NATS md.<venue>.<symbol>.<type> → WebSocket clients (ws://HOST:PORT/v1/stream).",
    "Each option is also read from the environment variable shown; flags win over variables.",
    "",
    "Options:",
  ];
  for (const o of OPTIONS) {
    lines.push(`  --${o.flag} <${o.unit}>`);
    lines.push(`      ${o.help}`);
    lines.push(
      `      env: ${o.env.join(", ")}; default: ${o.default === "" ? '"" (embedded)' : String(o.default)}`,
    );
  }
  return lines.join("\n");
}
