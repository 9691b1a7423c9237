import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { TestClient } from "./helpers/client.ts";
import { RawClient, type Message } from "./helpers/raw-client.ts";
import { eventually, quote, startStack, type Stack } from "./helpers/stack.ts";

const TOPICS = Array.from({ length: 20 }, (_, i) => `xnas.S${i}.quote`);

/** Publishes rounds of one update per topic until `done()` (bounded); returns the updates published. */
async function flood(stack: Stack, done: () => Promise<boolean>, maxRounds = 4000): Promise<number> {
  let published = 0;
  for (let round = 0; round < maxRounds; round++) {
    for (const topic of TOPICS) stack.publish(topic, quote(100 + round, { bz: round }));
    published += TOPICS.length;
    if (round % 50 === 49) {
      await stack.publisher.flush();
      if (await done()) return published;
    }
  }
  throw new Error(`still not slow after ${maxRounds} rounds`);
}

/**
 * Checks a topic's events as a client sees them: every event follows the previous one (q + 1), or is
 * CONFLATED and says how many it stands for (q - n = previous q). Returns the sum of n - 1.
 */
function checkSequence(events: readonly Message[]): number {
  const lastQ = new Map<string, number>();
  let merged = 0;
  for (const event of events) {
    const topic = event["t"] as string;
    const q = event["q"] as number;
    const n = (event["n"] as number | undefined) ?? 1;
    const previous = lastQ.get(topic);
    if (n > 1) {
      assert.equal((event["f"] as number) & 2, 2, "merged events are flagged CONFLATED");
      merged += n - 1;
    }
    if (previous !== undefined) assert.equal(q - n, previous, `${topic}: gap not accounted for at q ${q}`);
    lastQ.set(topic, q);
  }
  return merged;
}

describe("slow consumers: conflation instead of unbounded buffering", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      fanout: {
        slowSoftBytes: 64 * 1024,
        slowHardBytes: 4 * 1024 * 1024,
        slowCloseMs: 60_000,
        heartbeatMs: 250,
        // The byte watermarks alone (probes still measure): conflation on lag is test/staleness.test.ts.
        maxLagMs: 0,
      },
      gateway: { maxBackpressureBytes: 8 * 1024 * 1024 },
    });
  });
  after(async () => {
    await stack.close();
  });

  it("a client that stops reading is conflated while a fast one gets everything; on resuming it converges to the latest values (CONFLATED, n) and its heartbeat counters match what it saw", async (t) => {
    const fast = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(fast, ["xnas.*.quote"]);
    const slow = await RawClient.connect(stack.service.port);
    await slow.request("subscribe", { topics: ["xnas.*.quote"], snapshot: false });
    const rssBefore = await stack.metric("process_resident_memory_bytes");
    slow.pause();
    let published = await flood(stack, async () => (await stack.metric("tickwire_slow_connections")) === 1);
    // Well past the point of conflation: the server must not buffer any of this for the slow client.
    for (let round = 0; round < 200; round++) {
      for (const topic of TOPICS) stack.publish(topic, quote(5000 + round, { bz: 7 }));
      published += TOPICS.length;
    }
    await stack.publisher.flush();
    await eventually(() => fast.events.length === published, `fast client gets all ${published}`, 20_000);
    const buffered = await stack.metric("tickwire_buffered_bytes");
    const rssAfter = await stack.metric("process_resident_memory_bytes");
    t.diagnostic(
      `published ${published}; server buffered ${buffered} B for the paused client; RSS ${rssBefore} → ${rssAfter}`,
    );
    assert.ok(buffered < 4 * 1024 * 1024, `buffered ${buffered} stays under the hard watermark`);
    assert.ok((await stack.metric('tickwire_events_conflated_total{cause="slow_consumer"}')) > 0);

    slow.resume();
    const latest = 5000 + 199;
    await eventually(
      () => TOPICS.every((topic) => slow.events.findLast((e) => e["t"] === topic)?.["bp"] === latest),
      "the slow client converges to the latest value of every topic",
      20_000,
    );
    assert.equal(await stack.metric("tickwire_slow_connections"), 0);
    const merged = checkSequence(slow.events);
    assert.ok(merged > 0, "some updates were merged and said so");
    assert.ok(slow.events.some((e) => e["f"] === 2 && (e["n"] as number) > 1));
    // Counters: the next heartbeat reports exactly what this client received and was told was merged.
    const seen = slow.messages.length;
    const beat = await slow.waitFor((m) => m["e"] === "heartbeat" && slow.messages.indexOf(m) >= seen, 5000);
    const before = slow.messages.slice(0, slow.messages.indexOf(beat));
    const data = before.filter(
      (m) => typeof m["e"] === "string" && m["e"] !== "heartbeat" && m["e"] !== "snapshot_end",
    );
    assert.deepEqual(
      { sent: beat["sent"], conflated: beat["conflated"], dropped: beat["dropped"] },
      { sent: data.length, conflated: merged, dropped: 0 },
    );
    assert.equal(data.length + merged, published, "every update is either received or accounted for in n");
    slow.destroy();
    await fast.close();
  });

  it('a subscription with onSlow "disconnect" is closed with 4007 instead of being conflated', async () => {
    const script = await RawClient.connect(stack.service.port);
    await script.request("subscribe", { topics: ["xnas.*.quote"], snapshot: false, onSlow: "disconnect" });
    script.pause();
    const closesBefore = await stack.metric('tickwire_connections_closed_total{reason="slow_consumer"}');
    await flood(
      stack,
      async () =>
        (await stack.metric('tickwire_connections_closed_total{reason="slow_consumer"}')) > closesBefore,
    );
    script.resume();
    const close = await script.closed();
    assert.equal(close.code, 4007);
    assert.match((JSON.parse(close.reason) as { msg: string }).msg, /onSlow "disconnect"/);
    script.destroy();
  });
});

describe("slow consumers: the time limit", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      fanout: {
        slowSoftBytes: 64 * 1024,
        slowCloseMs: 1500,
        retryAfterMs: 3000,
        heartbeatMs: 0,
        // The byte watermarks alone: a paused client would otherwise first be conflated for lag.
        maxLagMs: 0,
      },
    });
  });
  after(async () => {
    await stack.close();
  });

  it("a client paused past the limit is closed with 4007 and a retry hint, counted as a slow-consumer close", async () => {
    const paused = await RawClient.connect(stack.service.port);
    await paused.request("subscribe", { topics: ["xnas.*.quote"], snapshot: false });
    paused.pause();
    await flood(stack, async () => (await stack.metric("tickwire_slow_connections")) === 1);
    await eventually(
      async () => (await stack.metric('tickwire_connections_closed_total{reason="slow_consumer"}')) === 1,
      "the slow-consumer close",
      10_000,
    );
    paused.resume();
    const close = await paused.closed();
    assert.equal(close.code, 4007);
    const reason = JSON.parse(close.reason) as { msg: string; retryAfterMs: number };
    assert.equal(reason.retryAfterMs, 3000);
    assert.match(reason.msg, /^slow consumer: over 65536 bytes unsent for \d+ ms$/);
    paused.destroy();
  });
});
