import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, ErrorCode } from "../protocol/index.ts";
import { CloseReason } from "./stats.ts";
import {
  setup,
  connect,
  turn,
  textFrame,
  binaryFrame,
  request,
  decodedFrames,
  quote,
  subscribed,
} from "./hub.test-support.ts";

describe("Hub: control requests", () => {
  it("replies to a subscribe with the subscribed topics, then snapshot_end naming the topics with no value yet, after the turn", async () => {
    const { hub, listener } = setup();
    const { session, sink } = connect(hub, "json");
    request(hub, session, {
      method: "subscribe",
      id: 1,
      params: { topics: ["xnas.AAPL.quote", "xnas.*.trade"] },
    });
    assert.equal(sink.frames.length, 0, "nothing is written before the turn ends");
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 1, result: { subscribed: ["xnas.AAPL.quote", "xnas.*.trade"], errors: [] } },
      { e: "snapshot_end", id: 1, missing: ["xnas.AAPL.quote"] },
    ]);
    assert.ok(sink.frames.every((f) => typeof f.data === "string" && !f.isBinary));
    assert.equal(sink.corks, 1);
    assert.deepEqual(listener.calls, ["active xnas.AAPL.quote", "active xnas.*.trade"]);
    assert.deepEqual(hub.table.patternsOf(session), ["xnas.AAPL.quote", "xnas.*.trade"]);
  });

  it("replies in binary msgpack on a msgpack connection, to text or binary requests", async () => {
    const { hub } = setup();
    const { session, sink } = connect(hub, "msgpack");
    request(hub, session, { method: "ping", id: 1 });
    hub.receive(session, binaryFrame({ method: "list", id: 2 }), true);
    await turn();
    assert.ok(sink.frames.every((f) => f.data instanceof Uint8Array && f.isBinary));
    const [pong, list] = decodedFrames(sink) as [{ id: number; result: { ts: number } }, unknown];
    assert.equal(pong.id, 1);
    assert.ok(Number.isSafeInteger(pong.result.ts) && pong.result.ts > 1e15, "ping replies with µs time");
    assert.deepEqual(list, { id: 2, result: { topics: [] } });
  });

  it("replies in JSON text on a json connection to a binary msgpack request", async () => {
    const { hub } = setup();
    const { session, sink } = connect(hub, "json");
    hub.receive(
      session,
      binaryFrame({ method: "subscribe", id: 3, params: { topics: ["a.b.bar"], snapshot: false } }),
      true,
    );
    await turn();
    assert.equal(sink.frames.length, 1);
    assert.equal(typeof sink.frames[0]?.data, "string");
    assert.deepEqual(decodedFrames(sink), [{ id: 3, result: { subscribed: ["a.b.bar"], errors: [] } }]);
  });

  it("lists the connection's patterns", async () => {
    const { hub } = setup();
    const { session, sink } = await subscribed(hub, ["xnas.AAPL.quote", "binance.>"], "json");
    request(hub, session, { method: "list", id: "l" });
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: "l", result: { topics: ["xnas.AAPL.quote", "binance.>"] } },
    ]);
  });

  it("reports bad topics of a subscribe one by one and counts them as client errors", async () => {
    const { hub } = setup();
    const { session, sink } = connect(hub, "json");
    request(hub, session, {
      method: "subscribe",
      id: 4,
      params: { topics: ["xnas.AAPL.quote", "xnas..quote", "xnas.AAPL.book"], snapshot: false },
    });
    await turn();
    const [reply] = decodedFrames(sink) as [
      { result: { subscribed: string[]; errors: { topic: string; code: number }[] } },
    ];
    assert.deepEqual(reply.result.subscribed, ["xnas.AAPL.quote"]);
    assert.deepEqual(
      reply.result.errors.map((e) => [e.topic, e.code]),
      [
        ["xnas..quote", ErrorCode.BAD_TOPIC],
        ["xnas.AAPL.book", ErrorCode.UNKNOWN_TOPIC],
      ],
    );
    assert.equal(hub.stats.clientErrors.get(ErrorCode.BAD_TOPIC), 1);
    assert.equal(hub.stats.clientErrors.get(ErrorCode.UNKNOWN_TOPIC), 1);
  });

  it("refuses a subscribe past the connection's limit whole with 4006", async () => {
    const { hub, listener } = setup({ maxTopicsPerConnection: 2 });
    const { session, sink } = await subscribed(hub, ["a.b.quote"], "json");
    request(hub, session, { method: "subscribe", id: 5, params: { topics: ["a.c.quote", "a.d.quote"] } });
    await turn();
    const [reply] = decodedFrames(sink) as [{ id: number; error: { code: number } }];
    assert.equal(reply.id, 5);
    assert.equal(reply.error.code, ErrorCode.LIMIT);
    assert.equal(sink.frames.length, 1, "no snapshot_end for a refused subscribe");
    assert.deepEqual(hub.table.patternsOf(session), ["a.b.quote"]);
    assert.deepEqual(listener.calls, ["active a.b.quote"]);
  });

  it("replies 4000 with id null to a frame that does not decode", async () => {
    const { hub } = setup();
    const { session, sink } = connect(hub, "json");
    hub.receive(session, new TextEncoder().encode("{nope").buffer, false);
    hub.receive(session, new Uint8Array([0x82, 0xa2]).buffer, true);
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      {
        id: null,
        error: {
          code: ErrorCode.BAD_REQUEST,
          msg: "text frame is not valid JSON: expected a key in JSON at 1",
        },
      },
      {
        id: null,
        error: {
          code: ErrorCode.BAD_REQUEST,
          msg: "binary frame is not valid msgpack: msgpack header declares 2 entries, more than the input holds",
        },
      },
    ]);
    assert.equal(hub.stats.clientErrors.get(ErrorCode.BAD_REQUEST), 2);
    assert.equal(hub.stats.controlMessages, 2);
  });

  it("replies with the request's id and code to a request that does not parse", async () => {
    const { hub } = setup();
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "auth2", id: 6 });
    request(hub, session, { method: "subscribe", id: 7, params: { topics: [] } });
    await turn();
    const replies = decodedFrames(sink) as { id: number; error: { code: number } }[];
    assert.deepEqual(
      replies.map((r) => [r.id, r.error.code]),
      [
        [6, ErrorCode.UNKNOWN_METHOD],
        [7, ErrorCode.BAD_REQUEST],
      ],
    );
  });

  it("replies 4002 to a subscribe whose topic is an object with a non-callable toString, without throwing", async () => {
    const { hub } = setup();
    const { session, sink } = connect(hub, "json");
    assert.doesNotThrow(() => {
      hub.receive(
        session,
        textFrame({ method: "subscribe", id: 8, params: { topics: [{ toString: 1 }] } }),
        false,
      );
    });
    await turn();
    const [reply] = decodedFrames(sink) as [{ id: number; result: { errors: { code: number }[] } }];
    assert.equal(reply.id, 8);
    assert.equal(reply.result.errors[0]?.code, ErrorCode.BAD_TOPIC);
  });
});

describe("Hub: rate limit", () => {
  it("replies 4008 past the burst, then closes with 4008 after burst refusals in a row", async () => {
    const burst = 3;
    const { hub } = setup({ controlBurst: burst });
    const { session, sink } = connect(hub, "json");
    for (let i = 1; i <= 2 * burst; i++) request(hub, session, { method: "ping", id: i });
    assert.deepEqual(sink.closes, []);
    request(hub, session, { method: "ping", id: 2 * burst + 1 });
    assert.deepEqual(sink.closes, [
      { code: CloseCode.RATE_LIMITED, reason: "rate limited: too many control messages" },
    ]);
    // The replies queued before the close are written before it.
    const replies = decodedFrames(sink) as { id: number; result?: unknown; error?: { code: number } }[];
    assert.deepEqual(
      replies.map((r) => r.id),
      [1, 2, 3, 4, 5, 6],
    );
    assert.ok(replies.slice(0, burst).every((r) => r.result !== undefined));
    assert.ok(replies.slice(burst).every((r) => r.error?.code === ErrorCode.RATE_LIMITED));
    // The closing refusal is counted as a close (reason rate_limited), not as an error reply.
    assert.equal(hub.stats.clientErrors.get(ErrorCode.RATE_LIMITED), burst);
    await turn();
    assert.equal(sink.frames.length, 2 * burst, "nothing is written twice");
  });

  it("does not process a rate-limited request", async () => {
    const { hub, listener } = setup({ controlBurst: 1 });
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "ping", id: 1 });
    request(hub, session, { method: "subscribe", id: 2, params: { topics: ["a.b.quote"] } });
    await turn();
    assert.deepEqual(hub.table.patternsOf(session), []);
    assert.deepEqual(listener.calls, []);
    const [, refused] = decodedFrames(sink) as [
      unknown,
      { id: number; error: { code: number; msg: string } },
    ];
    assert.equal(refused.id, 2);
    assert.equal(refused.error.code, ErrorCode.RATE_LIMITED);
  });

  it("gives each connection its own budget", async () => {
    const { hub } = setup({ controlBurst: 1 });
    const a = connect(hub, "json");
    const b = connect(hub, "json");
    request(hub, a.session, { method: "ping", id: 1 });
    request(hub, b.session, { method: "ping", id: 1 });
    await turn();
    assert.ok((decodedFrames(a.sink) as { result?: unknown }[])[0]?.result !== undefined);
    assert.ok((decodedFrames(b.sink) as { result?: unknown }[])[0]?.result !== undefined);
  });
});

describe("Hub: ordering and close", () => {
  it("orders an unsubscribe reply after the events queued earlier in the same turn", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    const topic = hub.topic("xnas.AAPL.quote");
    const before = quote("xnas.AAPL.quote");
    hub.publish(topic, before);
    request(hub, a.session, { method: "unsubscribe", id: "u", params: { topics: ["xnas.AAPL.quote"] } });
    hub.publish(topic, quote("xnas.AAPL.quote"));
    await turn();
    assert.deepEqual(decodedFrames(a.sink), [
      before.event,
      { id: "u", result: { unsubscribed: ["xnas.AAPL.quote"], errors: [] } },
    ]);
    assert.equal(hub.stats.eventsUnrouted, 1);
  });

  it("reports an unsubscribe of a pattern not held as 4004", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    request(hub, a.session, { method: "unsubscribe", id: 1, params: { topics: ["xnas.MSFT.quote"] } });
    await turn();
    const [reply] = decodedFrames(a.sink) as [
      { result: { unsubscribed: string[]; errors: { code: number }[] } },
    ];
    assert.deepEqual(reply.result.unsubscribed, []);
    assert.equal(reply.result.errors[0]?.code, ErrorCode.UNKNOWN_TOPIC);
    assert.equal(hub.stats.clientErrors.get(ErrorCode.UNKNOWN_TOPIC), 1);
  });

  it("closed() removes the connection's subscriptions and counts the close reason", async () => {
    const { hub, listener } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote", "xnas.*.trade"]);
    const b = await subscribed(hub, ["xnas.AAPL.quote"]);
    assert.equal(hub.connectionCount, 2);
    listener.calls.length = 0;
    hub.closed(a.session, CloseCode.NORMAL);
    assert.equal(hub.connectionCount, 1);
    assert.deepEqual(hub.table.patternsOf(a.session), []);
    assert.deepEqual([...hub.topic("xnas.AAPL.quote").subscribers], [b.session]);
    assert.deepEqual(listener.calls, ["idle xnas.*.trade"]);
    assert.equal(hub.stats.connectionsClosed.get(CloseReason.NORMAL), 1);
    hub.closed(b.session, CloseCode.SLOW_CONSUMER);
    assert.equal(hub.stats.connectionsClosed.get(CloseReason.SLOW_CONSUMER), 1);
    assert.equal(hub.stats.connectionsOpened, 2);
  });

  it("closed() twice counts the close once", () => {
    const { hub } = setup();
    const { session } = connect(hub);
    hub.closed(session, 1006);
    hub.closed(session, 1000);
    assert.deepEqual([...hub.stats.connectionsClosed], [[CloseReason.ABNORMAL, 1]]);
  });

  it("drops what a closed connection had queued and ignores its later frames", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"]);
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    hub.closed(a.session, CloseCode.GOING_AWAY);
    const messages = hub.stats.controlMessages;
    request(hub, a.session, { method: "ping", id: 1 });
    await turn();
    assert.equal(a.sink.frames.length, 0);
    assert.equal(a.sink.corks, 0);
    assert.equal(hub.stats.controlMessages, messages);
  });

  it("closeAll writes pending frames, then closes every connection with the code", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"]);
    const b = connect(hub, "json");
    const update = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), update);
    hub.closeAll(CloseCode.GOING_AWAY, '{"retryAfterMs":1000}');
    assert.equal(a.sink.frames[0]?.data, update.msgpack);
    assert.deepEqual(a.sink.closes, [{ code: CloseCode.GOING_AWAY, reason: '{"retryAfterMs":1000}' }]);
    assert.deepEqual(b.sink.closes, [{ code: CloseCode.GOING_AWAY, reason: '{"retryAfterMs":1000}' }]);
    await turn();
    assert.equal(a.sink.frames.length, 1);
  });
});
