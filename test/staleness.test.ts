import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { BufferingProxy } from "./helpers/buffering-proxy.ts";
import { RawClient, type Message } from "./helpers/raw-client.ts";
import { eventually, quote, startStack, type Stack } from "./helpers/stack.ts";

/**
 * Bounded staleness (issue 12): a slow reader sees prices at most about 2 × max-lag-ms old, whatever
 * buffers sit between it and the gateway. The feed is issue 12's: 2,000 quotes/s over 20 topics.
 */
const TOPICS = Array.from({ length: 20 }, (_, i) => `xnas.S${i}.quote`);
const MAX_LAG_MS = 500;
const RATE_PER_SEC = 2000;
const FEED_MS = 12_000;
/** The first seconds are the gateway learning the reader's throughput; the bound holds after them. */
const WARMUP_MS = 5000;
/** A correctness bound with room for a loaded machine: 2 × max-lag-ms plus 3 s. */
const BOUND_MS = 2 * MAX_LAG_MS + 3000;

/** Publishes the feed for `durationMs` (catching up after timer delays); returns the updates published. */
async function feed(stack: Stack, durationMs: number): Promise<number> {
  const start = Date.now();
  let published = 0;
  for (;;) {
    const elapsed = Date.now() - start;
    if (elapsed >= durationMs) break;
    const due = Math.floor((elapsed * RATE_PER_SEC) / 1000);
    while (published < due) {
      const topic = TOPICS[published % TOPICS.length] as string;
      stack.publish(topic, quote(100 + Math.floor(published / TOPICS.length)));
      published++;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await stack.publisher.flush();
  return published;
}

const isData = (m: Message): boolean =>
  typeof m["e"] === "string" && m["e"] !== "heartbeat" && m["e"] !== "snapshot_end";

/**
 * The age (ms) of the newest price the client had seen, just before each data event it read after
 * `fromMs` and at `untilMs`: the worst over the window, and the median.
 */
function staleness(client: RawClient, fromMs: number, untilMs: number): { p50: number; max: number } {
  const ages: number[] = [];
  let newestTeMs = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < client.messages.length; i++) {
    const m = client.messages[i] as Message;
    if (!isData(m)) continue;
    const at = client.receivedAt[i] as number;
    if (at > untilMs) break;
    if (at >= fromMs) ages.push(at - newestTeMs);
    newestTeMs = Math.max(newestTeMs, (m["te"] as number) / 1000);
  }
  ages.push(untilMs - newestTeMs);
  ages.sort((a, b) => a - b);
  return { p50: ages[Math.floor(ages.length / 2)] as number, max: ages.at(-1) as number };
}

/**
 * Per topic: every event follows the previous one (q + 1), or is CONFLATED and says how many updates it
 * stands for (q − n = previous q). Returns the events and the updates merged into them.
 */
function accountFor(
  client: RawClient,
  qBefore: ReadonlyMap<string, number>,
): { events: number; merged: number; conflatedEvents: number } {
  const lastQ = new Map(qBefore);
  let events = 0;
  let merged = 0;
  let conflatedEvents = 0;
  for (const m of client.messages) {
    if (!isData(m)) continue;
    events++;
    const topic = m["t"] as string;
    const q = m["q"] as number;
    const n = (m["n"] as number | undefined) ?? 1;
    if (n > 1) {
      assert.equal((m["f"] as number) & 2, 2, "merged events are flagged CONFLATED");
      merged += n - 1;
      conflatedEvents++;
    }
    const previous = lastQ.get(topic) ?? 0;
    // q counts per topic since the gateway started: the updates of earlier tests come first.
    assert.equal(q - n, previous, `${topic}: gap not accounted for at q ${q}`);
    lastQ.set(topic, q);
  }
  return { events, merged, conflatedEvents };
}

const lastPrice = (client: RawClient, topic: string): unknown =>
  client.messages.findLast((m) => m["t"] === topic && isData(m))?.["bp"];

describe("bounded staleness: conflation on end-to-end lag", () => {
  let stack: Stack;
  /** The q before each topic's first update of the running test (earlier tests published on the same topics). */
  const qBefore = new Map<string, number>();
  before(async () => {
    stack = await startStack({
      fanout: { maxLagMs: MAX_LAG_MS, probeIntervalMs: 100, heartbeatMs: 1000, slowCloseMs: 8000 },
      // Quiet readers live on their pongs alone: uWS's own pings are off while probes run.
      gateway: { idleTimeoutMs: 10_000 },
    });
  });
  after(async () => {
    await stack.close();
  });

  /** Runs the feed with a fast reader and `slow`, then checks both. */
  async function run(t: { diagnostic(message: string): void }, slow: RawClient, what: string): Promise<void> {
    const fast = await RawClient.connect(stack.service.port);
    for (const client of [fast, slow]) {
      await client.request("subscribe", { topics: ["xnas.*.quote"], snapshot: false }, 10_000);
    }
    await eventually(async () => (await stack.metric("tickwire_nats_subscriptions")) >= 1, "NATS interest");
    // The gateway and the readers run in this process: a stall of its event loop (a starved CPU on a shared
    // machine) ages every price by as much twice over, whatever the lag policy does (the gateway's probes and
    // sends wait, then the readers' reads do), so the bound allows twice the longest stall seen.
    const stalls = monitorEventLoopDelay({ resolution: 20 });
    stalls.enable();
    const start = Date.now();
    const published = await feed(stack, FEED_MS);
    const end = Date.now();
    stalls.disable();
    const bound = BOUND_MS + 2 * Math.round(stalls.max / 1e6);
    const age = staleness(slow, start + WARMUP_MS, end);
    const lagEpisodes = await stack.metric('tickwire_conflation_episodes_total{cause="lag"}');
    t.diagnostic(
      `${what}: newest price seen p50 ${age.p50} ms, max ${age.max} ms after ${WARMUP_MS} ms (bound ${bound}: ` +
        `${BOUND_MS} + twice the longest event-loop stall); lag episodes so far ${lagEpisodes}; published ${published}`,
    );
    assert.ok(age.max <= bound, `${what}: a price ${age.max} ms old, over ${bound} ms`);
    assert.ok(lagEpisodes > 0, "the slow reader was conflated for lag");

    // Once the feed stops, the slow reader catches up to the latest value of every topic, and every
    // update is either received or accounted for by a CONFLATED event's n.
    await eventually(
      () => TOPICS.every((topic, i) => lastPrice(slow, topic) === lastPriceOf(published, i)),
      `${what}: the slow reader converges to the latest values`,
      30_000,
    );
    await eventually(
      () => TOPICS.every((topic, i) => lastPrice(fast, topic) === lastPriceOf(published, i)),
      "the fast reader gets the latest values",
      20_000,
    );
    // Each topic's numbering in this run starts where the fast reader's (which gets every update) starts,
    // whatever earlier runs left behind.
    qBefore.clear();
    for (const m of fast.events) {
      const topic = m["t"] as string;
      if (!qBefore.has(topic)) qBefore.set(topic, (m["q"] as number) - 1);
    }
    const slowCount = accountFor(slow, qBefore);
    t.diagnostic(
      `${what}: slow reader got ${slowCount.events} events, ${slowCount.conflatedEvents} CONFLATED standing for ${slowCount.merged} more`,
    );
    assert.ok(slowCount.conflatedEvents > 0);
    assert.equal(slowCount.events + slowCount.merged, published, "n accounts for every update");
    const fastCount = accountFor(fast, qBefore);
    assert.deepEqual(fastCount, { events: published, merged: 0, conflatedEvents: 0 }, "fast: none conflated");
    assert.equal(slow.close, undefined, "the slow reader stays connected");
    assert.ok(slow.pongs > 0);
    fast.destroy();
    slow.destroy();
    await eventually(async () => (await stack.metric("tickwire_connections")) === 0, "clients gone", 15_000);
  }

  /** The `bp` of the last update of topic `i` when `published` updates went round-robin over TOPICS. */
  function lastPriceOf(published: number, i: number): number {
    const rounds = Math.floor(published / TOPICS.length) + (i < published % TOPICS.length ? 1 : 0);
    return 100 + rounds - 1;
  }

  it("a reader taking ~20 kB/s of a ~200 kB/s feed sees prices at most ~2 × max-lag-ms old, conflated with n accounting for every update, and stays connected; a fast reader gets every update", async (t) => {
    const slow = await RawClient.connect(stack.service.port, { throttle: { bytes: 2048, everyMs: 100 } });
    await run(t, slow, "throttled reader");
  });

  it("the same bound holds behind a buffering proxy (full speed from the gateway, 20 kB/s to the client, unbounded buffer)", async (t) => {
    const proxy = await BufferingProxy.start(stack.service.port, 20_000);
    try {
      const slow = await RawClient.connect(proxy.port);
      await run(t, slow, "behind a buffering proxy");
      t.diagnostic(`proxy still buffered ${proxy.buffered} B at the end`);
    } finally {
      await proxy.close();
    }
  });
});

describe("bounded staleness: a client that never answers pings", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      fanout: { maxLagMs: 300, probeIntervalMs: 100, heartbeatMs: 200, slowCloseMs: 1500 },
    });
  });
  after(async () => {
    await stack.close();
  });

  it("is conflated max-lag-ms after its first probe, gets heartbeats with a growing lag but no data, and is closed with 4007 after slow-close-ms", async () => {
    const mute = await RawClient.connect(stack.service.port, { answerPings: false });
    await mute.request("subscribe", { topics: ["xnas.*.quote"], snapshot: false });
    await eventually(async () => (await stack.metric("tickwire_lagging_connections")) === 1, "lagging");
    const lagEpisodes = await stack.metric('tickwire_conflation_episodes_total{cause="lag"}');
    assert.equal(lagEpisodes, 1);
    const seen = mute.messages.length;
    for (let i = 0; i < 200; i++) stack.publish(TOPICS[i % TOPICS.length] as string, quote(100 + i));
    await stack.publisher.flush();
    const close = await mute.closed(10_000);
    assert.equal(close.code, 4007);
    const reason = JSON.parse(close.reason) as { msg: string; retryAfterMs: number };
    assert.match(reason.msg, /^slow consumer: lagging for \d+ ms, no probe answered within max-lag-ms$/);
    const after = mute.messages.slice(seen);
    assert.deepEqual(after.filter(isData), [], "no data while lagging");
    const lags = after.filter((m) => m["e"] === "heartbeat").map((m) => m["lag"] as number);
    assert.ok(lags.length >= 2, "heartbeats still go out");
    assert.ok(
      lags.every((lag, i) => lag > 300 && (i === 0 || lag > (lags[i - 1] as number))),
      `lags ${lags.join(", ")}`,
    );
    assert.equal(mute.pongs, 0);
    assert.equal(await stack.metric('tickwire_connections_closed_total{reason="slow_consumer"}'), 1);
    assert.equal(await stack.metric("tickwire_lagging_connections"), 0);
    mute.destroy();
  });

  it("a client that answers is never conflated on an idle connection, and its lag is measured", async () => {
    const client = await RawClient.connect(stack.service.port);
    await client.request("subscribe", { topics: ["xnas.*.quote"], snapshot: false });
    const beat = await client.waitFor((m) => m["e"] === "heartbeat" && typeof m["lag"] === "number");
    assert.ok((beat["lag"] as number) < 300);
    await eventually(
      async () => (await stack.metric("tickwire_client_lag_seconds_count")) > 3,
      "lag observed",
    );
    assert.equal(await stack.metric("tickwire_lagging_connections"), 0);
    client.destroy();
  });
});
