/**
 * Encoding one quote event: tickwire's hand-written `EventEncoder.encode` (src/protocol/event-encoder.ts)
 * vs msgpackr `new Packr({ useRecords: false }).pack`, same events, same run, order alternating.
 *
 * Reported per variant: ns per encode (median and best of the rounds), JS heap bytes allocated per
 * encode (garbage included: V8's used heap summed across the GCs of the loop, from v8.GCProfiler),
 * ArrayBuffer bytes per encode kept alive by the outputs (both carve outputs out of shared slabs),
 * output size, and whether it decodes back to the event.
 *
 *   cd bench && node --import tsx --expose-gc encode.ts [--iterations 2000000] [--rounds 7] [--smoke]
 */
import { deepStrictEqual } from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GCProfiler, getHeapStatistics } from "node:v8";
import { Packr, Unpackr } from "msgpackr";
import { EventEncoder, type QuoteEvent } from "../src/protocol/index.ts";
import { parseOptions } from "./lib/args.ts";
import { BENCH_DIR, infoMarkdown, int, median, runInfo, table, writeResults } from "./lib/run-info.ts";

const opts = parseOptions(
  "encode: EventEncoder.encode vs msgpackr Packr({useRecords:false}).pack for a quote event",
  { iterations: 2_000_000, rounds: 7, allocIterations: 200_000 },
  { iterations: 20_000, rounds: 2, allocIterations: 5_000 },
  {
    iterations: { help: "encodes per timed round and variant" },
    rounds: { help: "timed rounds (variant order alternates)" },
    allocIterations: { help: "encodes for the allocation measurements" },
  },
);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined)
  throw new Error("encode.ts needs --expose-gc (npm --prefix bench run encode passes it)");
const collect = gc;

/** 64 distinct quote events as the ingest builds them: ~µs timestamps above 2^32, float prices. */
const EVENT_COUNT = 64;
const events: QuoteEvent[] = Array.from({ length: EVENT_COUNT }, (_, i) => {
  const te = 1_764_000_000_000_000 + i * 1_337;
  return {
    e: "quote",
    t: `xnas.SYM${String(i).padStart(2, "0")}.quote`,
    q: 100_000 + i,
    te,
    ts: te + 150,
    bp: 187.25 + i / 100,
    bz: 100 + i,
    ap: 187.27 + i / 100,
    az: 300 + i * 7,
  };
});

type Encode = (event: QuoteEvent) => Uint8Array;
const encoder = new EventEncoder();
const packr = new Packr({ useRecords: false });
const VARIANTS: readonly { readonly name: string; readonly encode: Encode }[] = [
  { name: "EventEncoder.encode", encode: (event) => encoder.encode(event) },
  { name: "msgpackr Packr({useRecords:false}).pack", encode: (event) => packr.pack(event) },
];

/** Keeps results observable so the loop is not optimised away. */
let blackhole = 0;

function timeRound(encode: Encode, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const bytes = encode(events[i & (EVENT_COUNT - 1)]!);
    blackhole ^= bytes[bytes.length - 1]!;
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

/** JS heap bytes allocated per encode: used heap at the end minus at the start, plus what each GC freed. */
function heapAllocatedPerOp(encode: Encode, iterations: number): number {
  collect();
  const profiler = new GCProfiler();
  profiler.start();
  const startUsed = getHeapStatistics().used_heap_size;
  for (let i = 0; i < iterations; i++) {
    const bytes = encode(events[i & (EVENT_COUNT - 1)]!);
    blackhole ^= bytes[0]!;
  }
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

/** ArrayBuffer bytes per encode that the outputs keep alive (their share of the slabs they view). */
function retainedBuffersPerOp(encode: Encode, iterations: number): number {
  const kept: Uint8Array[] = new Array<Uint8Array>(iterations);
  collect();
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < iterations; i++) kept[i] = encode(events[i & (EVENT_COUNT - 1)]!);
  collect();
  const after = process.memoryUsage().arrayBuffers;
  blackhole ^= kept[iterations - 1]![0]!;
  return (after - before) / iterations;
}

/** Decodes 64-bit integers to numbers (exact below 2^53, as our µs timestamps are). */
const unpackr = new Unpackr({ useRecords: false, int64AsType: "number" });
/** msgpackr's defaults: 64-bit integers become BigInt, which a JS client may not expect. */
const defaultUnpackr = new Unpackr({ useRecords: false });
const sample = events[7]!;
const checks = VARIANTS.map((v) => {
  let decodesBack = true;
  let numbersWithMsgpackrDefaults = true;
  let totalBytes = 0;
  for (const event of events) {
    const bytes = Uint8Array.from(v.encode(event));
    totalBytes += bytes.length;
    try {
      deepStrictEqual(unpackr.unpack(bytes), { ...event });
    } catch {
      decodesBack = false;
    }
    const plain = defaultUnpackr.unpack(bytes) as Record<string, unknown>;
    if (typeof plain["te"] !== "number" || typeof plain["ts"] !== "number")
      numbersWithMsgpackrDefaults = false;
  }
  return {
    name: v.name,
    meanBytes: totalBytes / events.length,
    decodesBack,
    numbersWithMsgpackrDefaults,
    sampleHex: Buffer.from(v.encode(sample)).toString("hex"),
  };
});

const info = runInfo();
console.log(
  `encode: ${JSON.stringify({ iterations: opts.iterations, rounds: opts.rounds, allocIterations: opts.allocIterations })}`,
);

// Warm-up: let both reach optimised code before anything is measured.
for (const v of VARIANTS) timeRound(v.encode, Math.min(opts.iterations, 200_000));

const timings = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
for (let round = 0; round < opts.rounds; round++) {
  const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
  for (const v of order) timings.get(v.name)!.push(timeRound(v.encode, opts.iterations));
}

const results = VARIANTS.map((v, i) => {
  const ns = timings.get(v.name)!;
  return {
    variant: v.name,
    nsPerOpMedian: Math.round(median(ns) * 10) / 10,
    nsPerOpBest: Math.round(Math.min(...ns) * 10) / 10,
    nsPerOpRounds: ns.map((x) => Math.round(x * 10) / 10),
    heapBytesAllocatedPerOp: Math.round(heapAllocatedPerOp(v.encode, opts.allocIterations) * 10) / 10,
    arrayBufferBytesRetainedPerOp: Math.round(retainedBuffersPerOp(v.encode, opts.allocIterations) * 10) / 10,
    outputBytes: Math.round(checks[i]!.meanBytes * 10) / 10,
    decodesBack: checks[i]!.decodesBack,
    timestampsAreNumbersWithMsgpackrDefaults: checks[i]!.numbersWithMsgpackrDefaults,
    sampleHex: checks[i]!.sampleHex,
  };
});
const [ours, theirs] = results as [(typeof results)[number], (typeof results)[number]];
const speedup = theirs.nsPerOpMedian / ours.nsPerOpMedian;

for (const r of results) {
  console.log(
    `${r.variant.padEnd(40)} ${String(r.nsPerOpMedian).padStart(7)} ns/op (best ${r.nsPerOpBest}),` +
      ` ${r.heapBytesAllocatedPerOp} B JS heap/op, ${r.arrayBufferBytesRetainedPerOp} B ArrayBuffer/op,` +
      ` ${r.outputBytes} B out, decodes back: ${r.decodesBack}`,
  );
}
console.log(`EventEncoder is ${speedup.toFixed(2)}× msgpackr's speed (median ns/op ratio)`);

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: ${EVENT_COUNT} distinct quote events in turn; ${opts.rounds} timed rounds × ` +
    `${int(opts.iterations)} encodes per variant (order alternating), after a warm-up; ` +
    `${int(opts.allocIterations)} encodes for each allocation measurement; msgpackr ${msgpackrVersion()}`,
  "",
  table(
    [
      "variant",
      "ns/op (median)",
      "ns/op (best)",
      "JS heap B allocated/op",
      "ArrayBuffer B kept/op",
      "output B",
      "decodes back to the event",
      "te/ts are numbers with msgpackr's default Unpackr",
    ],
    results.map((r) => [
      r.variant,
      r.nsPerOpMedian,
      r.nsPerOpBest,
      r.heapBytesAllocatedPerOp,
      r.arrayBufferBytesRetainedPerOp,
      r.outputBytes,
      r.decodesBack ? "yes" : "no",
      r.timestampsAreNumbersWithMsgpackrDefaults ? "yes" : "no (BigInt)",
    ]),
  ),
  "",
  `EventEncoder: **${speedup.toFixed(2)}×** msgpackr's speed (median ns/op of msgpackr ÷ EventEncoder's).`,
  "",
  `Sample event \`${sample.t}\`: EventEncoder \`${ours.sampleHex}\`; msgpackr \`${theirs.sampleHex}\` ` +
    "(msgpackr writes the µs timestamps `te`/`ts`, above 2^32, as float64 `cb …`; EventEncoder as uint64 `cf …`, " +
    'which msgpackr\'s default `Unpackr` decodes to BigInt: JS clients on msgpackr need `int64AsType: "number"`). ' +
    '"Decodes back" uses `new Unpackr({ useRecords: false, int64AsType: "number" })`.',
].join("\n");

const files = writeResults(
  opts.resultsDir,
  "encode",
  "Encoding a quote event: EventEncoder vs msgpackr",
  {
    info,
    parameters: {
      iterations: opts.iterations,
      rounds: opts.rounds,
      allocIterations: opts.allocIterations,
      events: EVENT_COUNT,
    },
    speedup,
    smoke: opts.smoke,
    results,
    blackhole,
  },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);

if (!results.every((r) => r.decodesBack)) {
  console.error("encode: an encoder's output does not decode back to the event");
  process.exitCode = 1;
}

function msgpackrVersion(): string {
  // The version this package pins (its package.json is not in msgpackr's "exports").
  const path = join(BENCH_DIR, "node_modules", "msgpackr", "package.json");
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}
