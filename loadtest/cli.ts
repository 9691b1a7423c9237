/**
 * `tickwire-loadtest`: the bundled load harness (README "Load testing"). Parses flags, runs one load
 * test with a live progress line, writes the JSON result and the HTML report, prints a summary.
 * Exit codes: 0 done, 1 the run failed, 2 bad flags, 3 done but the result is invalid (the harness was
 * the bottleneck: see the result's `validity`).
 */
import { LoadTestOptionsError, helpText, parseOptions, type LoadTestOptions } from "./options.ts";
import { fmt, fmtUs } from "./report-html.ts";
import { summaryText, writeReport } from "./report.ts";
import { runLoadTest } from "./run.ts";

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText());
    return 0;
  }
  let options: LoadTestOptions;
  try {
    options = parseOptions(argv);
  } catch (error) {
    if (error instanceof LoadTestOptionsError) {
      process.stderr.write(`tickwire-loadtest: ${error.message}\n(see --help)\n`);
      return 2;
    }
    throw error;
  }
  const tty = process.stderr.isTTY;
  const live = options.progress === "on" || (options.progress === "auto" && tty);
  let lastLineMs = 0;
  const result = await runLoadTest(options, {
    log: (line) => process.stderr.write(`${tty && live ? "\r\x1b[K" : ""}${line}\n`),
    onSample: (p, phase, totals) => {
      if (!live) return;
      const line =
        `${phase.padEnd(10)} t=${p.tS.toFixed(0).padStart(4)}s  open ${fmt(p.open)}  pub ${fmt(p.publishedPerS)}/s  ` +
        `deliv ${fmt(p.deliveredPerS)}/s  p50 ${fmtUs(p.p50Us)}  p99 ${fmtUs(p.p99Us)}  gaps ${fmt(p.gaps)}  ` +
        `errors ${fmt(totals.errors)}${p.serverCpuPct !== null ? `  server CPU ${fmt(p.serverCpuPct)}%` : ""}`;
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else if (performance.now() - lastLineMs > 5000) {
        lastLineMs = performance.now();
        process.stderr.write(`${line}\n`);
      }
    },
  });
  if (live && tty) process.stderr.write("\r\x1b[K");
  process.stdout.write(`${summaryText(result)}\n`);
  if (options.outDir !== "") {
    const files = writeReport(result, options.outDir, options.name);
    process.stdout.write(`report     ${files.html}\nresult     ${files.json}\n`);
  }
  return result.validity.valid ? 0 : 3;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `\ntickwire-loadtest: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
