/**
 * The workload model: which topics exist, what each client subscribes to, and how many clients every
 * topic reaches. Pure and deterministic (a client's plan depends only on the model and its index), so
 * each worker process derives its own clients' plans and the coordinator derives the same expected
 * delivery counts without shipping plans around.
 */
import type { LoadTestOptions } from "./options.ts";

export interface WorkloadModel {
  /** Venue token of every topic, e.g. `xload`. */
  readonly venue: string;
  /** Distinct symbols, named `S0000`, `S0001`, … in popularity order (S0000 is the hottest). */
  readonly symbols: number;
  /** Event types per symbol (each symbol × type is one topic). */
  readonly types: readonly ("trade" | "quote" | "bar")[];
  /** Topics (or symbol wildcards) each client subscribes to. */
  readonly topicsPerClient: number;
  /**
   * Popularity skew: 0 spreads subscriptions evenly (client i takes topics i·T … i·T+T−1, wrapping);
   * s > 0 draws them with Zipf weights 1/rank^s, a few hot symbols and a long tail.
   */
  readonly skew: number;
  /** Fraction of clients (0–1) that subscribe with symbol wildcards `<venue>.<symbol>.>` instead of topics. */
  readonly wildcardShare: number;
  /** Fraction of clients (0–1) that send `maxHz` in their subscribe params. */
  readonly maxHzShare: number;
  /** The `maxHz` those clients ask for (events per second per topic). */
  readonly maxHz: number;
  readonly seed: number;
}

/** The workload model of a run's options (each worker derives the same model from the same options). */
export function modelOf(o: LoadTestOptions): WorkloadModel {
  return {
    venue: o.venue,
    symbols: o.symbols,
    types: o.types.split(",").map((t) => t.trim()) as WorkloadModel["types"],
    topicsPerClient: o.topicsPerClient,
    skew: o.skew,
    wildcardShare: o.wildcardShare,
    maxHzShare: o.maxHzShare,
    maxHz: o.maxHz,
    seed: o.seed,
  };
}

export interface ClientPlan {
  readonly index: number;
  /** Subscribe patterns, in request order. */
  readonly patterns: readonly string[];
  /** `maxHz` to send, or undefined. */
  readonly maxHz: number | undefined;
  readonly wildcard: boolean;
}

export function symbolName(rank: number, symbols: number): string {
  return `S${String(rank).padStart(Math.max(4, String(symbols - 1).length), "0")}`;
}

/** Every topic of the model, symbol-major: topic k is symbol ⌊k / types⌋, type k mod types. */
export function topicNames(model: WorkloadModel): string[] {
  const names: string[] = [];
  for (let s = 0; s < model.symbols; s++) {
    for (const type of model.types) names.push(`${model.venue}.${symbolName(s, model.symbols)}.${type}`);
  }
  return names;
}

/**
 * Client `index` is in a share `s` of the clients when the fractional part of index·φ is below `s`:
 * deterministic, spread evenly over the index range, and ⌊s·C⌋ ± 1 clients of any C.
 */
export function inShare(index: number, share: number, salt = 0): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  const x = (index + 1) * 0.6180339887498949 + salt * 0.4142135623730951;
  return x - Math.floor(x) < share;
}

/** mulberry32: a tiny seeded PRNG, enough for drawing subscriptions reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cumulative Zipf weights over `n` ranks, cached per (n, s). */
const cumulativeCache = new Map<string, Float64Array>();
function zipfCumulative(n: number, s: number): Float64Array {
  const key = `${n}:${s}`;
  let cumulative = cumulativeCache.get(key);
  if (cumulative === undefined) {
    cumulative = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) cumulative[r] = sum += 1 / (r + 1) ** s;
    cumulativeCache.set(key, cumulative);
  }
  return cumulative;
}

function drawRank(cumulative: Float64Array, u: number): number {
  const target = u * cumulative[cumulative.length - 1]!;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What client `index` subscribes to. */
export function planOf(model: WorkloadModel, index: number): ClientPlan {
  const topicCount = model.symbols * model.types.length;
  const wildcard = inShare(index, model.wildcardShare, 1);
  const maxHz = inShare(index, model.maxHzShare, 2) ? model.maxHz : undefined;
  // A wildcard client picks symbols (each `<venue>.<symbol>.>` covers all its types); others pick topics.
  const universe = wildcard ? model.symbols : topicCount;
  const wanted = Math.min(model.topicsPerClient, universe);
  const picked: number[] = [];
  if (model.skew <= 0) {
    for (let k = 0; k < wanted; k++) picked.push((index * model.topicsPerClient + k) % universe);
  } else {
    // Zipf over symbols; a topic pick then takes a uniformly random type of the drawn symbol.
    const random = prng((model.seed * 0x9e3779b1) ^ (index + 1));
    const cumulative = zipfCumulative(model.symbols, model.skew);
    const seen = new Set<number>();
    for (let attempt = 0; picked.length < wanted && attempt < wanted * 50; attempt++) {
      const symbol = drawRank(cumulative, random());
      const item = wildcard
        ? symbol
        : symbol * model.types.length + Math.floor(random() * model.types.length);
      if (!seen.has(item)) {
        seen.add(item);
        picked.push(item);
      }
    }
  }
  const patterns = picked.map((item) => {
    if (wildcard) return `${model.venue}.${symbolName(item, model.symbols)}.>`;
    const symbol = Math.floor(item / model.types.length);
    return `${model.venue}.${symbolName(symbol, model.symbols)}.${model.types[item % model.types.length]!}`;
  });
  return { index, patterns, maxHz, wildcard };
}

/** Topic indices (see {@link topicNames}) a plan receives, each once. */
export function topicsOfPlan(model: WorkloadModel, plan: ClientPlan): number[] {
  const types = model.types.length;
  const out = new Set<number>();
  for (const pattern of plan.patterns) {
    const [, symbol, type] = pattern.split(".");
    const rank = Number((symbol ?? "").slice(1));
    if (type === ">") for (let t = 0; t < types; t++) out.add(rank * types + t);
    else out.add(rank * types + model.types.indexOf(type as "trade" | "quote" | "bar"));
  }
  return [...out];
}

/** Subscribers per topic index when clients [0, clients) are all connected. */
export function subscribersPerTopic(model: WorkloadModel, clients: number): number[] {
  const counts = new Array<number>(model.symbols * model.types.length).fill(0);
  for (let i = 0; i < clients; i++) {
    for (const t of topicsOfPlan(model, planOf(model, i))) counts[t]!++;
  }
  return counts;
}
