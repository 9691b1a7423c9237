import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  checkFeedFields,
  decodeFeedPayload,
  encodeFeedPayload,
  topicOfSubject,
  type MarketEventType,
} from "../protocol/index.ts";
import { DEMO_SYMBOLS, DemoFeed, type DemoMessage } from "./demo-feed.ts";

const START_US = 1_800_000_000_000_000;
const PREFIX = "md.";

/** Runs a feed the way embedded mode does: updates, and a bar round every `barEvery` updates. */
function run(feed: DemoFeed, updates: number, barEvery = 500): DemoMessage[] {
  const out: DemoMessage[] = [];
  for (let i = 0; i < updates; i++) {
    const te = START_US + i * 1000;
    out.push(feed.next(te));
    if ((i + 1) % barEvery === 0) out.push(...feed.bars(te));
  }
  return out;
}

/** What the ingest does with a message: subject check, then field check for the subject's type. */
function feedCheck(message: DemoMessage): { type: MarketEventType; problem: string | undefined } {
  const parsed = topicOfSubject(PREFIX + message.topic, PREFIX.length);
  assert.ok(parsed.ok, `subject of ${message.topic} refused: ${JSON.stringify(parsed)}`);
  assert.equal(parsed.topic, message.topic);
  return { type: parsed.type, problem: checkFeedFields(parsed.type, message.fields) };
}

describe("DemoFeed", () => {
  it("produces the same messages for the same seed", () => {
    assert.deepEqual(run(new DemoFeed(7), 2000), run(new DemoFeed(7), 2000));
    assert.deepEqual(run(new DemoFeed(), 200), run(new DemoFeed(1), 200));
  });

  it("produces different messages for different seeds", () => {
    assert.notDeepEqual(run(new DemoFeed(1), 200), run(new DemoFeed(2), 200));
  });

  it("covers 50 symbols on 3 venues with a quote, trade and bar topic each", () => {
    const feed = new DemoFeed();
    const venues = Object.keys(DEMO_SYMBOLS);
    assert.deepEqual(venues.toSorted(), ["binance", "xlon", "xnas"]);
    const symbols = venues.flatMap((venue) => (DEMO_SYMBOLS[venue] ?? []).map(([s]) => `${venue}.${s}`));
    assert.equal(symbols.length, 50);
    assert.equal(new Set(symbols).size, 50);
    assert.equal(feed.topics.length, 150);
    assert.equal(new Set(feed.topics).size, 150);
    for (const symbol of symbols) {
      for (const type of ["quote", "trade", "bar"]) assert.ok(feed.topics.includes(`${symbol}.${type}`));
    }
  });

  it("produces only messages that pass the feed validation of their subject's type", () => {
    const messages = run(new DemoFeed(3), 5000, 250);
    const counts = { trade: 0, quote: 0, bar: 0 };
    for (const message of messages) {
      const { type, problem } = feedCheck(message);
      assert.equal(problem, undefined, `${message.topic} ${JSON.stringify(message.fields)}: ${problem}`);
      counts[type]++;
    }
    assert.equal(counts.bar, 20 * 50);
    assert.equal(counts.trade + counts.quote, 5000);
    // 70% quotes, 30% trades: loose bounds, the sequence is fixed by the seed.
    assert.ok(counts.quote > 3000 && counts.quote < 4000, `quotes: ${counts.quote}`);
  });

  it("produces messages that survive the msgpack feed encoding unchanged", () => {
    for (const message of run(new DemoFeed(5), 1000, 100)) {
      const decoded = decodeFeedPayload(encodeFeedPayload(message.fields), 4096);
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.fields, message.fields);
    }
  });

  it("only publishes topics it lists", () => {
    const feed = new DemoFeed(9);
    const topics = new Set(feed.topics);
    for (const message of run(feed, 2000, 400)) assert.ok(topics.has(message.topic), message.topic);
  });

  it("stamps every message with the te it was given", () => {
    const feed = new DemoFeed(4);
    assert.equal(feed.next(START_US + 17).fields["te"], START_US + 17);
    for (const bar of feed.bars(START_US + 99)) assert.equal(bar.fields["te"], START_US + 99);
  });

  it("quotes a bid below the ask", () => {
    for (const message of run(new DemoFeed(11), 3000, 1000)) {
      if (!message.topic.endsWith(".quote")) continue;
      const { bp, ap } = message.fields as { bp: number; ap: number };
      assert.ok(bp > 0 && bp < ap, `${message.topic}: bp ${bp} ap ${ap}`);
    }
  });

  it("makes bars whose high is at least open and close and whose low is at most both", () => {
    const feed = new DemoFeed(13);
    let bars = 0;
    for (const message of run(feed, 5000, 100)) {
      if (!message.topic.endsWith(".bar")) continue;
      const { o, h, l, c, v } = message.fields as { o: number; h: number; l: number; c: number; v: number };
      assert.ok(h >= Math.max(o, c), `${message.topic}: h ${h} o ${o} c ${c}`);
      assert.ok(l <= Math.min(o, c), `${message.topic}: l ${l} o ${o} c ${c}`);
      assert.ok(l > 0 && v >= 0 && Number.isInteger(v), `${message.topic}: l ${l} v ${v}`);
      bars++;
    }
    assert.equal(bars, 50 * 50);
  });

  it("opens each bar at the previous bar's close and restarts its volume", () => {
    const feed = new DemoFeed(17);
    run(feed, 300, 1000);
    const first = feed.bars(START_US);
    const second = feed.bars(START_US + 1);
    for (let i = 0; i < first.length; i++) {
      const a = first[i] as DemoMessage;
      const b = second[i] as DemoMessage;
      assert.equal(b.topic, a.topic);
      assert.equal(b.fields["o"], a.fields["c"]);
      assert.equal(b.fields["v"], 0);
      assert.equal(b.fields["h"], b.fields["c"]);
    }
  });

  it("counts each trade's size into its instrument's bar volume", () => {
    const feed = new DemoFeed(21);
    feed.bars(START_US);
    const volume = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const message = feed.next(START_US + i);
      if (!message.topic.endsWith(".trade")) continue;
      const symbol = message.topic.slice(0, -".trade".length);
      volume.set(symbol, (volume.get(symbol) ?? 0) + (message.fields["z"] as number));
    }
    for (const bar of feed.bars(START_US + 1000)) {
      const symbol = bar.topic.slice(0, -".bar".length);
      assert.equal(bar.fields["v"], volume.get(symbol) ?? 0, symbol);
    }
  });
});
