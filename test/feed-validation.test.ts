import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Packr } from "msgpackr";
import { TestClient } from "./helpers/client.ts";
import { quote, startStack, type Stack } from "./helpers/stack.ts";

const packr = new Packr({ useRecords: false });
const te = (): number => Date.now() * 1000;

describe("garbage and wrong-typed feed payloads never reach a client and are counted by reason", () => {
  let stack: Stack;
  let client: TestClient;
  before(async () => {
    // No heartbeats: one landing between a bad message and the valid one behind it would be read as
    // "something else reached the client" (seen once, 2026-11-30).
    stack = await startStack({ nats: { maxFeedPayloadBytes: 1024 }, fanout: { heartbeatMs: 0 } });
    client = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(client, ["xnas.>", "binance.*.trade"]);
  });
  after(async () => {
    await client.close();
    await stack.close();
  });

  const cases: [string, string, Uint8Array | string, string][] = [
    ["random bytes", "xnas.AAPL.quote", Buffer.from([0xc1, 0x00, 0xff, 0x13]), "decode_error"],
    ["truncated msgpack map", "xnas.AAPL.quote", Buffer.from([0x85, 0xa2, 0x74, 0x65]), "decode_error"],
    ["broken JSON", "xnas.AAPL.quote", '{"te": 1, "bp":', "decode_error"],
    ["a msgpack array", "xnas.AAPL.quote", packr.pack([1, 2, 3]), "not_a_map"],
    ["a msgpack string", "xnas.AAPL.trade", packr.pack("hello"), "not_a_map"],
    ["JSON null", "xnas.AAPL.trade", "null", "decode_error"],
    ["missing te", "xnas.AAPL.trade", packr.pack({ p: 1, z: 1 }), "missing_field"],
    [
      "missing payload key",
      "xnas.AAPL.quote",
      packr.pack({ te: te(), bp: 1, bz: 1, ap: 2 }),
      "missing_field",
    ],
    ["price as a string", "xnas.AAPL.trade", packr.pack({ te: te(), p: "228.1", z: 1 }), "bad_value"],
    ["te in milliseconds", "xnas.AAPL.trade", packr.pack({ te: Date.now(), p: 1, z: 1 }), "bad_te_unit"],
    ["te as a float", "xnas.AAPL.trade", JSON.stringify({ te: te() + 0.5, p: 1, z: 1 }), "bad_te"],
    ["negative size", "xnas.AAPL.trade", packr.pack({ te: te(), p: 1, z: -5 }), "negative_value"],
    ["NaN price", "xnas.AAPL.trade", packr.pack({ te: te(), p: NaN, z: 1 }), "bad_value"],
    [
      "bar with a boolean",
      "xnas.AAPL.bar",
      packr.pack({ te: te(), o: 1, h: 1, l: 1, c: true, v: 1 }),
      "bad_value",
    ],
    [
      "too large",
      "xnas.AAPL.trade",
      packr.pack({ te: te(), p: 1, z: 1, pad: "x".repeat(2000) }),
      "too_large",
    ],
    ["unknown type in subject", "xnas.AAPL.candle", packr.pack({ te: te(), p: 1, z: 1 }), "bad_subject"],
    ["too many subject tokens", "xnas.x.y.trade", packr.pack({ te: te(), p: 1, z: 1 }), "bad_subject"],
  ];

  for (const [what, topic, payload, reason] of cases) {
    it(`${what} on ${topic} is dropped and counted as ${reason}`, async () => {
      const sample = `tickwire_feed_rejected_total{reason="${reason}"}`;
      const before = await stack.metric(sample);
      const seen = client.messages.length;
      await stack.publishAndFlush(topic, typeof payload === "string" ? Buffer.from(payload) : payload);
      // A valid message behind it proves the bad one was processed (NATS delivers in order).
      await stack.publishAndFlush("xnas.AAPL.quote", quote(228));
      await client.until(() => client.messages.length > seen, 5000, "the valid quote");
      const arrived = client.messages.slice(seen);
      assert.deepEqual(
        arrived.map((m) => m["e"]),
        ["quote"],
        "only the valid message reached the client",
      );
      assert.equal(await stack.metric(sample), before + 1);
    });
  }

  it("sequence numbers only count accepted messages (no gap from rejected ones)", async () => {
    const seen = client.events.length;
    await stack.publishAndFlush("xnas.AAPL.quote", quote(1));
    await stack.publishAndFlush("xnas.AAPL.quote", Buffer.from("garbage"));
    await stack.publishAndFlush("xnas.AAPL.quote", quote(2));
    await client.until(() => client.events.length === seen + 2, 5000, "two quotes");
    const [a, b] = client.events.slice(seen);
    assert.equal(b!["q"], (a!["q"] as number) + 1);
  });

  it("JSON feed payloads are accepted too", async () => {
    const seen = client.events.length;
    await stack.publishAndFlush("binance.SOL-USDT.trade", JSON.stringify({ te: te(), p: 240.5, z: 3 }));
    await client.until(() => client.events.length === seen + 1, 5000, "the JSON trade");
    assert.equal(client.events.at(-1)!["p"], 240.5);
  });
});
