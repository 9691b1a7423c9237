import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { patternMatches } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import {
  eventually,
  natsSubscriptionsOfGateway,
  quote,
  startStack,
  trade,
  type Stack,
} from "./helpers/stack.ts";

/**
 * Issue 10 §4: with the pattern index, a new subject, a message and an unsubscribe touch only the
 * patterns that match. This checks it stays right (not how fast): many concrete patterns held by
 * several connections, overlapping wildcards whose NATS subscriptions deliver the same message twice,
 * subjects never seen before, and unsubscribes in between that move a subject's owning subscription.
 */
describe("many patterns: every subscriber gets exactly its topics", () => {
  const CONCRETE_CONNECTIONS = 4;
  const PER_CONNECTION = 150;
  /** Published after each phase's messages; every connection holds it, so its arrival ends the phase. */
  const MARKER = "xz.END.quote";
  const concrete = (c: number, k: number): string => `xc.S${c}_${k}.quote`;

  let stack: Stack;
  const clients: TestClient[] = [];
  /** Patterns each client holds, as the test means them to be. */
  const held: Set<string>[] = [];
  /** Second deliveries through overlapping NATS subscriptions the gateway must have dropped so far. */
  let duplicates = 0;
  /** Messages published to a subject some NATS subscription matches (each accepted once). */
  let accepted = 0;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    for (const client of clients) await client.close();
    await stack.close();
  });

  /** Subscribes, and waits until NATS holds every pattern (so no publish races the interest). */
  async function subscribe(index: number, patterns: string[]): Promise<void> {
    const reply = await stack.subscribe(clients[index] as TestClient, patterns);
    assert.deepEqual((reply["result"] as { errors: unknown[] }).errors, []);
    for (const p of patterns) held[index]?.add(p);
  }

  async function unsubscribe(index: number, patterns: string[]): Promise<void> {
    const reply = await (clients[index] as TestClient).request("unsubscribe", { topics: patterns });
    assert.deepEqual(reply["result"], { unsubscribed: patterns, errors: [] });
    for (const p of patterns) held[index]?.delete(p);
    const stillWanted = (p: string): boolean => held.some((mine) => mine.has(p));
    await eventually(async () => {
      const nats = await natsSubscriptionsOfGateway(stack.nats);
      return patterns.every((p) => nats.includes(`md.${p}`) === stillWanted(p));
    }, `NATS interest to follow the unsubscribe of ${patterns.length} patterns`);
  }

  /**
   * Publishes one quote (bp = phase) on each subject, then the marker; checks that each client got
   * exactly one event of this phase for each subject its patterns match, and nothing else.
   */
  async function phase(number: number, subjects: readonly string[]): Promise<void> {
    const nats = [...new Set(held.flatMap((mine) => [...mine]))].map((p) => p.split("."));
    for (const subject of subjects) {
      const subscriptions = nats.filter((p) => patternMatches(p, subject.split("."))).length;
      duplicates += Math.max(0, subscriptions - 1);
      if (subscriptions > 0) accepted++;
    }
    accepted++; // the marker
    // The phase number is the price: `bp` of a quote, `p` of a trade.
    for (const subject of subjects)
      stack.publish(subject, subject.endsWith(".trade") ? trade(number) : quote(number));
    stack.publish(MARKER, quote(number));
    await stack.publisher.flush();
    for (const [i, client] of clients.entries()) {
      await client.until(
        () => client.events.some((e) => e["t"] === MARKER && e["bp"] === number),
        10_000,
        `client ${i}: the phase ${number} marker`,
      );
      const got = client.events
        .filter((e) => (e["bp"] ?? e["p"]) === number && e["t"] !== MARKER)
        .map((e) => e["t"] as string)
        .sort();
      const mine = [...(held[i] as Set<string>)].map((p) => p.split("."));
      const expected = subjects.filter((s) => mine.some((p) => patternMatches(p, s.split(".")))).sort();
      assert.deepEqual(got, expected, `client ${i} in phase ${number}: exactly its topics, each once`);
    }
  }

  it("holds across new subjects, overlapping wildcards and unsubscribes in between", async () => {
    // The wildcard connection subscribes first: its NATS subscriptions are the oldest, so they own
    // the subjects they share with the concrete ones until they are unsubscribed.
    for (let i = 0; i <= CONCRETE_CONNECTIONS; i++) {
      clients.push(await TestClient.connect(stack.wsUrl));
      held.push(new Set());
    }
    const W = CONCRETE_CONNECTIONS;
    await subscribe(W, [MARKER, "xc.*.quote", "xc.S1_3.>", "*.S2_5.*", "xd.>"]);
    for (let c = 0; c < CONCRETE_CONNECTIONS; c++) {
      const mine = [MARKER];
      for (let k = 0; k < PER_CONNECTION; k++) mine.push(concrete(c, k));
      await subscribe(c, mine);
    }
    // Two connections share some concrete topics (one NATS subscription, two subscribers).
    await subscribe(1, [concrete(0, 1), concrete(0, 2), concrete(2, 9)]);

    const all: string[] = [];
    for (let c = 0; c < CONCRETE_CONNECTIONS; c++)
      for (let k = 0; k < PER_CONNECTION; k++) all.push(concrete(c, k));
    // Subjects only a wildcard matches, and one nobody wants.
    const extra = ["xc.NEW1.quote", "xc.S1_3.trade", "xd.S2_5.quote", "xq.S2_5.trade", "xq.NONE.quote"];

    // Phase 1: every subject new to the gateway, half of the concrete ones.
    await phase(1, [...all.filter((_, i) => i % 2 === 0), ...extra.slice(0, 2)]);

    // Unsubscribes between phases: a concrete pattern held twice (interest stays), concrete ones held
    // once (interest goes), and the wildcard that owned every xc.*.quote subject.
    await unsubscribe(1, [concrete(0, 1)]);
    await unsubscribe(0, [concrete(0, 2), concrete(0, 4), concrete(0, 6)]);
    await unsubscribe(2, [concrete(2, 0), concrete(2, 1)]);
    await unsubscribe(W, ["xc.*.quote"]);

    // Phase 2: the subjects seen before (owners re-elected after the unsubscribes) and the rest, new.
    await phase(2, [...all, ...extra]);

    // The wildcard comes back (newest now, so it owns nothing shared), a connection leaves.
    await subscribe(W, ["xc.*.quote"]);
    const leaving = clients[3] as TestClient;
    await leaving.close();
    clients.splice(3, 1);
    const left = held.splice(3, 1)[0] as Set<string>;
    await eventually(async () => {
      const nats = await natsSubscriptionsOfGateway(stack.nats);
      return [...left].every((p) => nats.includes(`md.${p}`) === held.some((mine) => mine.has(p)));
    }, "NATS interest to follow the closed connection");
    await unsubscribe(0, [concrete(0, 0)]);

    // Phase 3: everything again, plus a subject no one has seen.
    await phase(3, [...all, ...extra, "xc.NEW2.quote"]);
    // The overlaps were real: each message that came twice was dropped once, none more.
    assert.ok(duplicates > 300, `the scenario overlaps (${duplicates} second deliveries expected)`);
    assert.equal(await stack.metric("tickwire_feed_duplicates_suppressed_total"), duplicates);
    assert.equal(await stack.metric("tickwire_feed_events_accepted_total"), accepted);
  });
});
