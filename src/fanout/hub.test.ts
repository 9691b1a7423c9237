import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Packr, Unpackr } from "msgpackr";
import {
  CloseCode,
  ErrorCode,
  EventEncoder,
  EventFlag,
  type Encoding,
  type MarketEvent,
} from "../protocol/index.ts";
import type { InterestListener } from "../subscriptions/index.ts";
import { EncodedEvent } from "./encoded-event.ts";
import { Hub, type HubOptions } from "./hub.ts";
import type { Session } from "./session.ts";
import { SendResult, type FrameSink } from "./sink.ts";
import { CloseReason } from "./stats.ts";

interface SentFrame {
  readonly data: Uint8Array | string;
  readonly bytes: Uint8Array | string;
  readonly isBinary: boolean;
}

/** In-memory FrameSink: records what is sent, lets a test set the buffered bytes or refuse frames. */
class MemorySink implements FrameSink {
  readonly frames: SentFrame[] = [];
  buffered = 0;
  /** When set, `send` refuses data as the WebSocket layer does past its backpressure limit. */
  refuse = false;
  corks = 0;
  inCork = false;
  closes: { code: number; reason: string }[] = [];

  send(frame: Uint8Array | string, isBinary: boolean): SendResult {
    assert.ok(this.inCork, "frames are written inside cork");
    if (this.refuse) return SendResult.DROPPED;
    // `data` is what was passed (identity checks: encode once); `bytes` a copy taken as uWS does,
    // since batched frames are views of a scratch buffer reused after `send`.
    this.frames.push({
      data: frame,
      bytes: typeof frame === "string" ? frame : Uint8Array.from(frame),
      isBinary,
    });
    return SendResult.SENT;
  }
  cork(fn: () => void): void {
    this.corks++;
    this.inCork = true;
    try {
      fn();
    } finally {
      this.inCork = false;
    }
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
}

class RecordingListener implements InterestListener {
  readonly calls: string[] = [];
  patternActive(pattern: string): void {
    this.calls.push(`active ${pattern}`);
  }
  patternIdle(pattern: string): void {
    this.calls.push(`idle ${pattern}`);
  }
}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const packr = new Packr({ useRecords: false });
const encoder = new EventEncoder();
const TE = 1_800_000_000_000_000;

const OPTIONS: HubOptions = {
  maxTopicsPerConnection: 8,
  maxBufferedBytes: 1024,
  // Effectively no refill: the rate limit tests do not depend on how fast they run.
  controlRatePerSec: 1e-9,
  controlBurst: 1000,
};

function setup(options: Partial<HubOptions> = {}): { hub: Hub; listener: RecordingListener } {
  const listener = new RecordingListener();
  return { hub: new Hub({ ...OPTIONS, ...options }, listener), listener };
}

function connect(hub: Hub, encoding: Encoding = "msgpack"): { session: Session; sink: MemorySink } {
  const sink = new MemorySink();
  return { session: hub.open(sink, encoding), sink };
}

/** One event-loop turn: the hub's setImmediate flush has run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function textFrame(value: unknown): ArrayBuffer {
  return new TextEncoder().encode(JSON.stringify(value)).buffer;
}

function binaryFrame(value: unknown): ArrayBuffer {
  const bytes = packr.pack(value);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}

function request(hub: Hub, session: Session, value: unknown): void {
  hub.receive(session, textFrame(value), false);
}

function decode(frame: SentFrame): unknown {
  return typeof frame.bytes === "string" ? JSON.parse(frame.bytes) : unpackr.unpack(frame.bytes);
}

const decodedFrames = (sink: MemorySink): unknown[] => sink.frames.map(decode);

let seq = 0;
function quote(topic: string): EncodedEvent {
  const event: MarketEvent = {
    e: "quote",
    t: topic,
    q: ++seq,
    te: TE + seq,
    ts: TE + seq + 5,
    bp: 1.5,
    bz: 10,
    ap: 1.75,
    az: 20,
  };
  return new EncodedEvent(event, encoder.encode(event));
}

/** A session subscribed to `topics` whose subscribe replies have been written and cleared. */
async function subscribed(
  hub: Hub,
  topics: string[],
  encoding: Encoding = "msgpack",
): Promise<{ session: Session; sink: MemorySink }> {
  const client = connect(hub, encoding);
  request(hub, client.session, { method: "subscribe", id: "s", params: { topics, snapshot: false } });
  await turn();
  assert.equal(client.sink.frames.length, 1, "subscribe reply");
  client.sink.frames.length = 0;
  client.sink.corks = 0;
  return client;
}

describe("Hub: control requests", () => {
  it("replies to a subscribe with the subscribed topics, then snapshot_end, after the turn", async () => {
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
      { e: "snapshot_end", id: 1 },
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
      { id: null, error: { code: ErrorCode.BAD_REQUEST, msg: "text frame is not valid JSON" } },
      { id: null, error: { code: ErrorCode.BAD_REQUEST, msg: "binary frame is not valid msgpack" } },
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

describe("Hub: publish", () => {
  it("delivers one update to each subscriber once, after the turn, however many of its patterns match", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote", "xnas.*.quote", "xnas.>"]);
    const b = await subscribed(hub, ["xnas.AAPL.quote"]);
    const other = await subscribed(hub, ["xnas.MSFT.quote"]);
    const topic = hub.topic("xnas.AAPL.quote");
    const update = quote("xnas.AAPL.quote");
    hub.publish(topic, update);
    assert.equal(a.sink.frames.length, 0, "nothing is written before the turn ends");
    await turn();
    assert.equal(a.sink.frames.length, 1);
    assert.equal(b.sink.frames.length, 1);
    assert.equal(other.sink.frames.length, 0);
    assert.deepEqual(decode(a.sink.frames[0] as SentFrame), update.event);
    assert.equal(a.session.eventsSent, 1);
    assert.equal(hub.stats.eventsRouted, 1);
    assert.equal(hub.stats.framesOut, 2, "two data frames");
    assert.equal(hub.stats.controlFramesOut, 3, "three subscribe replies, counted apart from data");
    assert.equal(hub.stats.bytesOut, 2 * update.msgpack.length);
  });

  it("gives every msgpack subscriber the same encoded bytes (encode once)", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"]);
    const b = await subscribed(hub, ["xnas.*.quote"]);
    const update = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), update);
    await turn();
    assert.equal(a.sink.frames[0]?.data, update.msgpack);
    assert.equal(b.sink.frames[0]?.data, update.msgpack);
    assert.equal(a.sink.frames[0]?.isBinary, true);
  });

  it("gives json subscribers the JSON text of the event as a text frame", async () => {
    const { hub } = setup();
    const j = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    const m = await subscribed(hub, ["xnas.AAPL.quote"], "msgpack");
    const update = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), update);
    await turn();
    assert.deepEqual(decode(j.sink.frames[0] as SentFrame), decode(m.sink.frames[0] as SentFrame));
    const text = JSON.stringify(update.event);
    assert.deepEqual(j.sink.frames, [{ data: text, bytes: text, isBinary: false }]);
    assert.equal(m.sink.frames[0]?.data, update.msgpack);
  });

  it("writes all of a turn's updates to a socket in order, as one msgpack array frame inside one cork", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.*.quote"]);
    const updates = ["xnas.AAPL.quote", "xnas.MSFT.quote", "xnas.AAPL.quote"].map(quote);
    for (const update of updates) hub.publish(hub.topic(update.event.t), update);
    await turn();
    assert.equal(a.sink.corks, 1);
    assert.equal(a.sink.frames.length, 1);
    // The array is the shared encoded bytes behind a fixarray header, byte for byte.
    assert.deepEqual(
      Buffer.from(a.sink.frames[0]!.bytes as Uint8Array),
      Buffer.concat([Buffer.from([0x93]), ...updates.map((u) => u.msgpack)]),
    );
    assert.deepEqual(decodedFrames(a.sink), [updates.map((u) => u.event)]);
    assert.equal(a.session.eventsSent, 3);
    assert.equal(hub.stats.eventsOut, 3);
    assert.equal(hub.stats.framesOut, 1);
  });

  it("writes a JSON connection's updates of a turn as one JSON array text", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.*.quote"], "json");
    const updates = ["xnas.AAPL.quote", "xnas.MSFT.quote"].map(quote);
    for (const update of updates) hub.publish(hub.topic(update.event.t), update);
    await turn();
    assert.equal(a.sink.frames.length, 1);
    assert.equal(a.sink.frames[0]!.isBinary, false);
    assert.deepEqual(decodedFrames(a.sink), [updates.map((u) => u.event)]);
  });

  it("counts an update with no subscriber as unrouted and sends nothing", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.MSFT.quote"]);
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    assert.equal(hub.stats.eventsUnrouted, 1);
    assert.equal(hub.stats.eventsRouted, 0);
    assert.equal(a.sink.frames.length, 0);
    assert.equal(a.sink.corks, 0);
  });

  it("delivers to a wildcard subscriber a topic first seen after it subscribed", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["binance.>"]);
    const update = quote("binance.SOL-USDT.quote");
    hub.publish(hub.topic("binance.SOL-USDT.quote"), update);
    await turn();
    assert.deepEqual(decodedFrames(a.sink), [update.event]);
  });
});

describe("Hub: slow consumers", () => {
  it("skips data frames for a socket over maxBufferedBytes and counts the drops", async () => {
    const { hub } = setup({ maxBufferedBytes: 1000 });
    const slow = await subscribed(hub, ["xnas.AAPL.quote"]);
    const fast = await subscribed(hub, ["xnas.AAPL.quote"]);
    slow.sink.buffered = 1001;
    const topic = hub.topic("xnas.AAPL.quote");
    hub.publish(topic, quote("xnas.AAPL.quote"));
    hub.publish(topic, quote("xnas.AAPL.quote"));
    await turn();
    assert.equal(slow.sink.frames.length, 0);
    assert.equal(fast.sink.frames.length, 1, "one array frame of both events");
    assert.equal(slow.session.eventsDropped, 2);
    assert.equal(slow.session.eventsSent, 0);
    assert.equal(fast.session.eventsDropped, 0);
    assert.equal(hub.stats.dropsSlowConsumer, 2);
    assert.equal(hub.stats.dropsBackpressure, 0);
  });

  it("still sends control replies to a socket over maxBufferedBytes", async () => {
    const { hub } = setup({ maxBufferedBytes: 1000 });
    const slow = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    slow.sink.buffered = 50_000;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    request(hub, slow.session, { method: "list", id: 9 });
    await turn();
    assert.deepEqual(decodedFrames(slow.sink), [{ id: 9, result: { topics: ["xnas.AAPL.quote"] } }]);
    assert.equal(slow.session.eventsDropped, 1);
  });

  it("sends data again once the socket is back at or under maxBufferedBytes", async () => {
    const { hub } = setup({ maxBufferedBytes: 1000 });
    const a = await subscribed(hub, ["xnas.AAPL.quote"]);
    a.sink.buffered = 1001;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    a.sink.buffered = 1000;
    const update = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), update);
    await turn();
    assert.deepEqual(decodedFrames(a.sink), [update.event]);
    assert.equal(a.session.eventsDropped, 1);
    assert.equal(a.session.eventsSent, 1);
  });

  it("counts frames the socket refuses as backpressure drops", async () => {
    const { hub } = setup();
    const a = await subscribed(hub, ["xnas.AAPL.quote"]);
    a.sink.refuse = true;
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    await turn();
    assert.equal(a.session.eventsDropped, 1);
    assert.equal(hub.stats.dropsBackpressure, 1);
    assert.equal(hub.stats.dropsSlowConsumer, 0);
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

describe("Hub: snapshots from the last-value cache", () => {
  /** The event with the SNAPSHOT flag, as a client decodes it. */
  const flagged = (update: EncodedEvent): unknown => ({ ...update.event, f: EventFlag.SNAPSHOT });

  it("follows the subscribe reply with the last value of each cached topic, flagged SNAPSHOT with its q, then snapshot_end", async () => {
    const { hub } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    hub.publish(topic, quote("xnas.AAPL.quote"));
    const last = quote("xnas.AAPL.quote");
    hub.publish(topic, last);
    assert.equal(hub.stats.eventsUnrouted, 2, "cached while nobody subscribes, still counted unrouted");
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 1, result: { subscribed: ["xnas.AAPL.quote"], errors: [] } },
      { ...last.event, f: 1 },
      { e: "snapshot_end", id: 1 },
    ]);
    assert.equal(session.eventsSent, 1);
  });

  it("sends neither snapshot events nor snapshot_end when the subscribe asks for no snapshot", async () => {
    const { hub } = setup();
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    const { session, sink } = connect(hub);
    request(hub, session, {
      method: "subscribe",
      id: 2,
      params: { topics: ["xnas.AAPL.quote"], snapshot: false },
    });
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 2, result: { subscribed: ["xnas.AAPL.quote"], errors: [] } },
    ]);
  });

  it("snapshots a topic once when several new patterns of the request match it", async () => {
    const { hub } = setup();
    const aapl = quote("xnas.AAPL.quote");
    const msft = quote("xnas.MSFT.quote");
    hub.publish(hub.topic(aapl.event.t), aapl);
    hub.publish(hub.topic(msft.event.t), msft);
    const { session, sink } = connect(hub);
    request(hub, session, {
      method: "subscribe",
      id: 3,
      params: { topics: ["xnas.AAPL.quote", "xnas.*.quote", "xnas.>"] },
    });
    await turn();
    const [, snapshots, end] = decodedFrames(sink);
    // Two data events between two control frames: one array frame.
    assert.deepEqual(snapshots, [flagged(aapl), flagged(msft)]);
    assert.deepEqual(end, { e: "snapshot_end", id: 3 });
    assert.equal(sink.frames.length, 3);
  });

  it("does not snapshot again a topic the connection already gets through a pattern it held before", async () => {
    const { hub } = setup();
    const aapl = quote("xnas.AAPL.quote");
    const msft = quote("xnas.MSFT.quote");
    hub.publish(hub.topic(aapl.event.t), aapl);
    hub.publish(hub.topic(msft.event.t), msft);
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    request(hub, a.session, {
      method: "subscribe",
      id: 4,
      params: { topics: ["xnas.*.quote", "xnas.AAPL.quote"] },
    });
    await turn();
    assert.deepEqual(decodedFrames(a.sink), [
      { id: 4, result: { subscribed: ["xnas.*.quote", "xnas.AAPL.quote"], errors: [] } },
      flagged(msft),
      { e: "snapshot_end", id: 4 },
    ]);
  });

  it("snapshots again after an unsubscribe, with the cache's current value", async () => {
    const { hub } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    const a = await subscribed(hub, ["xnas.AAPL.quote"], "json");
    hub.publish(topic, quote("xnas.AAPL.quote"));
    request(hub, a.session, { method: "unsubscribe", id: "u", params: { topics: ["xnas.AAPL.quote"] } });
    const latest = quote("xnas.AAPL.quote");
    hub.publish(topic, latest);
    request(hub, a.session, { method: "subscribe", id: "s", params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    const frames = decodedFrames(a.sink);
    assert.deepEqual(frames.slice(-2), [flagged(latest), { e: "snapshot_end", id: "s" }]);
  });

  it("orders reply, snapshot events, snapshot_end, then live events published after the subscribe, with consecutive q", async () => {
    const { hub } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    const before = quote("xnas.AAPL.quote");
    hub.publish(topic, before);
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 5, params: { topics: ["xnas.AAPL.quote"] } });
    const live = quote("xnas.AAPL.quote");
    hub.publish(topic, live);
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 5, result: { subscribed: ["xnas.AAPL.quote"], errors: [] } },
      flagged(before),
      { e: "snapshot_end", id: 5 },
      live.event,
    ]);
    assert.equal(live.event.q, before.event.q + 1, "no gap and no duplicate at the seam");
  });

  it("encodes a cached event's snapshot once and gives every subscriber the same bytes", async () => {
    const { hub } = setup();
    const update = quote("xnas.AAPL.quote");
    hub.publish(hub.topic("xnas.AAPL.quote"), update);
    const a = connect(hub);
    const b = connect(hub);
    const j = connect(hub, "json");
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    request(hub, b.session, { method: "subscribe", id: 1, params: { topics: ["xnas.*.quote"] } });
    request(hub, j.session, { method: "subscribe", id: 1, params: { topics: ["xnas.>"] } });
    await turn();
    const snapshot = update.snapshot;
    assert.equal(update.snapshot, snapshot, "built once, then reused");
    assert.equal(a.sink.frames[1]?.data, snapshot.msgpack);
    assert.equal(b.sink.frames[1]?.data, snapshot.msgpack);
    assert.equal(j.sink.frames[1]?.data, snapshot.json);
    assert.deepEqual(decode(a.sink.frames[1]), flagged(update));
    assert.deepEqual(decode(j.sink.frames[1]), flagged(update));
    assert.notEqual(snapshot.msgpack, update.msgpack, "the live bytes are left as they are");
    assert.deepEqual(decode({ data: update.msgpack, bytes: update.msgpack, isBinary: true }), update.event);
  });

  it("replaces the cached value, and its snapshot, with the topic's next event", async () => {
    const { hub } = setup();
    const topic = hub.topic("xnas.AAPL.quote");
    const first = quote("xnas.AAPL.quote");
    hub.publish(topic, first);
    const a = connect(hub);
    request(hub, a.session, { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    const second = quote("xnas.AAPL.quote");
    hub.publish(topic, second);
    assert.equal(topic.last, second);
    const b = connect(hub);
    request(hub, b.session, { method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    assert.equal(a.sink.frames[1]?.data, first.snapshot.msgpack);
    assert.equal(b.sink.frames[1]?.data, second.snapshot.msgpack);
    assert.deepEqual(decode(b.sink.frames[1]), flagged(second));
  });

  it("snapshots every cached topic a wildcard matches, and no other", async () => {
    const { hub } = setup();
    const btc = quote("binance.BTC-USDT.quote");
    const tradeEvent: MarketEvent = {
      e: "trade",
      t: "binance.ETH-USDT.trade",
      q: 3,
      te: TE,
      ts: TE + 5,
      p: 3100.5,
      z: 0.2,
    };
    const eth = new EncodedEvent(tradeEvent, encoder.encode(tradeEvent));
    hub.publish(hub.topic(btc.event.t), btc);
    hub.publish(hub.topic(eth.event.t), eth);
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    hub.topic("binance.SOL-USDT.quote"); // seen, but nothing cached: no snapshot event
    const { session, sink } = connect(hub, "json");
    request(hub, session, { method: "subscribe", id: 6, params: { topics: ["binance.>"] } });
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 6, result: { subscribed: ["binance.>"], errors: [] } },
      [flagged(btc), flagged(eth)],
      { e: "snapshot_end", id: 6 },
    ]);
  });

  it("skips snapshot events for a socket over maxBufferedBytes but still sends the reply and snapshot_end", async () => {
    const { hub } = setup({ maxBufferedBytes: 1000 });
    hub.publish(hub.topic("xnas.AAPL.quote"), quote("xnas.AAPL.quote"));
    const { session, sink } = connect(hub, "json");
    sink.buffered = 1001;
    request(hub, session, { method: "subscribe", id: 7, params: { topics: ["xnas.AAPL.quote"] } });
    await turn();
    assert.deepEqual(decodedFrames(sink), [
      { id: 7, result: { subscribed: ["xnas.AAPL.quote"], errors: [] } },
      { e: "snapshot_end", id: 7 },
    ]);
    assert.equal(session.eventsDropped, 1);
    assert.equal(hub.stats.dropsSlowConsumer, 1);
  });
});

describe("Hub: last-value cache memory", () => {
  it("a quiet topic's cached value stops pinning the encoder's slab after the next sweep", () => {
    const { hub } = setup();
    const quiet = quote("xnas.QUIET.quote");
    hub.publish(hub.topic("xnas.QUIET.quote"), quiet);
    assert.equal(hub.topic("xnas.QUIET.quote").last?.isView, true, "cached as published: a view of the slab");
    for (let i = 0; i < 4096; i++) hub.publish(hub.topic("xnas.BUSY.quote"), quote("xnas.BUSY.quote"));
    const cached = hub.topic("xnas.QUIET.quote").last;
    assert.equal(cached?.isView, false, "own exact-size bytes after the sweep");
    assert.deepEqual(Buffer.from(cached.msgpack), Buffer.from(quiet.msgpack));
    assert.deepEqual(cached.event, quiet.event);
    assert.equal(cached.msgpack.buffer.byteLength, quiet.msgpack.byteLength);
  });
});
