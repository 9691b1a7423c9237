import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode, patternMatches } from "../protocol/index.ts";
import { SubscriptionTable, type AddResult, type InterestListener } from "./subscription-table.ts";
import { Random } from "./patterns.test-support.ts";

/** Records interest changes in order, as the ingest would turn them into NATS (un)subscribes. */
class RecordingListener implements InterestListener {
  readonly calls: string[] = [];
  patternActive(pattern: string): void {
    this.calls.push(`active ${pattern}`);
  }
  patternIdle(pattern: string): void {
    this.calls.push(`idle ${pattern}`);
  }
}

function setup(maxPatterns = 100): { table: SubscriptionTable<string>; listener: RecordingListener } {
  const listener = new RecordingListener();
  return { table: new SubscriptionTable<string>(listener, maxPatterns), listener };
}

function added(result: AddResult): readonly string[] {
  assert.ok(result.ok, `expected the subscribe to succeed, got ${JSON.stringify(result)}`);
  return result.added;
}

const subscribersOf = (table: SubscriptionTable<string>, topic: string): string[] =>
  [...table.topic(topic).subscribers].sort();

describe("SubscriptionTable: add", () => {
  it("subscribes to concrete topics and reports them as added", () => {
    const { table } = setup();
    const result = table.add("a", ["xnas.AAPL.quote", "xnas.MSFT.trade"]);
    assert.deepEqual(result, {
      ok: true,
      added: ["xnas.AAPL.quote", "xnas.MSFT.trade"],
      errors: [],
      entered: [], // no topic entry exists yet
      walks: [],
    });
    assert.deepEqual(table.patternsOf("a"), ["xnas.AAPL.quote", "xnas.MSFT.trade"]);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["a"]);
    assert.deepEqual(subscribersOf(table, "xnas.MSFT.trade"), ["a"]);
    assert.deepEqual(subscribersOf(table, "xnas.MSFT.quote"), []);
    assert.equal(table.subscriptionCount, 2);
    assert.equal(table.patternCount, 2);
  });

  it("resolves existing patterns when a topic entry is created after the subscription", () => {
    const { table } = setup();
    table.add("a", ["xnas.*.quote"]);
    table.add("b", ["xnas.AAPL.quote"]);
    table.add("c", ["binance.>"]);
    table.add("d", [">"]);
    assert.equal(table.topicCount, 0);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["a", "b", "d"]);
    assert.deepEqual(subscribersOf(table, "xnas.MSFT.quote"), ["a", "d"]);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.trade"), ["d"]);
    assert.deepEqual(subscribersOf(table, "binance.BTC-USDT.trade"), ["c", "d"]);
    assert.equal(table.topicCount, 4);
  });

  it("attaches a wildcard subscription to the matching topics that already exist, and only those", () => {
    const { table } = setup();
    const aapl = table.topic("xnas.AAPL.quote");
    const msft = table.topic("xnas.MSFT.quote");
    const trade = table.topic("xnas.AAPL.trade");
    const other = table.topic("xlon.VOD.quote");
    table.add("a", ["xnas.*.quote"]);
    assert.deepEqual([...aapl.subscribers], ["a"]);
    assert.deepEqual([...msft.subscribers], ["a"]);
    assert.deepEqual([...trade.subscribers], []);
    assert.deepEqual([...other.subscribers], []);
    table.add("b", ["*.*.quote"]);
    assert.deepEqual([...other.subscribers], ["b"]);
    assert.deepEqual([...aapl.subscribers].sort(), ["a", "b"]);
  });

  it("attaches a concrete subscription to its topic entry when it already exists", () => {
    const { table } = setup();
    const entry = table.topic("xnas.AAPL.quote");
    table.add("a", ["xnas.AAPL.quote"]);
    assert.equal(table.topic("xnas.AAPL.quote"), entry);
    assert.deepEqual([...entry.subscribers], ["a"]);
  });

  it("lists one subscriber once on a topic however many of its patterns match", () => {
    const { table } = setup();
    table.topic("xnas.AAPL.quote");
    table.add("a", ["xnas.AAPL.quote", "xnas.*.quote", "xnas.>", ">"]);
    assert.deepEqual([...table.topic("xnas.AAPL.quote").subscribers], ["a"]);
    assert.deepEqual([...table.topic("xnas.MSFT.quote").subscribers], ["a"]);
    assert.equal(table.subscriptionCount, 4);
  });

  it("reports as entered each existing topic the new patterns bring, once, and none already covered", () => {
    const { table } = setup();
    const aapl = table.topic("xnas.AAPL.quote");
    const msft = table.topic("xnas.MSFT.quote");
    const trade = table.topic("xnas.AAPL.trade");
    table.topic("binance.BTC-USDT.quote");
    const first = table.add("a", ["xnas.AAPL.quote"]);
    assert.ok(first.ok);
    assert.deepEqual(first.entered, [aapl]);
    const second = table.add("a", ["xnas.*.quote", "xnas.>", "xnas.AAPL.quote"]);
    assert.ok(second.ok);
    assert.deepEqual([...second.entered].map((t) => t.name).sort(), [msft, trade].map((t) => t.name).sort());
    const again = table.add("a", ["xnas.>"]);
    assert.ok(again.ok);
    assert.deepEqual(again.entered, [], "a pattern already held brings nothing");
  });

  it("counts a pattern repeated in one request once", () => {
    const { table, listener } = setup(1);
    const result = table.add("a", ["xnas.AAPL.quote", "xnas.AAPL.quote"]);
    assert.deepEqual(added(result), ["xnas.AAPL.quote"]);
    assert.equal(table.subscriptionCount, 1);
    assert.deepEqual(listener.calls, ["active xnas.AAPL.quote"]);
  });

  it("subscribes to the good topics and reports each bad one with its code", () => {
    const { table } = setup();
    const result = table.add("a", [
      "xnas.AAPL.quote",
      "xnas.AA PL.quote",
      "xnas.AAPL.book",
      42,
      null,
      "xnas.*",
    ]);
    assert.ok(result.ok);
    assert.deepEqual(result.added, ["xnas.AAPL.quote"]);
    assert.deepEqual(
      result.errors.map((e) => [e.topic, e.code]),
      [
        ["xnas.AA PL.quote", ErrorCode.BAD_TOPIC],
        ["xnas.AAPL.book", ErrorCode.UNKNOWN_TOPIC],
        ["42", ErrorCode.BAD_TOPIC],
        ["null", ErrorCode.BAD_TOPIC],
        ["xnas.*", ErrorCode.BAD_TOPIC],
      ],
    );
    for (const error of result.errors) assert.ok(error.msg.length > 0);
    assert.deepEqual(table.patternsOf("a"), ["xnas.AAPL.quote"]);
  });

  it("truncates a long bad topic to 256 characters in its error", () => {
    const { table } = setup();
    const result = table.add("a", ["x".repeat(5000)]);
    assert.ok(result.ok);
    assert.equal(result.errors[0]?.topic, "x".repeat(256));
  });

  it("reports a bad topic object without throwing, whatever its toString", () => {
    // A JSON or msgpack map with a "toString" key is a plain object whose String() conversion throws.
    const { table } = setup();
    const result = table.add("a", ["xnas.AAPL.quote", { toString: 1 }]);
    assert.ok(result.ok);
    assert.deepEqual(result.added, ["xnas.AAPL.quote"]);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]?.code, ErrorCode.BAD_TOPIC);
  });
});

describe("SubscriptionTable: limit", () => {
  it("a subscribe past the limit is refused whole and changes nothing", () => {
    const { table, listener } = setup(3);
    table.add("a", ["xnas.AAPL.quote", "xnas.MSFT.quote"]);
    const entry = table.topic("xnas.NVDA.quote");
    const before = {
      patterns: table.patternsOf("a"),
      calls: [...listener.calls],
      subscriptions: table.subscriptionCount,
      patternCount: table.patternCount,
    };
    const result = table.add("a", ["xnas.NVDA.quote", "xnas.*.trade", "bad topic"]);
    assert.deepEqual(result, {
      ok: false,
      code: ErrorCode.LIMIT,
      msg: "subscription limit 3 per connection would be exceeded (have 2, asked for 2 new)",
    });
    assert.deepEqual(table.patternsOf("a"), before.patterns);
    assert.deepEqual(listener.calls, before.calls);
    assert.equal(table.subscriptionCount, before.subscriptions);
    assert.equal(table.patternCount, before.patternCount);
    assert.deepEqual([...entry.subscribers], []);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.trade"), []);
  });

  it("refuses a first subscribe that alone is over the limit, leaving the subscriber unknown", () => {
    const { table, listener } = setup(2);
    const result = table.add("a", ["a.b.quote", "a.c.quote", "a.d.quote"]);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.code, ErrorCode.LIMIT);
    assert.deepEqual(table.patternsOf("a"), []);
    assert.deepEqual(listener.calls, []);
    assert.equal(table.subscriptionCount, 0);
  });

  it("accepts a subscribe that reaches the limit exactly", () => {
    const { table } = setup(2);
    assert.deepEqual(added(table.add("a", ["a.b.quote", "a.c.quote"])), ["a.b.quote", "a.c.quote"]);
  });

  it("does not count re-subscribing an already-held pattern against the limit", () => {
    const { table, listener } = setup(2);
    table.add("a", ["a.b.quote", "a.c.quote"]);
    const calls = listener.calls.length;
    assert.deepEqual(added(table.add("a", ["a.c.quote", "a.b.quote"])).toSorted(), [
      "a.b.quote",
      "a.c.quote",
    ]);
    assert.equal(listener.calls.length, calls);
    assert.equal(table.subscriptionCount, 2);
    const refused = table.add("a", ["a.b.quote", "a.d.quote"]);
    assert.equal(refused.ok, false);
    assert.equal(
      !refused.ok && refused.msg,
      "subscription limit 2 per connection would be exceeded (have 2, asked for 1 new)",
    );
  });

  it("does not count bad topics against the limit", () => {
    const { table } = setup(1);
    const result = table.add("a", ["a.b.quote", "bad", "a.b.book"]);
    assert.deepEqual(added(result), ["a.b.quote"]);
    assert.equal(result.ok && result.errors.length, 2);
  });

  it("applies the limit per subscriber", () => {
    const { table } = setup(1);
    assert.deepEqual(added(table.add("a", ["a.b.quote"])), ["a.b.quote"]);
    assert.deepEqual(added(table.add("b", ["a.c.quote"])), ["a.c.quote"]);
    assert.equal(table.add("a", ["a.c.quote"]).ok, false);
  });

  it("frees room under the limit when patterns are removed", () => {
    const { table } = setup(1);
    table.add("a", ["a.b.quote"]);
    table.remove("a", ["a.b.quote"]);
    assert.deepEqual(added(table.add("a", ["a.c.quote"])), ["a.c.quote"]);
  });
});

describe("SubscriptionTable: remove", () => {
  it("removes a held pattern and takes the subscriber off its topics", () => {
    const { table } = setup();
    table.add("a", ["xnas.AAPL.quote", "xnas.*.trade"]);
    table.add("b", ["xnas.AAPL.quote"]);
    table.topic("xnas.MSFT.trade");
    assert.deepEqual(table.remove("a", ["xnas.AAPL.quote", "xnas.*.trade"]), {
      removed: ["xnas.AAPL.quote", "xnas.*.trade"],
      errors: [],
      left: [table.topic("xnas.MSFT.trade")], // xnas.AAPL.quote was never seen: no entry
    });
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["b"]);
    assert.deepEqual(subscribersOf(table, "xnas.MSFT.trade"), []);
    assert.deepEqual(table.patternsOf("a"), []);
    assert.equal(table.subscriptionCount, 1);
  });

  it("removing one of two overlapping patterns keeps the subscriber on the topic", () => {
    const { table } = setup();
    table.topic("xnas.AAPL.quote");
    table.add("a", ["xnas.AAPL.quote", "xnas.*.quote"]);
    table.remove("a", ["xnas.*.quote"]);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["a"]);
    assert.deepEqual(subscribersOf(table, "xnas.MSFT.quote"), []);
    table.add("a", ["xnas.*.quote"]);
    table.remove("a", ["xnas.AAPL.quote"]);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["a"]);
  });

  it("removing both overlapping patterns removes the subscriber from the topic", () => {
    const { table } = setup();
    table.topic("xnas.AAPL.quote");
    table.add("a", ["xnas.AAPL.quote", "xnas.*.quote", "xnas.>"]);
    table.remove("a", ["xnas.>"]);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["a"]);
    table.remove("a", ["xnas.AAPL.quote"]);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["a"]);
    table.remove("a", ["xnas.*.quote"]);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), []);
  });

  it("reports a pattern not held as 4004 and leaves other subscribers' patterns alone", () => {
    const { table } = setup();
    table.add("b", ["xnas.AAPL.quote"]);
    const result = table.remove("a", ["xnas.AAPL.quote"]);
    assert.deepEqual(result, {
      removed: [],
      errors: [
        {
          topic: "xnas.AAPL.quote",
          code: ErrorCode.UNKNOWN_TOPIC,
          msg: 'not subscribed to "xnas.AAPL.quote"',
        },
      ],
      left: [],
    });
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["b"]);
    assert.deepEqual(table.patternsOf("b"), ["xnas.AAPL.quote"]);
  });

  it("does not treat a concrete topic as held because a held wildcard covers it", () => {
    const { table } = setup();
    table.add("a", ["xnas.*.quote"]);
    const result = table.remove("a", ["xnas.AAPL.quote"]);
    assert.deepEqual(result.removed, []);
    assert.equal(result.errors[0]?.code, ErrorCode.UNKNOWN_TOPIC);
    assert.deepEqual(table.patternsOf("a"), ["xnas.*.quote"]);
  });

  it("reports invalid patterns in an unsubscribe with their syntax code", () => {
    const { table } = setup();
    table.add("a", ["xnas.AAPL.quote"]);
    const result = table.remove("a", ["xnas..quote", "xnas.AAPL.book", 7, "xnas.AAPL.quote"]);
    assert.deepEqual(result.removed, ["xnas.AAPL.quote"]);
    assert.deepEqual(
      result.errors.map((e) => [e.topic, e.code]),
      [
        ["xnas..quote", ErrorCode.BAD_TOPIC],
        ["xnas.AAPL.book", ErrorCode.UNKNOWN_TOPIC],
        ["7", ErrorCode.BAD_TOPIC],
      ],
    );
  });

  it("removeAll drops every pattern of a subscriber and nothing of the others", () => {
    const { table, listener } = setup();
    table.topic("xnas.AAPL.quote");
    table.add("a", ["xnas.AAPL.quote", "xnas.*.quote", "binance.>"]);
    table.add("b", ["xnas.*.quote"]);
    listener.calls.length = 0;
    table.removeAll("a");
    assert.deepEqual(table.patternsOf("a"), []);
    assert.deepEqual(subscribersOf(table, "xnas.AAPL.quote"), ["b"]);
    assert.deepEqual(subscribersOf(table, "binance.BTC-USDT.trade"), []);
    assert.deepEqual(listener.calls.toSorted(), ["idle binance.>", "idle xnas.AAPL.quote"]);
    assert.equal(table.subscriptionCount, 1);
    assert.equal(table.patternCount, 1);
  });

  it("removeAll of a subscriber without subscriptions does nothing", () => {
    const { table, listener } = setup();
    table.add("b", ["xnas.AAPL.quote"]);
    table.removeAll("a");
    assert.deepEqual(listener.calls, ["active xnas.AAPL.quote"]);
    assert.equal(table.subscriptionCount, 1);
  });

  it("keeps topic entries and their sequence numbers across interest changes", () => {
    const { table } = setup();
    table.add("a", ["xnas.AAPL.quote"]);
    const entry = table.topic("xnas.AAPL.quote");
    entry.seq = 41;
    table.removeAll("a");
    assert.equal(table.topic("xnas.AAPL.quote"), entry);
    assert.equal(table.topic("xnas.AAPL.quote").seq, 41);
    table.add("b", ["xnas.*.quote"]);
    assert.deepEqual([...entry.subscribers], ["b"]);
  });

  it("reports an object topic in an unsubscribe without throwing, whatever its toString", () => {
    const { table } = setup();
    const result = table.remove("a", [{ toString: 1 }]);
    assert.deepEqual(result.removed, []);
    assert.equal(result.errors[0]?.code, ErrorCode.BAD_TOPIC);
  });
});

describe("SubscriptionTable: interest listener", () => {
  it("is told patternActive exactly when a pattern gets its first subscriber", () => {
    const { table, listener } = setup();
    table.add("a", ["xnas.*.quote", "xnas.AAPL.quote"]);
    table.add("b", ["xnas.*.quote"]);
    table.add("a", ["xnas.*.quote"]);
    table.add("c", ["xnas.*.quote", "binance.>"]);
    assert.deepEqual(listener.calls, ["active xnas.*.quote", "active xnas.AAPL.quote", "active binance.>"]);
  });

  it("is told patternIdle exactly when a pattern loses its last subscriber", () => {
    const { table, listener } = setup();
    table.add("a", ["xnas.*.quote"]);
    table.add("b", ["xnas.*.quote"]);
    listener.calls.length = 0;
    table.remove("a", ["xnas.*.quote"]);
    assert.deepEqual(listener.calls, []);
    table.remove("a", ["xnas.*.quote"]);
    assert.deepEqual(listener.calls, []);
    table.remove("b", ["xnas.*.quote"]);
    assert.deepEqual(listener.calls, ["idle xnas.*.quote"]);
    assert.equal(table.patternCount, 0);
  });

  it("is told again on every 0→1 and 1→0 transition", () => {
    const { table, listener } = setup();
    table.add("a", ["xnas.AAPL.quote"]);
    table.remove("a", ["xnas.AAPL.quote"]);
    table.add("b", ["xnas.AAPL.quote"]);
    table.removeAll("b");
    assert.deepEqual(listener.calls, [
      "active xnas.AAPL.quote",
      "idle xnas.AAPL.quote",
      "active xnas.AAPL.quote",
      "idle xnas.AAPL.quote",
    ]);
  });

  it("is not told about bad topics, refused requests or patterns not held", () => {
    const { table, listener } = setup(1);
    table.add("a", ["bad topic", "xnas.AAPL.book"]);
    table.add("a", ["a.b.quote", "a.c.quote"]);
    table.remove("a", ["a.b.quote"]);
    assert.deepEqual(listener.calls, []);
  });
});

describe("SubscriptionTable: against a scan of every pattern (seeded random operations)", () => {
  const VENUES = ["a", "b", "c"];
  const SYMBOLS = ["X", "Y", "Z"];
  const TYPES = ["quote", "trade", "bar"];
  const topicOf = (random: Random): string =>
    `${random.pick(VENUES)}.${random.pick(SYMBOLS)}.${random.pick(TYPES)}`;
  function patternOf(random: Random): string {
    const roll = random.next();
    if (roll < 0.05) return ">";
    if (roll < 0.15) return `${random.pick(VENUES)}.>`;
    if (roll < 0.25) return `${random.pick([...VENUES, "*"])}.${random.pick(SYMBOLS)}.>`;
    const maybe = (tokens: readonly string[]): string => (random.next() < 0.3 ? "*" : random.pick(tokens));
    return `${maybe(VENUES)}.${maybe(SYMBOLS)}.${maybe(TYPES)}`;
  }

  for (const seed of [31, 32, 33, 34, 35, 36]) {
    it(`every topic's subscribers, entered topics and interest calls stay right (seed ${seed})`, () => {
      const random = new Random(seed);
      const listener = new RecordingListener();
      const table = new SubscriptionTable<string>(listener, 1000);
      const subscribers = ["s1", "s2", "s3", "s4", "s5"];
      const model = new Map<string, Set<string>>(subscribers.map((s) => [s, new Set()]));
      const topics = new Set<string>();
      const expectedOf = (topic: string): string[] =>
        subscribers.filter((s) =>
          [...(model.get(s) as Set<string>)].some((p) => patternMatches(p.split("."), topic.split("."))),
        );
      const heldPatterns = (): Set<string> => new Set([...model.values()].flatMap((set) => [...set]));
      for (let step = 0; step < 400; step++) {
        const roll = random.next();
        const subscriber = random.pick(subscribers);
        const mine = model.get(subscriber) as Set<string>;
        const before = heldPatterns();
        if (roll < 0.4) {
          const patterns = Array.from({ length: 1 + random.below(3) }, () => patternOf(random));
          const had = new Map([...topics].map((t) => [t, expectedOf(t).includes(subscriber)]));
          const result = table.add(subscriber, patterns);
          assert.ok(result.ok);
          for (const p of patterns) mine.add(p);
          const entered = result.entered.map((t) => t.name).sort();
          const expected = [...topics].filter(
            (t) => had.get(t) === false && expectedOf(t).includes(subscriber),
          );
          assert.deepEqual(entered, expected.sort(), `seed ${seed} step ${step}: entered`);
        } else if (roll < 0.7 && mine.size > 0) {
          const patterns = [...mine].filter(() => random.next() < 0.5);
          const result = table.remove(subscriber, patterns);
          assert.deepEqual(result.removed, patterns);
          for (const p of patterns) mine.delete(p);
        } else if (roll < 0.75) {
          table.removeAll(subscriber);
          mine.clear();
        } else {
          const topic = topicOf(random);
          table.topic(topic);
          topics.add(topic);
        }
        const after = heldPatterns();
        const calls = listener.calls.splice(0).sort();
        const expectedCalls = [
          ...[...after].filter((p) => !before.has(p)).map((p) => `active ${p}`),
          ...[...before].filter((p) => !after.has(p)).map((p) => `idle ${p}`),
        ].sort();
        assert.deepEqual(calls, expectedCalls, `seed ${seed} step ${step}: interest calls`);
        assert.equal(table.patternCount, after.size);
        for (const topic of topics) {
          assert.deepEqual(
            [...(table.find(topic)?.subscribers ?? [])].sort(),
            expectedOf(topic),
            `seed ${seed} step ${step}: subscribers of ${topic}`,
          );
        }
      }
    });
  }
});
