import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { QuoteEvent } from "../../src/protocol/index.ts";

/** What both trees' `EventEncoder` offer (the one method measured). */
interface Encoder {
  encode(event: QuoteEvent): Uint8Array;
}

/** One tree's `EventEncoder`, loaded from its own `src/` (tsx compiles it). */
async function encoderOf(tree: string): Promise<Encoder> {
  const url = pathToFileURL(join(tree, "src", "protocol", "index.ts")).href;
  const mod = (await import(url)) as { EventEncoder: new () => Encoder };
  return new mod.EventEncoder();
}

/** The 64 quote events of encode.ts: ~µs timestamps above 2^32, float prices. */
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

let blackhole = 0;

function nsPerEncode(encoder: Encoder, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const bytes = encoder.encode(events[i & (EVENT_COUNT - 1)]!);
    blackhole ^= bytes[bytes.length - 1]!;
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

export interface SameProcessEncode {
  /** ns per encode of each block, in the order run. */
  readonly old: readonly number[];
  readonly new: readonly number[];
  /** Blocks alternate old/new (old first in even rounds): both see the same moment's load. */
  readonly blocks: number;
  readonly iterations: number;
  readonly blackhole: number;
}

/**
 * Both trees' `EventEncoder` in this one process, timed in alternating blocks of `iterations` encodes:
 * a machine shared with other work slows both alike within a block pair, which separate processes
 * minutes apart cannot promise. The timing loop is shared, so its call site sees both classes (two
 * maps, the same for both).
 */
export async function encodeSameProcess(
  oldTree: string,
  newTree: string,
  iterations: number,
  blocks: number,
): Promise<SameProcessEncode> {
  const encoders = { old: await encoderOf(oldTree), new: await encoderOf(newTree) };
  for (const e of [encoders.old, encoders.new, encoders.old, encoders.new]) nsPerEncode(e, 200_000);
  const out = { old: [] as number[], new: [] as number[] };
  for (let b = 0; b < blocks; b++) {
    const order = b % 2 === 0 ? (["old", "new"] as const) : (["new", "old"] as const);
    for (const tree of order) out[tree].push(Math.round(nsPerEncode(encoders[tree], iterations) * 10) / 10);
  }
  return { ...out, blocks, iterations, blackhole };
}
