/**
 * Two fan-out ceilings at once, sharing one CPU: an A/B of the server that this machine's swings do
 * not drown. Each round starts two fanout-ceiling.ts processes, one variant each, with their servers
 * pinned to the same CPU (`--server-cpu`, default 0) and their clients to the other (`--client-cpu`,
 * default 1), publishing over the same seconds (`--start-at-ms`). Both servers are always runnable,
 * so the scheduler gives each half of that CPU, and each delivers what half a core buys at its own
 * cost per message: A's delivered ÷ B's is the cost ratio B ÷ A, measured over the same seconds.
 *
 * Why: run one after the other (fanout-ceiling.ts), the same variant's rounds spread ±15–20% on this
 * VM, in regimes lasting tens of seconds (a 5 s series stays at ~1.66 M for 20 s, then jumps to
 * 2.3 M: bench/results/2026-11-30-probe-cost-analysis.md), which no number of short sequential rounds
 * resolves to the 3% of issue 12's target. Running side by side, both variants sit in the same regime.
 *
 * Each server's CPU share is reported: the ratio means what it says only while both are near 50%.
 *
 *   cd bench && node --import tsx paired-ceiling.ts [--variants tickwire,tickwire-no-probes] [--rounds 4]
 *   cd bench && node --import tsx paired-ceiling.ts --variants tickwire,tickwire-auth
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseOptions, ratioVerdict } from "./lib/args.ts";
import {
  childExecArgv,
  infoMarkdown,
  int,
  median,
  rounded,
  runInfo,
  table,
  writeResults,
} from "./lib/run-info.ts";

const FANOUT_CEILING = fileURLToPath(new URL("./fanout-ceiling.ts", import.meta.url));

/** A ÷ B at least, for the pairs an issue set a target on. */
const TARGETS: Readonly<Record<string, number>> = {
  "tickwire/tickwire-no-probes": 0.97, // issue 12: the default probe period costs ≤ 3%
  "tickwire-auth/tickwire": 0.98, // issue 13: tokens verified at connect cost ≤ 2%
};

/** Time given to both processes to start and connect their clients before publishing begins. */
const CONNECT_ALLOWANCE_MS = 20_000;

const opts = parseOptions(
  "paired-ceiling: two fanout-ceiling.ts variants at once, servers sharing one CPU; A's delivered ÷ B's",
  {
    variants: "tickwire,tickwire-no-probes",
    clients: 1000,
    warmupS: 10,
    durationS: 30,
    seriesS: 5,
    rounds: 4,
    serverCpu: "0",
    clientCpu: "1",
    serveArgs: "",
    clientWait: "sleep",
  },
  { clients: 50, warmupS: 0.5, durationS: 1, seriesS: 0, rounds: 1 },
  {
    variants: { help: "A,B: two of fanout-ceiling.ts's variants" },
    clients: { help: "WebSocket clients of each server" },
    warmupS: { help: "seconds of publishing before counting" },
    durationS: { help: "seconds counted" },
    seriesS: {
      help: "each process also samples every this many seconds (0: no series); the pairs' ratios per slice are reported",
    },
    rounds: { help: "rounds, each a fresh pair of processes" },
    serverCpu: { help: "the CPU both servers are pinned to (taskset list; empty: not pinned)" },
    clientCpu: { help: "the CPU(s) both client fleets are pinned to (empty: not pinned)" },
    serveArgs: { help: "fanout-ceiling.ts --serve-args for both processes (more `tickwire serve` flags)" },
    clientWait: { help: "fanout-ceiling.ts --client-wait of both client fleets: sleep or busy-poll" },
  },
);
const [variantA, variantB, ...extra] = opts.variants.split(",").map((v) => v.trim());
if (variantA === undefined || variantB === undefined || extra.length > 0 || variantA === variantB) {
  throw new Error(`--variants: two different variants (A,B), not "${opts.variants}"`);
}
const pair = `${variantA}/${variantB}`;
const target = TARGETS[pair];
/** Pinning needs two CPUs and a working `taskset` (util-linux); without either, both run unpinned. */
const pinned =
  availableParallelism() >= 2 && spawnSync("taskset", ["-c", opts.serverCpu || "0", "true"]).status === 0;

/** What this benchmark reads of a fanout-ceiling.ts run (its results JSON). */
interface CeilingRun {
  readonly variant: string;
  readonly deliveredPerSec: number;
  readonly serverCpuPct: number;
  readonly serverCpuNsPerEvent: number;
  readonly clientCpuPct: number;
  readonly probesPerSec: number;
  readonly lagEpisodesInWindow: number;
  readonly series: readonly { readonly atS: number; readonly deliveredPerSec: number }[];
}

interface PairRound {
  readonly round: number;
  readonly a: CeilingRun;
  readonly b: CeilingRun;
  /** A's delivered msgs/s ÷ B's over the same seconds. */
  readonly ratio: number;
  /** B's server CPU ns per message ÷ A's: the same ratio corrected for unequal CPU shares. */
  readonly cpuRatio: number;
  /** A ÷ B per series slice (same seconds in both processes). */
  readonly sliceRatios: readonly number[];
}

/** One fanout-ceiling.ts process for one variant; resolves to its run. */
async function runCeiling(variant: string, startAtMs: number): Promise<CeilingRun> {
  const dir = mkdtempSync(join(tmpdir(), `tickwire-paired-${variant}-`));
  try {
    const args = [
      ...childExecArgv(),
      FANOUT_CEILING,
      ...["--variants", variant, "--rounds", "1", "--clients", String(opts.clients)],
      ...["--warmup-s", String(opts.warmupS), "--duration-s", String(opts.durationS)],
      ...["--series-s", String(opts.seriesS), "--start-at-ms", String(startAtMs), "--results-dir", dir],
      ...(pinned && opts.clientCpu !== "" ? ["--client-cpus", opts.clientCpu] : []),
      ...(opts.serveArgs !== "" ? [`--serve-args=${opts.serveArgs}`] : []),
      ...["--client-wait", opts.clientWait],
    ];
    const [command, argv] =
      pinned && opts.serverCpu !== ""
        ? ["taskset", ["-c", opts.serverCpu, process.execPath, ...args]]
        : [process.execPath, args];
    const child = spawn(command, argv, { stdio: ["ignore", "inherit", "inherit"] });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", resolve);
    });
    if (code !== 0) throw new Error(`paired-ceiling: the ${variant} process exited with ${code}`);
    // One file, named by the date the child started (which may be past midnight).
    const file = readdirSync(dir).find((name) => name.endsWith("-fanout-ceiling.json"));
    if (file === undefined) throw new Error(`paired-ceiling: the ${variant} process wrote no results`);
    const records = JSON.parse(readFileSync(join(dir, file), "utf8")) as { runs: CeilingRun[] }[];
    const run = records.at(-1)?.runs[0];
    if (run === undefined) throw new Error(`paired-ceiling: the ${variant} process recorded no run`);
    return run;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const info = runInfo();
console.log(
  `paired-ceiling: ${pair}, ${opts.clients} clients each, ${opts.warmupS} s + ${opts.durationS} s, ` +
    `${opts.rounds} round(s); servers on CPU ${pinned ? opts.serverCpu || "any" : "any (1 core)"}, clients on ${pinned ? opts.clientCpu || "any" : "any"}`,
);
const rounds: PairRound[] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const startAtMs = Date.now() + (opts.smoke ? 5_000 : CONNECT_ALLOWANCE_MS);
  // Which process starts (and connects) first alternates, although both publish from the same instant.
  const order = round % 2 === 1 ? [variantA, variantB] : [variantB, variantA];
  const [first, second] = await Promise.all(order.map((v) => runCeiling(v, startAtMs)));
  const a = order[0] === variantA ? first! : second!;
  const b = order[0] === variantA ? second! : first!;
  const slices = Math.min(a.series.length, b.series.length);
  const sliceRatios: number[] = [];
  for (let i = 0; i < slices; i++) {
    const bRate = b.series[i]!.deliveredPerSec;
    if (bRate > 0) sliceRatios.push(rounded(a.series[i]!.deliveredPerSec / bRate, 3));
  }
  const pairRound: PairRound = {
    round,
    a,
    b,
    ratio: rounded(a.deliveredPerSec / Math.max(1, b.deliveredPerSec), 3),
    cpuRatio: rounded(b.serverCpuNsPerEvent / Math.max(1, a.serverCpuNsPerEvent), 3),
    sliceRatios,
  };
  rounds.push(pairRound);
  console.log(
    `round ${round}: ${pair} = ${pairRound.ratio} (CPU per msg ${pairRound.cpuRatio}; server CPU ` +
      `${a.serverCpuPct}% / ${b.serverCpuPct}%)` +
      (sliceRatios.length > 0 ? `; per ${opts.seriesS} s slice: ${sliceRatios.join(", ")}` : ""),
  );
}

const sum = (runs: readonly CeilingRun[]): number => runs.reduce((s, r) => s + r.deliveredPerSec, 0);
/** Σ A ÷ Σ B over the rounds (equal windows): every counted second weighs the same. */
const pooled = rounded(sum(rounds.map((r) => r.a)) / Math.max(1, sum(rounds.map((r) => r.b))), 3);
const medianRatio = rounded(median(rounds.map((r) => r.ratio)), 3);
const allSlices = rounds.flatMap((r) => r.sliceRatios);
const verdict =
  target !== undefined ? ratioVerdict(opts.smoke, pooled, target) : "n/a (no target for this pair)";
console.log(
  `${pair}: pooled ${pooled}, median round ${medianRatio} (rounds: ${rounds.map((r) => r.ratio).join(", ")})` +
    (target !== undefined ? `; target ≥ ${target}: ${verdict}` : ""),
);

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: ${pair}, each ${opts.clients} clients (fanout-ceiling.ts defaults otherwise), ` +
    `${opts.warmupS} s warm-up + ${opts.durationS} s counted, ${opts.rounds} round(s); servers pinned to CPU ` +
    `${pinned ? opts.serverCpu || "(none)" : "(1 core: none)"}, clients to ${pinned ? opts.clientCpu || "(none)" : "(none)"}` +
    (opts.serveArgs !== "" ? `; tickwire serve flags \`${opts.serveArgs}\`` : "") +
    `; clients ${opts.clientWait === "busy-poll" ? "busy-polling" : "sleeping when idle"}`,
  "",
  `${pair} = **${pooled}** pooled over the rounds (Σ delivered A ÷ Σ delivered B), median round ${medianRatio}` +
    (target !== undefined ? `; target ≥ ${target}: **${verdict}**` : "") +
    (allSlices.length > 0
      ? `. Per ${opts.seriesS} s slice: median ${rounded(median(allSlices), 3)}, ` +
        `${Math.min(...allSlices)}–${Math.max(...allSlices)} over ${allSlices.length} slices.`
      : "."),
  "",
  table(
    [
      "round",
      "A ÷ B delivered",
      "B ÷ A CPU ns/msg",
      `${variantA} delivered/s`,
      `${variantB} delivered/s`,
      "server CPU % A / B",
      "clients CPU % A / B",
      "probes/s A / B",
      "lag episodes A / B",
      "A ÷ B per slice",
    ],
    rounds.map((r) => [
      r.round,
      r.ratio,
      r.cpuRatio,
      int(r.a.deliveredPerSec),
      int(r.b.deliveredPerSec),
      `${r.a.serverCpuPct} / ${r.b.serverCpuPct}`,
      `${r.a.clientCpuPct} / ${r.b.clientCpuPct}`,
      `${int(r.a.probesPerSec)} / ${int(r.b.probesPerSec)}`,
      `${r.a.lagEpisodesInWindow} / ${r.b.lagEpisodesInWindow}`,
      r.sliceRatios.join(", ") || "n/a",
    ]),
  ),
].join("\n");

const files = writeResults(
  opts.resultsDir,
  "paired-ceiling",
  "Paired fan-out ceilings: two variants at once on one CPU",
  {
    info,
    parameters: {
      variants: [variantA, variantB],
      clients: opts.clients,
      warmupS: opts.warmupS,
      durationS: opts.durationS,
      seriesS: opts.seriesS,
      rounds: opts.rounds,
      serverCpu: pinned ? opts.serverCpu : null,
      clientCpu: pinned ? opts.clientCpu : null,
      serveArgs: opts.serveArgs,
      clientWait: opts.clientWait,
    },
    pooled,
    medianRatio,
    target: target ?? null,
    smoke: opts.smoke,
    rounds,
  },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);
if (rounds.some((r) => r.a.deliveredPerSec <= 0 || r.b.deliveredPerSec <= 0)) {
  console.error("paired-ceiling: a variant delivered nothing; the benchmark is broken");
  process.exitCode = 1;
}
