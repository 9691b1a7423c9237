import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import { HonestClient } from "./helpers/honest-client.ts";
import { eventually, quote, startStack, type Stack } from "./helpers/stack.ts";

type ErrorReply = { id: unknown; error: { code: number; msg: string } };

describe("bad client input gets a numbered error or close code, is counted, and nobody else notices", () => {
  let stack: Stack;
  let bystander: HonestClient;

  before(async () => {
    stack = await startStack({
      fanout: { controlRatePerSec: 50, controlBurst: 100 },
      gateway: { maxMessageBytes: 16384 },
    });
    bystander = await HonestClient.start(stack);
  });
  after(async () => {
    // The bystander received every tick of the whole suite, without a gap.
    try {
      await bystander.finish();
    } finally {
      await stack.close();
    }
  });

  async function expectError(
    client: TestClient,
    send: () => void,
    code: number,
    id: unknown,
  ): Promise<ErrorReply> {
    const before = client.messages.length;
    send();
    await client.until(() => client.messages.slice(before).some((m) => "error" in m), 5000, `error ${code}`);
    const reply = client.messages.slice(before).find((m) => "error" in m) as unknown as ErrorReply;
    assert.equal(reply.error.code, code, reply.error.msg);
    assert.deepEqual(reply.id, id);
    assert.ok(reply.error.msg.length > 0);
    return reply;
  }

  async function stillWorks(client: TestClient): Promise<void> {
    const pong = await client.request("ping");
    assert.ok("result" in pong, "connection still serves requests");
  }

  it("malformed msgpack gets 4000 with id null and the connection stays usable", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    const counted = await stack.metric('tickwire_client_errors_total{code="4000"}');
    await expectError(client, () => client.sendRaw(Buffer.from([0xc1, 0xde, 0xad]), true), 4000, null);
    await stillWorks(client);
    assert.equal(await stack.metric('tickwire_client_errors_total{code="4000"}'), counted + 1);
    await client.close();
  });

  it("malformed JSON gets 4000 on a JSON connection", async () => {
    const client = await TestClient.connect(stack.wsUrl, ["tickwire.v1.json"]);
    const reply = await expectError(
      client,
      () => client.sendRaw('{"method": "subscribe", ', false),
      4000,
      null,
    );
    assert.match(reply.error.msg, /JSON/);
    await stillWorks(client);
    await client.close();
  });

  it("binary garbage of many shapes never crashes the gateway", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    const garbage = [
      Buffer.alloc(0),
      Buffer.from([0xff]),
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array32 claiming 4 G entries
      Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff]), // map32 claiming 2 G entries
      Buffer.from([0xc7, 0xff, 0x01]), // ext8 cut short
      Buffer.from([0xd4, 0x72, 0x00]), // fixext (msgpackr record extension id)
      Buffer.from([0x93, 0x01, 0x02, 0x03]), // an array
      Buffer.from([0x2a]), // the number 42
      Buffer.from("\u0000\u0001\u0002"),
    ];
    for (const bytes of garbage) {
      await expectError(client, () => client.sendRaw(bytes, true), 4000, null);
    }
    await stillWorks(client);
    await client.close();
  });

  it("an unknown method gets 4005 echoing the id", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    const reply = await expectError(
      client,
      () => client.send({ method: "frobnicate", id: "x-1" }, true),
      4005,
      "x-1",
    );
    assert.match(reply.error.msg, /frobnicate/);
    await client.close();
  });

  it("a request without an id gets 4000 with id null", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    await expectError(client, () => client.send({ method: "ping" }, true), 4000, null);
    await expectError(client, () => client.send({ method: "ping", id: { nested: 1 } }, true), 4000, null);
    await client.close();
  });

  it("bad topic syntax is reported per topic while good topics are subscribed", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    const reply = await client.subscribe([
      "xnas.AAPL.quote",
      "xnas..quote",
      "xnas.>.quote",
      "a.b.c.d",
      "xnas.AAPL.candle",
      42 as unknown as string,
    ]);
    const result = reply["result"] as {
      subscribed: string[];
      errors: { topic: string; code: number; msg: string }[];
    };
    assert.deepEqual(result.subscribed, ["xnas.AAPL.quote"]);
    assert.deepEqual(
      result.errors.map((e) => [e.topic, e.code]),
      [
        ["xnas..quote", 4002],
        ["xnas.>.quote", 4002],
        ["a.b.c.d", 4002],
        ["xnas.AAPL.candle", 4004],
        ["42", 4002],
      ],
    );
    await client.close();
  });

  it("topics that are maps, arrays or a map with a toString key are refused per topic, never crash", async () => {
    const client = await TestClient.connect(stack.wsUrl, ["tickwire.v1.json"]);
    const hostile: unknown[] = [{ toString: 1 }, { valueOf: 2 }, [1, 2], null, true, "xnas.AAPL.trade"];
    const reply = await client.request("subscribe", { topics: hostile, snapshot: false }, false);
    const result = reply["result"] as { subscribed: string[]; errors: { topic: string; code: number }[] };
    assert.deepEqual(result.subscribed, ["xnas.AAPL.trade"]);
    assert.deepEqual(
      result.errors.map((e) => e.code),
      [4002, 4002, 4002, 4002, 4002],
    );
    const unsub = await client.request("unsubscribe", { topics: [{ toString: 1 }] }, false);
    assert.equal((unsub["result"] as { errors: { code: number }[] }).errors[0]?.code, 4002);
    await stillWorks(client);
    assert.equal(await stack.metric("tickwire_internal_errors_total"), 0);
    await client.close();
  });

  it("a subscribe past the per-connection topic limit is refused whole with 4006 and changes nothing", async () => {
    const limited = await startStack({ fanout: { maxTopicsPerConnection: 5 } });
    try {
      const client = await TestClient.connect(limited.wsUrl);
      await client.subscribe(["xnas.A.quote", "xnas.B.quote", "xnas.C.quote"]);
      const reply = (await client.subscribe([
        "xnas.D.quote",
        "xnas.E.quote",
        "xnas.F.quote",
      ])) as unknown as ErrorReply;
      assert.equal(reply.error.code, 4006);
      assert.match(reply.error.msg, /limit 5/);
      assert.deepEqual((await client.request("list"))["result"], {
        topics: ["xnas.A.quote", "xnas.B.quote", "xnas.C.quote"],
      });
      assert.equal(await limited.metric('tickwire_client_errors_total{code="4006"}'), 1);
      await client.close();
    } finally {
      await limited.close();
    }
  });

  it("an oversized frame closes the sender with 1009 and a reason", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    client.sendRaw(Buffer.alloc(16385, 0x20), false);
    const closed = await client.closed;
    assert.equal(closed.code, 1009);
    assert.match(closed.reason, /message too big: 16385 bytes, limit 16384/);
    assert.equal(await stack.metric("tickwire_client_frames_too_big_total"), 1);
    assert.equal(await stack.metric('tickwire_connections_closed_total{reason="message_too_big"}'), 1);
  });

  it("a frame beyond the WebSocket layer's hard cap (4 × limit, at least 1 MiB) is cut off: 1006", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    client.sendRaw(Buffer.alloc(1024 * 1024 + 1, 0x20), false);
    assert.equal((await client.closed).code, 1006);
    await eventually(
      async () => (await stack.metric('tickwire_connections_closed_total{reason="abnormal"}')) === 1,
      "the abnormal close to be counted",
    );
  });

  it("a flood of control messages gets 4008 replies, then a 4008 close", async () => {
    const client = await TestClient.connect(stack.wsUrl);
    for (let i = 0; i < 400; i++) client.send({ method: "ping", id: i }, true);
    const closed = await client.closed;
    assert.equal(closed.code, 4008);
    const replies = client.messages;
    const ok = replies.filter((m) => "result" in m).length;
    const limited = replies.filter((m) => (m as unknown as ErrorReply).error?.code === 4008).length;
    assert.ok(ok >= 100 && ok < 120, `the burst of ~100 was served (got ${ok})`);
    assert.ok(limited >= 90, `refused requests got 4008 (got ${limited})`);
    assert.equal(await stack.metric('tickwire_connections_closed_total{reason="rate_limited"}'), 1);
  });

  it("an upgrade offering only unknown subprotocols is refused with HTTP 400 and counted", async () => {
    await assert.rejects(TestClient.connect(stack.wsUrl, ["graphql-ws"]), /400/);
    assert.equal(await stack.metric('tickwire_upgrades_rejected_total{reason="subprotocol"}'), 1);
  });

  it("other clients kept receiving through all of the above", async () => {
    const seen = bystander.client.events.length;
    stack.publish("xnas.AAPL.quote", quote(1)); // not subscribed: must not arrive
    await bystander.client.until(() => bystander.client.events.length >= seen + 5, 5000, "more trades");
    assert.ok(bystander.client.events.every((m) => m["e"] === "trade"));
    assert.equal(bystander.client.ws.readyState, bystander.client.ws.OPEN);
  });
});
