import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Packr } from "msgpackr";
import { MAX_TOPIC_LENGTH, MAX_TOPICS_PER_REQUEST } from "../src/protocol/index.ts";
import { TestClient } from "./helpers/client.ts";
import { startStack, type Stack } from "./helpers/stack.ts";

/** An entry of exactly MAX_TOPIC_LENGTH characters (tokens are at most 64, so it is a per-topic 4002). */
function longestEntry(i: number): string {
  const fixed = "binance..quote".length;
  return `binance.${`S${String(i).padStart(4, "0")}`.padEnd(MAX_TOPIC_LENGTH - fixed, "X")}.quote`;
}

/** The longest valid topic: two 64-character tokens and `quote` (135 characters), distinct per i. */
function longestValidTopic(i: number): string {
  return `${"v".repeat(64)}.${`S${String(i).padStart(4, "0")}`.padEnd(64, "X")}.quote`;
}

describe("limits are coherent: a request within the topic limits fits the default frame limit (issue 10 item 3)", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({});
  });
  after(async () => {
    await stack.close();
  });

  for (const encoding of ["json", "msgpack"] as const) {
    it(`one ${encoding} subscribe of ${MAX_TOPICS_PER_REQUEST} topics of ${MAX_TOPIC_LENGTH} characters is answered, not closed`, async () => {
      const client = await TestClient.connect(stack.wsUrl, [`tickwire.v1.${encoding}`]);
      const pack = (value: unknown): Buffer => Buffer.from(new Packr({ useRecords: false }).pack(value));
      const frameOf = (value: unknown): Buffer | string =>
        encoding === "json" ? JSON.stringify(value) : pack(value);
      // Entries of the maximum documented length: the frame fits; each entry is refused on its own.
      const entries = Array.from({ length: MAX_TOPICS_PER_REQUEST }, (_, i) => longestEntry(i));
      assert.equal(entries[0]!.length, MAX_TOPIC_LENGTH);
      const first = frameOf({ method: "subscribe", id: 1, params: { topics: entries, snapshot: false } });
      assert.ok(first.length > 200_000, `the request is ${first.length} bytes`);
      client.sendRaw(first, encoding === "msgpack");
      const refused = await client.waitFor((m) => m["id"] === 1);
      assert.equal((refused["result"] as { errors: unknown[] }).errors.length, MAX_TOPICS_PER_REQUEST);
      // The longest valid topics: all subscribed in one request.
      const topics = Array.from({ length: MAX_TOPICS_PER_REQUEST }, (_, i) => longestValidTopic(i));
      client.sendRaw(
        frameOf({ method: "subscribe", id: 4, params: { topics, snapshot: false } }),
        encoding === "msgpack",
      );
      const reply = await client.waitFor((m) => m["id"] === 4);
      assert.equal((reply["result"] as { subscribed: string[] }).subscribed.length, MAX_TOPICS_PER_REQUEST);
      // The issue's instance: 600 topics like binance.SYM0000-USDT.quote in one JSON subscribe.
      const six = Array.from(
        { length: 600 },
        (_, i) => `binance.SYM${String(i).padStart(4, "0")}-USDT.quote`,
      );
      client.send({ method: "unsubscribe", id: 2, params: { topics } }, encoding === "msgpack");
      await client.waitFor((m) => m["id"] === 2);
      client.send({ method: "subscribe", id: 3, params: { topics: six, snapshot: false } }, false);
      const second = await client.waitFor((m) => m["id"] === 3);
      assert.equal((second["result"] as { subscribed: string[] }).subscribed.length, 600);
      await client.close();
    });
  }
});
