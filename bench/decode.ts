/**
 * Decoding one feed payload (a quote as a feed handler publishes it), the per-message decode of the ingest:
 * before = msgpackr `new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" })` as
 * src/protocol/feed.ts used until issue 11; after = `decodeFeedPayload` (src/protocol/strict-msgpack.ts,
 * no extension types, bounded). Same payloads, same run, order alternating. Reported per variant: ns per
 * decode (median and best of the rounds) and JS heap bytes allocated per decode (V8's used heap summed
 * across the GCs of the loop, from v8.GCProfiler).
 *
 *   cd bench && node --import tsx --expose-gc decode.ts [--iterations 2000000] [--rounds 7] [--smoke]
 */
import { deepStrictEqual } from "node:assert/strict";
import { GCProfiler, getHeapStatistics } from "node:v8";
import { Unpackr } from "msgpackr";
import { decodeFeedPayload, encodeFeedPayload } from "../src/protocol/index.ts";
import { parseOptions } from "./lib/args.ts";
import { infoMarkdown, int, median, runInfo, table, writeResults } from "./lib/run-info.ts";

const opts = parseOptions(
  "decode: decodeFeedPayload (strict decoder) vs msgpackr Unpackr.unpack for a quote feed payload",
  { iterations: 2_000_000, rounds: 7, allocIterations: 200_000 },
  { iterations: 20_000, rounds: 2, allocIterations: 5_000 },
  {
    iterations: { help: "decodes per timed round and variant" },
    rounds: { help: "timed rounds (variant order alternates)" },
    allocIterations: { help: "decodes for the allocation measurement" },
  },
);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined)
  throw new Error("decode.ts needs --expose-gc (npm --prefix bench run decode passes it)");
const collect = gc;

/** 64 distinct quote payloads as the demo feed publishes them: `te` above 2^32 (uint64), float prices. */
const COUNT = 64;
const payloads: Uint8Array[] = Array.from({ length: COUNT }, (_, i) =>
  Uint8Array.from(
    encodeFeedPayload({
      te: 1_764_000_000_000_000 + i * 1_337,
      bp: 187.25 + i / 100,
      bz: 100 + i,
      ap: 187.27 + i / 100,
      az: 300 + i * 7,
    }),
  ),
);

type Decode = (payload: Uint8Array) => unknown;
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const VARIANTS: readonly { readonly name: string; readonly decode: Decode }[] = [
  {
    name: "decodeFeedPayload (strict decoder)",
    decode: (payload) => {
      const decoded = decodeFeedPayload(payload, 4096);
      return decoded.ok ? decoded.fields : undefined;
    },
  },
  { name: "msgpackr Unpackr.unpack (before)", decode: (payload) => unpackr.unpack(payload) },
];

let blackhole = 0;

function timeRound(decode: Decode, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const value = decode(payloads[i & (COUNT - 1)]!) as { bz: number };
    blackhole ^= value.bz;
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

function heapAllocatedPerOp(decode: Decode, iterations: number): number {
  collect();
  const profiler = new GCProfiler();
  profiler.start();
  const startUsed = getHeapStatistics().used_heap_size;
  for (let i = 0; i < iterations; i++) blackhole ^= (decode(payloads[i & (COUNT - 1)]!) as { bz: number }).bz;
  const endUsed = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let allocated = 0;
  let previous = startUsed;
  for (const gcRun of statistics) {
    allocated += gcRun.beforeGC.heapStatistics.usedHeapSize - previous;
    previous = gcRun.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += endUsed - previous;
  return allocated / iterations;
}

for (const payload of payloads) deepStrictEqual(VARIANTS[0]!.decode(payload), VARIANTS[1]!.decode(payload));

const info = runInfo();
for (const v of VARIANTS) timeRound(v.decode, Math.min(opts.iterations, 200_000));
const timings = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
for (let round = 0; round < opts.rounds; round++) {
  const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
  for (const v of order) timings.get(v.name)!.push(timeRound(v.decode, opts.iterations));
}
const results = VARIANTS.map((v) => {
  const ns = timings.get(v.name)!;
  return {
    variant: v.name,
    nsPerOpMedian: Math.round(median(ns) * 10) / 10,
    nsPerOpBest: Math.round(Math.min(...ns) * 10) / 10,
    nsPerOpRounds: ns.map((x) => Math.round(x * 10) / 10),
    heapBytesAllocatedPerOp: Math.round(heapAllocatedPerOp(v.decode, opts.allocIterations) * 10) / 10,
  };
});
const [after, before] = results as [(typeof results)[number], (typeof results)[number]];
const ratio = after.nsPerOpMedian / before.nsPerOpMedian;
for (const r of results) {
  console.log(
    `${r.variant.padEnd(40)} ${String(r.nsPerOpMedian).padStart(7)} ns/op (best ${r.nsPerOpBest}), ${r.heapBytesAllocatedPerOp} B JS heap/op`,
  );
}
console.log(`strict decoder: ${ratio.toFixed(2)}× msgpackr's time per decode (median ns/op ratio)`);

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: ${COUNT} distinct quote payloads (${payloads[0]!.length} bytes) in turn; ${opts.rounds} timed rounds × ` +
    `${int(opts.iterations)} decodes per variant (order alternating), after a warm-up; ` +
    `${int(opts.allocIterations)} decodes for the allocation measurement`,
  "",
  table(
    ["variant", "ns/op (median)", "ns/op (best)", "JS heap B allocated/op"],
    results.map((r) => [r.variant, r.nsPerOpMedian, r.nsPerOpBest, r.heapBytesAllocatedPerOp]),
  ),
  "",
  `Strict decoder: **${ratio.toFixed(2)}×** msgpackr's time per decode (median ns/op ratio, lower is better).`,
].join("\n");
const files = writeResults(
  opts.resultsDir,
  "decode",
  "Decoding a feed payload: strict decoder vs msgpackr",
  {
    info,
    parameters: { iterations: opts.iterations, rounds: opts.rounds, allocIterations: opts.allocIterations },
    ratio,
    smoke: opts.smoke,
    results,
    blackhole,
  },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);
