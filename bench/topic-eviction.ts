/**
 * Topic eviction past `--max-topics` (issue 11 §2): how long one call that creates a topic holds the
 * event loop when it sets off an eviction. One subscriber holds `z.>`; new subjects arrive under it,
 * each a new topic (created through `CacheBound.topic`, as the ingest does) and one update (the
 * last-value cache, as the hub's publish does). At the default bound a scan evicts 10,000 topics.
 * Two variants of the same code in the same run, order alternating over rounds:
 *
 *   chunked   the eviction as tickwire runs it: `EVICT_CHUNK` topics per call, the rest on the next
 *             creations (the hub's tick too, which this loop never yields to)
 *   one-shot  a chunk larger than any scan: the whole eviction in the call that set it off, as before
 *             the chunks (commit 2845d66)
 *
 * Reported per variant: the longest single call, the median and p99 of the calls that evicted, and the
 * eviction's total time per evicted topic (the same work, spread or not). Times are wall-clock around
 * each call (GC pauses that land in a call count against it), so run it on a quiet machine.
 *
 *   cd bench && node --import tsx --expose-gc topic-eviction.ts [--max-topics 100000] [--topics 400000] [--rounds 3]
 */
import { PerformanceObserver } from "node:perf_hooks";
import { EventEncoder, type MarketEvent } from "../src/protocol/index.ts";
import { SubscriptionTable } from "../src/subscriptions/index.ts";
import {
  CacheBound,
  EVICT_CHUNK,
  EncodedEvent,
  HubStats,
  LastValues,
  type InFlight,
  Session,
  SendResult,
  type FrameSink,
} from "../src/fanout/index.ts";
import { parseOptions } from "./lib/args.ts";
import { infoMarkdown, median, percentile, rounded, runInfo, table, writeResults } from "./lib/run-info.ts";
import { CountingInterest } from "./lib/servers.ts";

const VARIANTS = ["chunked", "one-shot"] as const;
type Variant = (typeof VARIANTS)[number];

const opts = parseOptions(
  "topic-eviction: longest call that creates a topic past --max-topics, chunked eviction vs one-shot",
  { maxTopics: 100_000, topics: 400_000, rounds: 3 },
  { maxTopics: 2_000, topics: 8_000, rounds: 1 },
  {
    maxTopics: { help: "the bound (tickwire serve --max-topics)" },
    topics: { help: "new subjects per variant and round (past the bound: 10% of it per scan)" },
    rounds: { help: "rounds; each runs both variants, order alternating" },
  },
);

/** A socket that takes everything: the subscriber exists for the table, nothing is written here. */
const sink: FrameSink = {
  send: () => SendResult.SENT,
  cork: (fn) => fn(),
  bufferedBytes: () => 0,
  ping: () => SendResult.SENT,
  close: () => {},
};

interface VariantRun {
  readonly variant: Variant;
  readonly round: number;
  readonly evicted: number;
  /** Calls that evicted something. */
  readonly evictingCalls: number;
  readonly maxCallMs: number;
  /**
   * The same without the GC pauses inside it (the eviction's own share): over the evicting calls and
   * the longest other call. A major GC of the ~100,000-topic heap lands in whichever call is running.
   */
  readonly maxCallNoGcMs: number;
  readonly maxEvictingCallNoGcMs: number;
  readonly gcPauses: number;
  readonly gcMaxMs: number;
  readonly p50EvictingCallMs: number;
  readonly p99EvictingCallMs: number;
  /** Σ of the evicting calls ÷ topics evicted, µs. */
  readonly usPerEvicted: number;
  /** Largest table size seen (the bound plus what a pending eviction lets through). */
  readonly maxTableSize: number;
}

const encoder = new EventEncoder();

/** GC pauses of this process, [start, end] in performance.now() time, as they are reported. */
const gcPauses: [number, number][] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push([entry.startTime, entry.startTime + entry.duration]);
}).observe({ entryTypes: ["gc"] });

async function runVariant(variant: Variant, round: number): Promise<VariantRun> {
  globalThis.gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  gcPauses.length = 0;
  const interest = new CountingInterest();
  const subscriptions = new SubscriptionTable<Session, EncodedEvent>(interest, 10);
  const subscriber = new Session("msgpack", sink, 100, performance.now());
  subscriptions.add(subscriber, ["z.>"]);
  const lastValues = new LastValues();
  const stats = new HubStats();
  const chunk = variant === "chunked" ? EVICT_CHUNK : Number.MAX_SAFE_INTEGER;
  // No maxHz subscriber and no conflating one here: nothing is in flight.
  const nothingInFlight: InFlight = { scheduledRates: () => [], conflating: () => [] };
  const bound = new CacheBound(opts.maxTopics, subscriptions, lastValues, stats, nothingInFlight, chunk);
  const evicting: number[] = [];
  /** [start, end] of every evicting call and of the longest other one, for the GC overlap. */
  const windows: [number, number][] = [];
  let longestOther: [number, number] = [0, 0];
  let maxCallMs = 0;
  let maxTableSize = 0;
  for (let i = 0; i < opts.topics; i++) {
    const name = `z.S${i}.quote`;
    const before = stats.topicsEvicted;
    const t0 = performance.now();
    const topic = bound.topic(name);
    const t1 = performance.now();
    const ms = t1 - t0;
    if (ms > maxCallMs) maxCallMs = ms;
    if (stats.topicsEvicted !== before) {
      evicting.push(ms);
      windows.push([t0, t1]);
    } else if (ms > longestOther[1] - longestOther[0]) {
      longestOther = [t0, t1];
    }
    if (subscriptions.topicCount > maxTableSize) maxTableSize = subscriptions.topicCount;
    const q = ++topic.seq;
    const event: MarketEvent = { e: "quote", t: name, q, te: q, ts: q, bp: 1, bz: 1, ap: 2, az: 1 };
    lastValues.remember(topic, new EncodedEvent(event, encoder.encode(event)));
  }
  await new Promise((resolve) => setTimeout(resolve, 100)); // the GC entries of the run arrive
  const pauses = gcPauses.splice(0);
  /** A call's time without the GC pauses that fell inside it. */
  const withoutGc = ([t0, t1]: [number, number]): number =>
    t1 - t0 - pauses.reduce((sum, [g0, g1]) => sum + Math.max(0, Math.min(t1, g1) - Math.max(t0, g0)), 0);
  const evictingNoGc = windows.map(withoutGc);
  const sorted = [...evicting].sort((a, b) => a - b);
  const total = evicting.reduce((a, b) => a + b, 0);
  return {
    variant,
    round,
    evicted: stats.topicsEvicted,
    evictingCalls: evicting.length,
    maxCallMs: rounded(maxCallMs, 2),
    maxCallNoGcMs: rounded(Math.max(withoutGc(longestOther), ...evictingNoGc), 2),
    maxEvictingCallNoGcMs: rounded(Math.max(0, ...evictingNoGc), 2),
    gcPauses: pauses.length,
    gcMaxMs: rounded(Math.max(0, ...pauses.map(([g0, g1]) => g1 - g0)), 2),
    p50EvictingCallMs: rounded(percentile(sorted, 0.5), 2),
    p99EvictingCallMs: rounded(percentile(sorted, 0.99), 2),
    usPerEvicted: rounded((total * 1000) / Math.max(1, stats.topicsEvicted), 2),
    maxTableSize,
  };
}

const info = runInfo();
const runs: VariantRun[] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const order = round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
  for (const variant of order) {
    const run = await runVariant(variant, round);
    runs.push(run);
    console.log(
      `round ${round} ${variant.padEnd(8)} longest call ${run.maxCallMs} ms (${run.maxCallNoGcMs} ms without GC; ` +
        `${run.gcPauses} GC pauses, longest ${run.gcMaxMs} ms); evicting calls ${run.evictingCalls}: ` +
        `p50 ${run.p50EvictingCallMs} ms, p99 ${run.p99EvictingCallMs} ms; ${run.usPerEvicted} µs per evicted topic; ` +
        `${run.evicted} evicted; table at most ${run.maxTableSize}`,
    );
  }
}
const summary = VARIANTS.map((variant) => {
  const mine = runs.filter((r) => r.variant === variant);
  return {
    variant,
    medianMaxCallMs: median(mine.map((r) => r.maxCallMs)),
    medianMaxCallNoGcMs: median(mine.map((r) => r.maxCallNoGcMs)),
    medianP99EvictingCallMs: median(mine.map((r) => r.p99EvictingCallMs)),
    medianUsPerEvicted: median(mine.map((r) => r.usPerEvicted)),
    maxTableSize: Math.max(...mine.map((r) => r.maxTableSize)),
  };
});
console.log(
  summary
    .map(
      (s) =>
        `${s.variant}: longest call ${s.medianMaxCallMs} ms (median of rounds), ${s.medianUsPerEvicted} µs per evicted topic`,
    )
    .join("; "),
);

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: --max-topics ${opts.maxTopics}, ${opts.topics} new subjects under a held \`z.>\` per variant ` +
    `and round, ${opts.rounds} round(s), order alternating; chunk ${EVICT_CHUNK} (one-shot: unbounded)`,
  "",
  table(
    [
      "variant",
      "longest call ms (median of rounds)",
      "the same without GC",
      "p99 evicting call ms",
      "µs per evicted topic",
      "largest table",
    ],
    summary.map((s) => [
      s.variant,
      s.medianMaxCallMs,
      s.medianMaxCallNoGcMs,
      s.medianP99EvictingCallMs,
      s.medianUsPerEvicted,
      s.maxTableSize,
    ]),
  ),
  "",
  table(
    [
      "round",
      "variant",
      "longest call ms",
      "without GC",
      "longest evicting call without GC",
      "GC pauses (longest ms)",
      "evicting calls",
      "p50 ms",
      "p99 ms",
      "µs per evicted",
      "evicted",
      "largest table",
    ],
    runs.map((r) => [
      r.round,
      r.variant,
      r.maxCallMs,
      r.maxCallNoGcMs,
      r.maxEvictingCallNoGcMs,
      `${r.gcPauses} (${r.gcMaxMs})`,
      r.evictingCalls,
      r.p50EvictingCallMs,
      r.p99EvictingCallMs,
      r.usPerEvicted,
      r.evicted,
      r.maxTableSize,
    ]),
  ),
].join("\n");
const files = writeResults(
  opts.resultsDir,
  "topic-eviction",
  "Topic eviction: longest call, chunked vs one-shot",
  {
    info,
    parameters: { maxTopics: opts.maxTopics, topics: opts.topics, rounds: opts.rounds, chunk: EVICT_CHUNK },
    summary,
    smoke: opts.smoke,
    runs,
  },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);
