// `npm run test:unit` / `test:integration`: runs one suite of scripts/test-suites.ts with node:test, after
// checking that every test file in the repository belongs to some suite (else it names the file and fails).
//   node --import tsx scripts/run-tests.ts <unit|integration> [node --test flags...]
//   node --import tsx scripts/run-tests.ts --check      # only the check
import { spawnSync } from "node:child_process";
import { ROOT, SUITES, suiteFiles, unrunTestFiles, type SuiteName } from "./test-suites.ts";

const [name, ...flags] = process.argv.slice(2);

const orphans = unrunTestFiles();
if (orphans.length > 0) {
  const where = Object.values(SUITES)
    .map((suite) => `${suite.roots.join(", ")} (${suite.runBy})`)
    .join("; ");
  process.stderr.write(
    `run-tests: ${orphans.length} test file(s) that no suite runs:\n` +
      orphans.map((path) => `  ${path}\n`).join("") +
      `move each under a suite's folder (${where}) or add its folder to SUITES in scripts/test-suites.ts\n`,
  );
  process.exit(1);
}
if (name === "--check") process.exit(0);

if (name !== "unit" && name !== "integration") {
  process.stderr.write(
    `run-tests: expected a suite name (unit or integration) or --check, got ${String(name)}\n`,
  );
  process.exit(2);
}
const files = suiteFiles(name satisfies SuiteName);
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", ...flags, ...files], {
  cwd: ROOT,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
