// Which test files each suite runs, declared once: scripts/run-tests.ts runs a suite's files and refuses to run
// while any test file in the repository belongs to no suite (a test nobody runs is worse than none), and
// test/python-client.test.ts runs the Python suite's files. Node 20's `--test` takes file names, not globs
// (globs came in Node 21), and npm's `sh` has no `**`: hence a walk instead of a pattern in package.json.
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A suite: every file under one of `roots` (folders, relative to the root) whose name matches `file`. */
export interface Suite {
  readonly roots: readonly string[];
  readonly file: RegExp;
  /** The npm script (or test) that runs it, for the message naming a file no suite runs. */
  readonly runBy: string;
}

const TS_TEST = /\.test\.ts$/;
const PY_TEST = /^test_.*\.py$/;

export const SUITES = {
  unit: { roots: ["src", "loadtest", "clients", "scripts"], file: TS_TEST, runBy: "npm run test:unit" },
  integration: { roots: ["test"], file: TS_TEST, runBy: "npm run test:integration" },
  python: { roots: ["clients/python"], file: PY_TEST, runBy: "test/python-client.test.ts" },
} as const satisfies Record<string, Suite>;

export type SuiteName = keyof typeof SUITES;

/** Folders never searched: installed packages, build output, VCS data, bytecode caches. */
const SKIPPED = new Set(["node_modules", "dist", "__pycache__", "build"]);

/** Every file below `dir` (absolute) whose base name matches `file`, as root-relative paths with `/`, sorted. */
function walk(dir: string, file: RegExp, into: string[]): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return into;
    throw error;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(".") || SKIPPED.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, file, into);
    else if (entry.isFile() && file.test(entry.name)) into.push(relative(ROOT, path).split(sep).join("/"));
  }
  return into;
}

/** The files a suite runs (root-relative, sorted). */
export function suiteFiles(name: SuiteName): string[] {
  const suite: Suite = SUITES[name];
  return suite.roots.flatMap((root) => walk(join(ROOT, root), suite.file, [])).sort();
}

/** Test files (`*.test.ts`, `test_*.py`) anywhere in the repository that no suite runs. */
export function unrunTestFiles(): string[] {
  const run = new Set((Object.keys(SUITES) as SuiteName[]).flatMap(suiteFiles));
  const all = [...walk(ROOT, TS_TEST, []), ...walk(ROOT, PY_TEST, [])];
  return all.filter((path) => !run.has(path)).sort();
}
