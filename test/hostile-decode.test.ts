import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { TestClient } from "./helpers/client.ts";
import { quote, startStack, trade, type Stack } from "./helpers/stack.ts";

/** msgpack {"method":"ping","id":<idBytes>} as one binary frame. */
const ping = (idBytes: readonly number[]): Buffer =>
  Buffer.from([
    0x82,
    0xa6,
    ...Buffer.from("method"),
    0xa4,
    ...Buffer.from("ping"),
    0xa2,
    0x69,
    0x64,
    ...idBytes,
  ]);

/** A chain of msgpackr pointer extensions (0x70) to earlier values, as in issue 11's 431-byte bomb. */
function referenceChain(): Buffer {
  const bytes = [0x82, 0xa2, 0x69, 0x64, 0x01, 0xa6, ...Buffer.from("params"), 0xdc, 0x01, 0x90];
  for (let i = 0; i < 400; i++) bytes.push(0xd5, 0x70, 0x00, i & 0xff);
  return Buffer.from(bytes);
}

const CLIENT_BOMBS: readonly [string, Buffer | string, boolean][] = [
  ["a chain of msgpack references", referenceChain(), true],
  ["a msgpackr record extension", Buffer.from([0xd4, 0x72, 0x00]), true],
  ["10,000 nested msgpack arrays", Buffer.from([...new Array<number>(10_000).fill(0x91), 0x00]), true],
  ["an array32 declaring 2^32 - 1 entries", Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), true],
  ["a str32 declaring 2^32 - 1 bytes", Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), true],
  ["5,000 msgpack elements", Buffer.from([0xdc, 0x13, 0x88, ...new Array<number>(5000).fill(0)]), true],
  ["8,000 nested JSON arrays", "[".repeat(8000) + "]".repeat(8000), false],
];

const FEED_BOMBS: readonly [string, Buffer][] = [
  ["a chain of msgpack references", referenceChain()],
  ["a map with a timestamp extension", Buffer.from([0x81, 0xa2, 0x74, 0x65, 0xd6, 0xff, 0, 0, 0, 0])],
  [
    "100 nested msgpack maps",
    Buffer.from([...Array.from({ length: 100 }, () => [0x81, 0xa1, 0x6b]).flat(), 0]),
  ],
  ["a map32 declaring 2^32 - 1 entries", Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x6b])],
];

describe("hostile msgpack and JSON are refused before any work, counted, and an honest client keeps receiving", () => {
  let stack: Stack;
  let honest: TestClient;
  let ticks = 0;
  let pump: NodeJS.Timeout;

  before(async () => {
    stack = await startStack({});
    honest = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(honest, ["xnas.AAPL.trade", "xnas.IBM.quote"]);
    pump = setInterval(() => stack.publish("xnas.AAPL.trade", trade(200 + ticks++)), 5);
  });
  after(async () => {
    clearInterval(pump);
    await honest.close();
    await stack.close();
  });

  for (const [what, frame, binary] of CLIENT_BOMBS) {
    it(`a client frame of ${what} gets 4000 with id null, is counted, and the connection stays usable`, async () => {
      const attacker = await TestClient.connect(stack.wsUrl);
      const counted = await stack.metric('tickwire_client_errors_total{code="4000"}');
      attacker.sendRaw(frame, binary);
      const reply = await attacker.waitFor((m) => "error" in m);
      assert.deepEqual(reply["id"], null);
      assert.equal((reply["error"] as { code: number }).code, 4000);
      assert.match((reply["error"] as { msg: string }).msg, /not valid (msgpack|JSON): /);
      assert.ok(
        "result" in (await attacker.request("ping")),
        "the attacker's connection still serves requests",
      );
      assert.equal(await stack.metric('tickwire_client_errors_total{code="4000"}'), counted + 1);
      await attacker.close();
    });
  }

  for (const [what, payload] of FEED_BOMBS) {
    it(`a feed payload of ${what} is rejected as decode_error and never forwarded`, async () => {
      const sample = 'tickwire_feed_rejected_total{reason="decode_error"}';
      const counted = await stack.metric(sample);
      const seen = honest.events.filter((m) => m["t"] === "xnas.IBM.quote").length;
      await stack.publishAndFlush("xnas.IBM.quote", payload);
      await stack.publishAndFlush("xnas.IBM.quote", quote(100 + seen));
      await honest.until(
        () => honest.events.filter((m) => m["t"] === "xnas.IBM.quote").length > seen,
        5000,
        "the valid quote",
      );
      const quotes = honest.events.filter((m) => m["t"] === "xnas.IBM.quote");
      assert.equal(quotes.length, seen + 1, "only the valid quote reached the client");
      assert.equal(quotes.at(-1)?.["bp"], 100 + seen);
      assert.equal(await stack.metric(sample), counted + 1);
    });
  }

  it("a feed integer beyond 2^53 (uint64 v of a bar) is rejected as bad_value, never delivered rounded", async () => {
    await stack.subscribe(honest, ["xnas.IBM.bar"]);
    const sample = 'tickwire_feed_rejected_total{reason="bad_value"}';
    const counted = await stack.metric(sample);
    const te = Date.now() * 1000;
    // {"te":te,"o":1,"h":1,"l":1,"c":1,"v":9007199254740993} with v as uint64 (cf).
    const head = Buffer.from([0x86, 0xa2, 0x74, 0x65, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0]);
    head.writeBigUInt64BE(BigInt(te), 5);
    const bar = Buffer.concat([
      head,
      Buffer.from([0xa1, 0x6f, 1, 0xa1, 0x68, 1, 0xa1, 0x6c, 1, 0xa1, 0x63, 1]),
      Buffer.from([0xa1, 0x76, 0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0x01]),
    ]);
    await stack.publishAndFlush("xnas.IBM.bar", bar);
    await stack.publishAndFlush(
      "xnas.IBM.bar",
      '{"te":' + te + ',"o":1,"h":1,"l":1,"c":1,"v":9007199254740993}',
    );
    await stack.publishAndFlush("xnas.IBM.bar", { te, o: 1, h: 1, l: 1, c: 1, v: 7 });
    await honest.until(() => honest.events.some((m) => m["e"] === "bar"), 5000, "the valid bar");
    assert.deepEqual(
      honest.events.filter((m) => m["e"] === "bar").map((m) => m["v"]),
      [7],
    );
    assert.equal(await stack.metric(sample), counted + 2);
  });

  it("a uint64 request id comes back as the same uint64, in ping replies and in snapshot_end", async () => {
    const ws = new WebSocket(stack.wsUrl);
    const frames: Buffer[] = [];
    ws.on("message", (data: Buffer) => frames.push(data));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const id = [0xcf, 0, 0, 0, 0x01, 0x2a, 0x05, 0xf2, 0x00]; // 5000000000 as uint64, issue 10's example
    ws.send(ping(id));
    const subscribe = Buffer.from([
      0x83,
      0xa6,
      ...Buffer.from("method"),
      0xa9,
      ...Buffer.from("subscribe"),
      0xa2,
      0x69,
      0x64,
      ...id,
      0xa6,
      ...Buffer.from("params"),
      0x81,
      0xa6,
      ...Buffer.from("topics"),
      0x91,
      0xaf,
      ...Buffer.from("xnas.NONE.quote"),
    ]);
    ws.send(subscribe);
    const idHex = "a26964" + Buffer.from(id).toString("hex");
    const hex = (): string[] => frames.map((f) => f.toString("hex"));
    for (let i = 0; i < 500 && hex().filter((h) => h.includes(idHex)).length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const withId = hex().filter((h) => h.includes(idHex));
    assert.equal(withId.length, 3, "ping reply, subscribe reply and snapshot_end each carry the uint64 id");
    assert.ok(withId.some((h) => h.includes(Buffer.from("snapshot_end").toString("hex"))));
    assert.ok(!hex().some((h) => h.includes("a26964cb")), "no reply carries a float64 id");
    ws.close();
    await new Promise((resolve) => ws.once("close", resolve));
  });

  it("the honest client received every trade of the whole suite, in order, with no gap", async () => {
    const before = honest.events.filter((m) => m["t"] === "xnas.AAPL.trade").length;
    await honest.until(
      () => honest.events.filter((m) => m["t"] === "xnas.AAPL.trade").length > before + 5,
      5000,
      "more trades",
    );
    const seqs = honest.events.filter((m) => m["t"] === "xnas.AAPL.trade").map((m) => m["q"] as number);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, `gap at ${i}`);
  });
});
