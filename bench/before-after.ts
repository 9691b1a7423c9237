/**
 * Before/after of two source trees in the same run: the fan-out ceiling (tickwire variant) and the
 * encoder, each tree's own `bench/` running its own `../src`, alternating old/new every round
 * (old first in odd rounds, new first in even ones) so that drift in the machine's load hits both.
 *
 * Each benchmark runs as a child process from `<tree>/bench` with `--results-dir` pointing into a
 * scratch folder (nothing is written into either tree); this script reads the children's JSON and
 * writes one combined result, `<date>-<name>.{md,json}`, to `--results-dir` (default bench/results).
 *
 * Headline figures per round: delivered events/s at the clients, and server CPU (user + system) per
 * delivered event. On a shared machine the rate moves with everyone else's load; the CPU per event
 * much less, so it is the figure to trust when they disagree.
 *
 *   cd bench && node --import tsx before-after.ts --old /path/to/old-tree [--new ..] [--rounds 3]
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseOptions, ratioVerdict } from "./lib/args.ts";
import { encodeSameProcess, type SameProcessEncode } from "./lib/encode-same-process.ts";
import { REPO_DIR, infoMarkdown, int, median, runInfo, table, writeResults } from "./lib/run-info.ts";

const opts = parseOptions(
  "before-after: fan-out ceiling and encoder, old tree vs new tree, alternating, same run",
  {
    old: "",
    new: REPO_DIR,
    rounds: 3,
    clients: 1000,
    warmupS: 2,
    durationS: 10,
    encodeIterations: 2_000_000,
    encodeRounds: 5,
    workDir: "",
    name: "before-after",
    benches: "fanout,encode",
    sameProcessBlocks: 21,
  },
  { rounds: 1, clients: 50, warmupS: 0.5, durationS: 1, encodeIterations: 20_000, encodeRounds: 2 },
  {
    old: { help: "the old tree (a checkout with node_modules in it and in its bench/)" },
    new: { help: "the new tree" },
    rounds: { help: "rounds; each runs both trees, order alternating" },
    clients: { help: "fan-out: WebSocket clients" },
    warmupS: { help: "fan-out: seconds of publishing before counting" },
    durationS: { help: "fan-out: seconds counted" },
    encodeIterations: { help: "encoder: encodes per timed round and variant" },
    encodeRounds: { help: "encoder: timed rounds inside each encoder run" },
    workDir: {
      help: "scratch folder for the children's results (default: a new folder under the OS tmpdir)",
    },
    name: { help: "results file name after the date" },
    benches: { help: "comma-separated, of fanout, encode, encode-same-process" },
    sameProcessBlocks: {
      help: "encode-same-process: alternating blocks of --encode-iterations encodes per tree, in this process",
    },
  },
);
if (opts.old === "") {
  process.stderr.write("before-after: --old <tree> is required\n");
  process.exit(2);
}

const benches = new Set(opts.benches.split(",").map((b) => b.trim()));
for (const b of benches) {
  if (b !== "fanout" && b !== "encode" && b !== "encode-same-process") {
    process.stderr.write(
      `before-after: --benches: unknown benchmark "${b}" (known: fanout, encode, encode-same-process)\n`,
    );
    process.exit(2);
  }
}

const TREES = ["old", "new"] as const;
type Tree = (typeof TREES)[number];
const treeDir: Record<Tree, string> = { old: resolve(opts.old), new: resolve(opts.new) };
const workDir =
  opts.workDir !== ""
    ? resolve(opts.workDir)
    : join(tmpdir(), `tickwire-before-after-${new Date().toISOString().replace(/[:.]/g, "-")}`);

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
}
function commitOf(dir: string): string {
  const commit = git(dir, "rev-parse", "--short", "HEAD");
  return git(dir, "status", "--porcelain", "--", "src").length > 0 ? `${commit}-dirty` : commit;
}
const commits: Record<Tree, string> = { old: commitOf(treeDir.old), new: commitOf(treeDir.new) };

/** Runs `node <args>` in `<tree>/bench`, output shown as it comes; resolves with the exact command. */
async function runChild(tree: Tree, args: readonly string[]): Promise<string> {
  const cwd = join(treeDir[tree], "bench");
  const command = `(cd ${cwd} && node ${args.join(" ")})`;
  console.log(`\n[${tree} ${commits[tree]}] ${command}`);
  const child = spawn(process.execPath, args, { cwd, stdio: "inherit" });
  const code = await new Promise<number | null>((done, fail) => {
    child.once("error", fail);
    child.once("exit", done);
  });
  if (code !== 0) throw new Error(`before-after: ${command} exited with ${code}`);
  return command;
}

/** The one record a child appended to `<dir>/<date>-<bench>.json`. */
function readRecord(dir: string, bench: string): Record<string, unknown> {
  const file = readdirSync(dir).find((f) => f.endsWith(`-${bench}.json`));
  if (file === undefined) throw new Error(`before-after: no ${bench} results in ${dir}`);
  const runs = JSON.parse(readFileSync(join(dir, file), "utf8")) as Record<string, unknown>[];
  return runs[runs.length - 1]!;
}

interface FanoutRound {
  readonly round: number;
  readonly tree: Tree;
  readonly commit: string;
  readonly position: number;
  readonly loadAverage1m: number;
  readonly deliveredPerSec: number;
  readonly serverCpuPct: number;
  readonly serverCpuNsPerEvent: number;
  readonly machineBusyPct: number | null;
  readonly lossPct: number;
  readonly command: string;
}
interface EncodeRound {
  readonly round: number;
  readonly tree: Tree;
  readonly commit: string;
  readonly position: number;
  readonly loadAverage1m: number;
  /** EventEncoder.encode, median ns per encode over the child's timed rounds. */
  readonly eventEncoderNs: number;
  /** msgpackr's pack of the same events in the same child: the same code in both trees, a control. */
  readonly msgpackrNs: number;
  readonly eventEncoderHeapBytesPerOp: number;
  readonly command: string;
}

const load1 = (): number => Math.round((loadavg()[0] ?? 0) * 100) / 100;
const info = runInfo();
const fanout: FanoutRound[] = [];
const encode: EncodeRound[] = [];

for (let round = 1; round <= opts.rounds; round++) {
  const order: readonly Tree[] = round % 2 === 1 ? TREES : [...TREES].reverse();
  for (const [position, tree] of benches.has("fanout") ? order.entries() : []) {
    const dir = join(workDir, `fanout-${tree}-r${round}`);
    mkdirSync(dir, { recursive: true });
    const loadAverage1m = load1();
    const command = await runChild(tree, [
      "--import",
      "tsx",
      "fanout-ceiling.ts",
      "--variants",
      "tickwire",
      "--rounds",
      "1",
      "--clients",
      String(opts.clients),
      "--warmup-s",
      String(opts.warmupS),
      "--duration-s",
      String(opts.durationS),
      "--results-dir",
      dir,
    ]);
    const run = (readRecord(dir, "fanout-ceiling")["runs"] as Record<string, number | null>[])[0]!;
    fanout.push({
      round,
      tree,
      commit: commits[tree],
      position: position + 1,
      loadAverage1m,
      deliveredPerSec: run["deliveredPerSec"]!,
      serverCpuPct: run["serverCpuPct"]!,
      serverCpuNsPerEvent: run["serverCpuNsPerEvent"]!,
      machineBusyPct: run["machineBusyPct"] ?? null,
      lossPct: run["lossPct"]!,
      command,
    });
  }
  for (const [position, tree] of benches.has("encode") ? order.entries() : []) {
    const dir = join(workDir, `encode-${tree}-r${round}`);
    mkdirSync(dir, { recursive: true });
    const loadAverage1m = load1();
    const command = await runChild(tree, [
      "--import",
      "tsx",
      "--expose-gc",
      "encode.ts",
      "--iterations",
      String(opts.encodeIterations),
      "--rounds",
      String(opts.encodeRounds),
      "--results-dir",
      dir,
    ]);
    const results = readRecord(dir, "encode")["results"] as Record<string, number | string>[];
    const ours = results.find((r) => r["variant"] === "EventEncoder.encode")!;
    const theirs = results.find((r) => r["variant"] !== "EventEncoder.encode")!;
    encode.push({
      round,
      tree,
      commit: commits[tree],
      position: position + 1,
      loadAverage1m,
      eventEncoderNs: ours["nsPerOpMedian"] as number,
      msgpackrNs: theirs["nsPerOpMedian"] as number,
      eventEncoderHeapBytesPerOp: ours["heapBytesAllocatedPerOp"] as number,
      command,
    });
  }
}

let sameProcess: SameProcessEncode | undefined;
if (benches.has("encode-same-process")) {
  console.log(
    `\n[both] EventEncoder of each tree in this process, ${opts.sameProcessBlocks} alternating blocks`,
  );
  sameProcess = await encodeSameProcess(
    treeDir.old,
    treeDir.new,
    opts.encodeIterations,
    opts.sameProcessBlocks,
  );
}

const r3 = (n: number): number => Math.round(n * 1000) / 1000;
const med = <T>(rows: readonly T[], tree: Tree, pick: (row: T) => number): number =>
  Math.round(median(rows.filter((r) => (r as { tree: Tree }).tree === tree).map(pick)) * 100) / 100;
/** Within each round, new ÷ old (same conditions, back to back). */
const paired = <T extends { round: number; tree: Tree }>(rows: readonly T[], pick: (row: T) => number) =>
  Array.from({ length: opts.rounds }, (_, i) => {
    const o = rows.find((r) => r.round === i + 1 && r.tree === "old");
    const n = rows.find((r) => r.round === i + 1 && r.tree === "new");
    return o !== undefined && n !== undefined && pick(o) > 0 ? r3(pick(n) / pick(o)) : null;
  });

const summary = {
  fanout: {
    medianDeliveredPerSec: {
      old: med(fanout, "old", (r) => r.deliveredPerSec),
      new: med(fanout, "new", (r) => r.deliveredPerSec),
    },
    medianServerCpuNsPerEvent: {
      old: med(fanout, "old", (r) => r.serverCpuNsPerEvent),
      new: med(fanout, "new", (r) => r.serverCpuNsPerEvent),
    },
    /** new ÷ old of the medians; target ≥ 0.97. */
    deliveredRatio: 0,
    /** old ns ÷ new ns: the throughput ratio if each server had a core to itself (> 1 = new is cheaper). */
    cpuPerEventRatio: 0,
    deliveredRatioPerRound: paired(fanout, (r) => r.deliveredPerSec),
    cpuNsPerEventNewOverOldPerRound: paired(fanout, (r) => r.serverCpuNsPerEvent),
  },
  encode: {
    medianEventEncoderNs: {
      old: med(encode, "old", (r) => r.eventEncoderNs),
      new: med(encode, "new", (r) => r.eventEncoderNs),
    },
    medianMsgpackrNs: {
      old: med(encode, "old", (r) => r.msgpackrNs),
      new: med(encode, "new", (r) => r.msgpackrNs),
    },
    /** old ns ÷ new ns: encodes per second, new ÷ old (> 1 = new is faster). */
    speedRatio: 0,
    speedRatioPerRound: paired(encode, (r) => 1 / r.eventEncoderNs),
  },
};
const f = summary.fanout;
f.deliveredRatio = r3(f.medianDeliveredPerSec.new / f.medianDeliveredPerSec.old);
f.cpuPerEventRatio = r3(f.medianServerCpuNsPerEvent.old / f.medianServerCpuNsPerEvent.new);
const e = summary.encode;
e.speedRatio = r3(e.medianEventEncoderNs.old / e.medianEventEncoderNs.new);

const TARGET = 0.97;
const verdict = ratioVerdict(opts.smoke, f.deliveredRatio, TARGET);
const sp =
  sameProcess === undefined
    ? undefined
    : {
        medianOldNs: Math.round(median(sameProcess.old) * 100) / 100,
        medianNewNs: Math.round(median(sameProcess.new) * 100) / 100,
        /** old ns ÷ new ns of the medians (> 1 = new is faster). */
        speedRatio: r3(median(sameProcess.old) / median(sameProcess.new)),
        /** Per block pair, old ns ÷ new ns. */
        speedRatioPerPair: sameProcess.old.map((o, i) => r3(o / sameProcess!.new[i]!)),
      };
console.log(
  "\n" +
    [
      fanout.length === 0
        ? ""
        : `fan-out delivered/s new/old = ${f.deliveredRatio} (per round ${f.deliveredRatioPerRound.join(", ")}; ` +
          `target ${verdict}); server CPU per event old/new = ${f.cpuPerEventRatio}`,
      encode.length === 0 ? "" : `encoder speed new/old = ${e.speedRatio}`,
      sp === undefined ? "" : `encoder speed new/old, same process = ${sp.speedRatio}`,
    ]
      .filter((x) => x !== "")
      .join("; "),
);

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- old tree: \`${commits.old}\` (${treeDir.old}); new tree: \`${commits.new}\` (${treeDir.new})`,
  `- parameters: ${opts.rounds} round(s) of ${[...benches].join(" and ")}, old first in odd rounds and new first in even ones; fan-out: ` +
    `tickwire variant only, ${opts.clients} clients × 10 of 100 topics, ${opts.warmupS} s warm-up + ` +
    `${opts.durationS} s counted per run; encoder: ${int(opts.encodeIterations)} encodes × ${opts.encodeRounds} ` +
    "timed rounds per run",
  "",
  ...(fanout.length === 0
    ? []
    : [
        "### Fan-out ceiling (tickwire variant)",
        "",
        table(
          ["", "old", "new", "new ÷ old"],
          [
            [
              "delivered events/s (median)",
              int(f.medianDeliveredPerSec.old),
              int(f.medianDeliveredPerSec.new),
              `**${f.deliveredRatio}** (target ≥ ${TARGET}: ${verdict})`,
            ],
            [
              "server CPU ns per delivered event (median)",
              f.medianServerCpuNsPerEvent.old,
              f.medianServerCpuNsPerEvent.new,
              `${r3(f.medianServerCpuNsPerEvent.new / f.medianServerCpuNsPerEvent.old)} (old ÷ new = ${f.cpuPerEventRatio})`,
            ],
          ],
        ),
        "",
        `Per-round new ÷ old: delivered ${f.deliveredRatioPerRound.join(", ")}; CPU ns/event ${f.cpuNsPerEventNewOverOldPerRound.join(", ")}.`,
        "",
        table(
          [
            "round",
            "tree",
            "commit",
            "ran",
            "load avg 1m",
            "delivered/s",
            "server CPU %",
            "server CPU ns/event",
            "machine busy %",
            "loss %",
          ],
          fanout.map((r) => [
            r.round,
            r.tree,
            `\`${r.commit}\``,
            r.position === 1 ? "first" : "second",
            r.loadAverage1m,
            int(r.deliveredPerSec),
            r.serverCpuPct,
            r.serverCpuNsPerEvent,
            r.machineBusyPct ?? "n/a",
            r.lossPct,
          ]),
        ),
      ]),
  "",
  ...(encode.length === 0
    ? []
    : [
        "### Encoder (`EventEncoder.encode` of a quote; msgpackr in the same child as a control)",
        "",
        table(
          ["", "old", "new", "ratio"],
          [
            [
              "EventEncoder ns/encode (median)",
              e.medianEventEncoderNs.old,
              e.medianEventEncoderNs.new,
              `speed new ÷ old **${e.speedRatio}**`,
            ],
            [
              "msgpackr ns/encode (median, control: same code in both)",
              e.medianMsgpackrNs.old,
              e.medianMsgpackrNs.new,
              r3(e.medianMsgpackrNs.old / e.medianMsgpackrNs.new),
            ],
          ],
        ),
        "",
        `Per-round encoder speed new ÷ old: ${e.speedRatioPerRound.join(", ")}.`,
        "",
        table(
          [
            "round",
            "tree",
            "ran",
            "load avg 1m",
            "EventEncoder ns",
            "msgpackr ns",
            "EventEncoder JS heap B/op",
          ],
          encode.map((r) => [
            r.round,
            r.tree,
            r.position === 1 ? "first" : "second",
            r.loadAverage1m,
            r.eventEncoderNs,
            r.msgpackrNs,
            r.eventEncoderHeapBytesPerOp,
          ]),
        ),
      ]),
  "",
  ...(sameProcess === undefined || sp === undefined
    ? []
    : [
        "### Encoder, both trees in one process (alternating blocks)",
        "",
        `Each tree's \`EventEncoder\` loaded from its own \`src/\` into the before-after process; ` +
          `${sameProcess.blocks} blocks of ${int(sameProcess.iterations)} encodes each, old and new back to back ` +
          "(order alternating), so both see the same moment's load.",
        "",
        table(
          ["", "old", "new", "speed new ÷ old"],
          [
            ["ns/encode (median of blocks)", sp.medianOldNs, sp.medianNewNs, `**${sp.speedRatio}**`],
            [
              "ns/encode (best block)",
              Math.min(...sameProcess.old),
              Math.min(...sameProcess.new),
              r3(Math.min(...sameProcess.old) / Math.min(...sameProcess.new)),
            ],
          ],
        ),
        "",
        `Per block pair, speed new ÷ old: ${sp.speedRatioPerPair.join(", ")}.`,
        "",
      ]),
  "### Commands (each from the tree's `bench/`)",
  "",
  ...[...fanout, ...encode].map((r) => `- round ${r.round} ${r.tree}: \`${r.command}\``),
].join("\n");

const files = writeResults(
  opts.resultsDir,
  opts.name,
  `Before/after, same run: fan-out ceiling and encoder, ${commits.old} vs ${commits.new}`,
  {
    info,
    trees: { old: { dir: treeDir.old, commit: commits.old }, new: { dir: treeDir.new, commit: commits.new } },
    parameters: {
      rounds: opts.rounds,
      clients: opts.clients,
      warmupS: opts.warmupS,
      durationS: opts.durationS,
      encodeIterations: opts.encodeIterations,
      encodeRounds: opts.encodeRounds,
      benches: [...benches],
    },
    summary: { ...summary, encodeSameProcess: sp },
    target: TARGET,
    smoke: opts.smoke,
    fanout,
    encode,
    encodeSameProcess: sameProcess,
  },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);
