/**
 * Server process of bench/idle-memory.ts: runs one server variant alone, so that its RSS is its own
 * (no clients, no other variant's freed-but-kept memory), and measures itself after `global.gc()`.
 * Needs `--expose-gc`. Driven over IPC; exits by itself after `close`.
 */
import { readFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { loadUws } from "../../src/gateway/index.ts";
import {
  defaultConfig,
  startRawUws,
  startTickwire,
  type RawUwsServer,
  type TickwireServer,
} from "./servers.ts";

export type IdleVariant = "raw-uws" | "tickwire";

export interface MemorySample {
  readonly rss: number;
  /**
   * Anonymous resident memory (RssAnon of /proc/self/status; RSS where that is missing): RSS less
   * file-backed pages (node's and uWS's code), which the kernel here pages out and back in on its
   * own (DAMON reclaim is on), moving RSS by megabytes between samples.
   */
  readonly rssAnon: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  /** V8 heap pages actually committed (`total_physical_size`): V8's part of RSS. */
  readonly heapPhysical: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly connections: number;
  /** Subscriptions held (subscriber × topic): tickwire's table count, or raw `ws.subscribe` calls. */
  readonly subscriptions: number;
}

/** Memory 1 s after the last connection came (`early`), and once the idle server has settled. */
export interface MemorySamples {
  readonly early: MemorySample;
  readonly settled: MemorySample;
}

export type ToServer = { readonly type: "measure" } | { readonly type: "close" };
export type FromServer =
  | { readonly type: "listening"; readonly port: number; readonly memory: MemorySamples }
  | { readonly type: "memory"; readonly memory: MemorySamples }
  | { readonly type: "closed" }
  | { readonly type: "error"; readonly message: string };

const variant = process.argv[2] as IdleVariant;
/** Minimum idle time before each sample (see settle()). */
const settleMs = Number(process.argv[3] ?? 0);
const gc = (globalThis as { gc?: () => void }).gc;

function send(message: FromServer): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  if (gc === undefined) throw new Error("idle-server needs node --expose-gc");
  if (variant !== "raw-uws" && variant !== "tickwire") throw new Error(`unknown variant ${String(variant)}`);
  const uws = loadUws();
  const config = defaultConfig();
  let tickwire: TickwireServer | undefined;
  let raw: RawUwsServer | undefined;
  let rawSubscriptions = 0;
  if (variant === "tickwire") {
    tickwire = await startTickwire(uws, config);
  } else {
    raw = await startRawUws(uws, config, () => rawSubscriptions++);
  }
  const measure = async (): Promise<MemorySample> => {
    // Twice, with a turn between, so that objects freed by finalizers of the first pass go too.
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const m = process.memoryUsage();
    return {
      rss: m.rss,
      rssAnon: anonymousRss() ?? m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      heapPhysical: getHeapStatistics().total_physical_size,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      connections: tickwire?.hub.connectionCount ?? raw?.connections() ?? 0,
      subscriptions: tickwire?.hub.table.subscriptionCount ?? rawSubscriptions,
    };
  };
  /**
   * Samples an idle server twice. V8 grows its heap (young generation included) under allocation
   * bursts such as start-up or thousands of subscribes, and its memory reducer gives the pages back
   * some seconds after the burst (at start-up here: heap total 16 → 8.6 MB, RSS −9.5 MB, 8–12 s in).
   * `early` is taken 1 s after the burst; `settled` after at least `settleMs` and once anonymous RSS
   * holds still (two samples 1 s apart within 64 KiB), at most 15 s more.
   */
  const sample = async (): Promise<MemorySamples> => {
    if (settleMs <= 0) {
      const now = await measure();
      return { early: now, settled: now };
    }
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const early = await measure();
    let previous = early;
    while (performance.now() - started < settleMs + 15_000) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const next = await measure();
      const steady = Math.abs(next.rssAnon - previous.rssAnon) < 64 * 1024;
      previous = next;
      if (steady && performance.now() - started >= settleMs) break;
    }
    return { early, settled: previous };
  };
  const server = (tickwire ?? raw)!;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= server.close());
  // The benchmark died or closed the channel: close the server so that this process ends too.
  process.on("disconnect", () => void close());
  send({ type: "listening", port: server.port, memory: await sample() });
  process.on("message", (message: ToServer) => {
    switch (message.type) {
      case "measure":
        sample().then((memory) => send({ type: "memory", memory }), fail);
        return;
      case "close":
        close()
          .then(() => {
            if (tickwire !== undefined && tickwire.internalErrors.length > 0) {
              throw new Error(`tickwire reported ${tickwire.internalErrors.length} internal error(s)`);
            }
            send({ type: "closed" });
            process.disconnect();
          })
          .catch(fail);
        return;
    }
  });
}

function anonymousRss(): number | undefined {
  try {
    const match = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return match?.[1] !== undefined ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function fail(error: unknown): void {
  send({ type: "error", message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
  process.disconnect();
}

main().catch(fail);
