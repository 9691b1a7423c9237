import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { patternMatches } from "../src/protocol/index.ts";
import { seamViolations } from "../src/fanout/seam-check.test-support.ts";
import { TestClient, type Message } from "./helpers/client.ts";
import { addHistoryStream, quote, startStack, type Stack } from "./helpers/stack.ts";

/**
 * Issue 10 §0: several subscribes in flight on one connection (one pattern each, back to back, as the
 * dashboard sends its watchlist) racing a fast feed. Per connection: no (topic, q) twice, q never
 * backwards per topic, and (with feed history) every topic's value before its snapshot_end or among
 * the events that follow it before the next snapshot_end.
 */
const ROUNDS = 6;

/** Four venues of five quotes each, fresh for every round (the gateway has never received them). */
function universe(tag: string): { topics: string[]; patterns: string[] } {
  const venues = [0, 1, 2, 3].map((v) => `${tag}v${v}`);
  return {
    topics: venues.flatMap((v) => [0, 1, 2, 3, 4].map((i) => `${v}.S${i}.quote`)),
    patterns: venues.map((v) => `${v}.*.quote`),
  };
}

/** Where each topic's value stands relative to each subscribe's snapshot_end; problems found. */
function coverageProblems(
  messages: readonly Message[],
  ids: readonly number[],
  { topics, patterns }: { topics: string[]; patterns: string[] },
): string[] {
  const problems: string[] = [];
  const endAt = ids.map((id) => messages.findIndex((m) => m["e"] === "snapshot_end" && m["id"] === id));
  ids.forEach((id, k) => {
    const replyAt = messages.findIndex((m) => m["id"] === id && "result" in m);
    const end = endAt[k] as number;
    const nextEnd = k + 1 < ids.length ? (endAt[k + 1] as number) : messages.length;
    const missing = (messages[end]?.["missing"] as string[] | undefined) ?? [];
    const pattern = (patterns[k] as string).split(".");
    for (const topic of topics) {
      if (!patternMatches(pattern, topic.split(".")) || missing.includes(topic)) continue;
      const first = messages.findIndex((m, i) => i > replyAt && m["t"] === topic);
      if (first < 0 || first > nextEnd) {
        problems.push(`${topic} of subscribe ${id}: first value at #${first}, snapshot_end at #${end}`);
      }
    }
  });
  return problems;
}

for (const withHistory of [true, false]) {
  describe(`snapshot seam, many subscribes in flight racing a fast feed, ${withHistory ? "with" : "without"} feed history`, () => {
    let stack: Stack;
    let feed: NodeJS.Timeout | undefined;
    /** The topics the feed is updating (the current round's). */
    let feeding: string[] = [];
    before(async () => {
      stack = await startStack({}, { jetstream: withHistory });
      if (withHistory) {
        await addHistoryStream(stack.nats.url);
      }
      let bp = 100;
      // A fast feed: every topic of the round about every 4 ms, in bursts, for as long as the suite runs.
      feed = setInterval(() => {
        bp += 0.01;
        for (let i = 0; i < 5 && feeding.length > 0; i++) {
          stack.publish(feeding[Math.floor(Math.random() * feeding.length)] as string, quote(bp));
        }
      }, 1);
    });
    after(async () => {
      clearInterval(feed);
      await stack.close();
    });

    for (const protocol of ["tickwire.v1.json", "tickwire.v1.msgpack"]) {
      it(`${protocol}: no connection gets a (topic, q) twice or backwards, over ${ROUNDS} rounds of 4 subscribes sent back to back`, async () => {
        for (let round = 0; round < ROUNDS; round++) {
          const fresh = universe(`${protocol.endsWith("json") ? "j" : "m"}${round}`);
          const { topics, patterns } = fresh;
          // Each topic's first value is in the history (when on) before anyone subscribes.
          for (const topic of topics) stack.publish(topic, quote(100));
          await stack.publisher.flush();
          feeding = topics;
          const client = await TestClient.connect(stack.wsUrl, [protocol]);
          const binary = protocol === "tickwire.v1.msgpack";
          const ids = patterns.map((_, k) => 100 + k);
          patterns.forEach((pattern, k) =>
            client.send({ method: "subscribe", id: ids[k], params: { topics: [pattern] } }, binary),
          );
          await client.until(
            () => client.messages.filter((m) => m["e"] === "snapshot_end").length === ids.length,
            10_000,
            "every snapshot_end",
          );
          const ends = client.messages.length;
          await client.until(
            () => topics.every((t) => client.messages.slice(ends).some((m) => m["t"] === t)),
            10_000,
            "a live event of every topic after the last snapshot_end",
          );
          await client.close();
          const where = `round ${round}`;
          assert.deepEqual(seamViolations(client.messages), [], where);
          if (withHistory) assert.deepEqual(coverageProblems(client.messages, ids, fresh), [], where);
        }
      });
    }
  });
}
