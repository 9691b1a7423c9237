import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_RESULTS_DIR } from "./run-info.ts";

type Value = number | string;
export type Spec<T extends Record<string, Value>> = { readonly [K in keyof T]: { readonly help: string } };

export interface Common {
  /** Tiny parameters (CI keeps the benchmark from rotting); results go to a temporary folder. */
  readonly smoke: boolean;
  readonly resultsDir: string;
}

/** What a smoke pass says instead of a verdict on a target: its sizes are too small to measure anything. */
export const SMOKE_VERDICT = "n/a (smoke size, not a measurement)";

/** The verdict on a "tickwire ÷ reference ≥ target" ratio: met, MISSED, n/a, or the smoke verdict. */
export function ratioVerdict(smoke: boolean, ratio: number | null, target: number): string {
  if (smoke) return SMOKE_VERDICT;
  if (ratio === null) return "n/a";
  return ratio >= target ? `met (≥ ${target}×)` : `MISSED (< ${target}×)`;
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Flags of a benchmark: `--some-key VALUE` for each key of `defaults` (numbers checked), `--smoke`
 * (applies `smokeDefaults` first, explicit flags still win), `--results-dir DIR`, `--help`.
 */
export function parseOptions<T extends Record<string, Value>>(
  usage: string,
  defaults: T,
  smokeDefaults: Partial<T>,
  spec: Spec<T>,
): T & Common {
  const options: Record<string, { type: "string" | "boolean" }> = {
    smoke: { type: "boolean" },
    help: { type: "boolean" },
    "results-dir": { type: "string" },
  };
  for (const key of Object.keys(defaults)) options[kebab(key)] = { type: "string" };
  const { values } = parseArgs({ options, strict: true, allowPositionals: false });
  if (values["help"] === true) {
    const lines = Object.keys(defaults).map(
      (key) =>
        `  --${kebab(key)} <${typeof defaults[key]}>  ${spec[key]?.help ?? ""} (default ${defaults[key]}` +
        (smokeDefaults[key] !== undefined ? `; --smoke: ${smokeDefaults[key]})` : ")"),
    );
    process.stdout.write(
      `${usage}\n\n${lines.join("\n")}\n  --smoke  tiny parameters, results in a temporary folder\n` +
        `  --results-dir <dir>  where results go (default bench/results)\n`,
    );
    process.exit(0);
  }
  const smoke = values["smoke"] === true;
  const out: Record<string, Value> = { ...defaults, ...(smoke ? smokeDefaults : {}) };
  const problems: string[] = [];
  for (const key of Object.keys(defaults)) {
    const raw = values[kebab(key)];
    if (typeof raw !== "string") continue;
    if (typeof defaults[key] === "number") {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0)
        problems.push(`--${kebab(key)} ${raw}: must be a non-negative number`);
      else out[key] = n;
    } else {
      out[key] = raw;
    }
  }
  if (problems.length > 0) {
    process.stderr.write(`${problems.join("\n")}\n`);
    process.exit(2);
  }
  const resultsDir =
    typeof values["results-dir"] === "string"
      ? values["results-dir"]
      : smoke
        ? join(tmpdir(), "tickwire-bench-smoke")
        : DEFAULT_RESULTS_DIR;
  return { ...(out as T), smoke, resultsDir };
}
