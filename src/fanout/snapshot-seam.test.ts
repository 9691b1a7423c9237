import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEncoder, EventFlag, type Encoding, type MarketEvent } from "../protocol/index.ts";
import { EncodedEvent } from "./encoded-event.ts";
import type { Hub } from "./hub.ts";
import {
  StoreHistory,
  TE,
  connect,
  messages,
  request,
  setup,
  turn,
  type MemorySink,
} from "./hub.test-support.ts";
import { seamViolations } from "./seam-check.test-support.ts";

const encoder = new EventEncoder();

/**
 * A feed as the ingest runs it: each update of a topic takes the topic's next q (`++topic.seq`), goes
 * through the hub, and becomes the history's last value of its subject (JetStream keeps q 0).
 */
class Feed {
  constructor(
    readonly hub: Hub,
    readonly history: StoreHistory | undefined,
  ) {}

  publish(name: string, bp = 1): MarketEvent {
    const topic = this.hub.topic(name);
    const event: MarketEvent = {
      e: "quote",
      t: name,
      q: ++topic.seq,
      te: TE,
      ts: TE,
      bp,
      bz: 1,
      ap: bp + 1,
      az: 1,
    };
    this.hub.publish(topic, new EncodedEvent(event, encoder.encode(event)));
    this.store(name, bp);
    return event;
  }

  /** A value only the history has (published while this gateway did not receive the topic). */
  store(name: string, bp: number): void {
    this.history?.store.set(name, { e: "quote", t: name, q: 0, te: TE, ts: 0, bp, bz: 1, ap: bp + 1, az: 1 });
  }
}

/** Lets the history promises settle and the hub's flush run. */
/** A hub whose feed history answers when the test says (`history.answer()`), and a feed into both. */
function withHistory(): { history: StoreHistory; hub: Hub; feed: Feed } {
  const history = new StoreHistory(new Map(), true);
  const { hub } = setup({}, history);
  return { history, hub, feed: new Feed(hub, history) };
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  await turn();
}

/** (topic, q, flags) of every data event, in arrival order. */
const seen = (sink: MemorySink): string[] =>
  messages(sink)
    .filter((m) => typeof m["t"] === "string")
    .map((m) => `${String(m["t"])}:${String(m["q"])}${m["f"] === EventFlag.SNAPSHOT ? "S" : ""}`);

const subscribe = (
  hub: Hub,
  session: Parameters<Hub["receive"]>[0],
  id: unknown,
  topics: string[],
  extra = {},
): void => request(hub, session, { method: "subscribe", id, params: { topics, ...extra } });

for (const encoding of ["json", "msgpack"] as const satisfies readonly Encoding[]) {
  describe(`snapshot seam with several subscribes in flight (${encoding})`, () => {
    it("a live event of the first subscribe's topic held behind the second's wait arrives once, not as 1S then 1", async () => {
      const { history, hub, feed } = withHistory();
      feed.store("xnas.A.quote", 100);
      const { session, sink } = connect(hub, encoding);
      subscribe(hub, session, "a", ["xnas.A.quote"]);
      subscribe(hub, session, "b", ["xnas.B.quote"]);
      feed.publish("xnas.A.quote", 101); // held after b's wait
      history.answer();
      await settle();
      assert.deepEqual(seamViolations(messages(sink)), []);
      assert.deepEqual(
        seen(sink),
        ["xnas.A.quote:1S"],
        "the newest value as the snapshot, the live copy not again",
      );
      const order = messages(sink).map(
        (m) => `${typeof m["e"] === "string" ? m["e"] : "reply"}:${String(m["id"] ?? m["t"])}`,
      );
      assert.deepEqual(order, [
        "reply:a",
        "quote:xnas.A.quote",
        "snapshot_end:a",
        "reply:b",
        "snapshot_end:b",
      ]);
    });

    it("two live events held behind a later wait never follow their own newer snapshot (no 2S then 1)", async () => {
      const { history, hub, feed } = withHistory();
      feed.store("xnas.A.quote", 100);
      const { session, sink } = connect(hub, encoding);
      subscribe(hub, session, "a", ["xnas.*.quote"]);
      subscribe(hub, session, "b", ["xlon.*.quote"]);
      subscribe(hub, session, "c", ["xpar.*.quote"]);
      feed.publish("xnas.A.quote", 101);
      feed.publish("xnas.A.quote", 102);
      history.answer();
      await settle();
      feed.publish("xnas.A.quote", 103);
      await turn();
      assert.deepEqual(seamViolations(messages(sink)), []);
      assert.deepEqual(seen(sink), ["xnas.A.quote:2S", "xnas.A.quote:3"]);
    });

    it("a topic answered by the history of two overlapping subscribes is snapshotted once (q 0 included)", async () => {
      const { history, hub, feed } = withHistory();
      feed.store("xnas.A.quote", 100);
      const { session, sink } = connect(hub, encoding);
      subscribe(hub, session, "wide", ["xnas.*.quote"]);
      subscribe(hub, session, "narrow", ["xnas.A.quote"]);
      history.answer();
      await settle();
      feed.publish("xnas.A.quote", 101);
      await turn();
      assert.deepEqual(seamViolations(messages(sink)), []);
      assert.deepEqual(seen(sink), ["xnas.A.quote:0S", "xnas.A.quote:1"]);
    });

    it("a history snapshot q 0 is not followed by an older or equal live event held behind a later wait", async () => {
      const { history, hub, feed } = withHistory();
      feed.store("xnas.A.quote", 100);
      const { session, sink } = connect(hub, encoding);
      subscribe(hub, session, "wide", ["xnas.*.quote"]);
      history.answer(); // the first lookup is answered; its completion runs before the live event
      await settle();
      subscribe(hub, session, "narrow", ["xlon.B.quote"]);
      feed.publish("xnas.A.quote", 101);
      history.answer();
      await settle();
      assert.deepEqual(seamViolations(messages(sink)), []);
      assert.deepEqual(seen(sink), ["xnas.A.quote:0S", "xnas.A.quote:1"]);
    });

    it("maxHz: an update held back by the rate never follows the newer snapshot that represents it", async () => {
      const history = new StoreHistory(new Map(), true);
      const { hub, clock } = setup({}, history);
      const feed = new Feed(hub, history);
      feed.store("xnas.A.quote", 100);
      const { session, sink } = connect(hub, encoding);
      subscribe(hub, session, "a", ["xnas.*.quote"], { maxHz: 1 });
      subscribe(hub, session, "b", ["xlon.*.quote"]);
      feed.publish("xnas.A.quote", 101); // sent at once by the rate: held behind b's wait
      clock.nowMs += 10;
      feed.publish("xnas.A.quote", 102); // held back by the rate
      history.answer();
      await settle();
      clock.nowMs += 2000;
      hub.tick(clock.nowMs);
      await turn();
      assert.deepEqual(seamViolations(messages(sink)), []);
      assert.deepEqual(seen(sink), ["xnas.A.quote:2S"]);
      assert.equal(session.eventsConflated, 0, "nothing merged that the client is told about");
    });

    it("conflation: a value merged before the hold never follows the newer event released from the hold", async () => {
      const { history, hub, feed } = withHistory();
      const { session, sink } = connect(hub, encoding);
      subscribe(hub, session, "y", ["xnas.Y.quote"], { snapshot: false });
      await turn();
      sink.buffered = 10_000; // over the soft watermark after the next write
      feed.publish("xnas.Y.quote", 1);
      await turn();
      feed.publish("xnas.Y.quote", 2); // merged: conflating
      feed.publish("xnas.Y.quote", 3);
      subscribe(hub, session, "z", ["xnas.Z.quote"]); // waits for history: holds
      feed.publish("xnas.Y.quote", 4); // held
      history.answer();
      await settle();
      sink.buffered = 0;
      hub.drained(session);
      await turn();
      assert.deepEqual(seamViolations(messages(sink)), []);
      const ys = messages(sink).filter((m) => m["t"] === "xnas.Y.quote");
      assert.deepEqual(
        ys.map((m) => [m["q"], m["n"]]),
        [
          [1, undefined],
          [4, 3],
        ],
        "the newest value, standing for every update since the last one sent",
      );
    });

    it("an unsubscribe and re-subscribe of the topic while frames are held: no repeat, no step back", async () => {
      const { history, hub, feed } = withHistory();
      const other = connect(hub, encoding); // keeps the topic watched, so its value stays cached
      subscribe(hub, other.session, "o", ["xnas.A.quote"], { snapshot: false });
      feed.publish("xnas.A.quote", 1);
      const { session, sink } = connect(hub, encoding);
      subscribe(hub, session, "a", ["xnas.A.quote"]);
      subscribe(hub, session, "w", ["xlon.*.quote"]); // holds
      feed.publish("xnas.A.quote", 2);
      request(hub, session, { method: "unsubscribe", id: "u", params: { topics: ["xnas.A.quote"] } });
      subscribe(hub, session, "again", ["xnas.A.quote"]);
      feed.publish("xnas.A.quote", 3);
      history.answer();
      await settle();
      assert.deepEqual(seamViolations(messages(sink)), []);
      assert.deepEqual(seen(sink), [
        "xnas.A.quote:1S",
        "xnas.A.quote:2",
        "xnas.A.quote:2S",
        "xnas.A.quote:3",
      ]);
    });

    it("a snapshot:false subscribe overlapping a holding one adds no snapshot and no repeat", async () => {
      const { history, hub, feed } = withHistory();
      feed.store("xnas.A.quote", 100);
      const { session, sink } = connect(hub, encoding);
      subscribe(hub, session, "wide", ["xnas.*.quote"]);
      subscribe(hub, session, "quiet", ["xnas.A.quote"], { snapshot: false });
      subscribe(hub, session, "w", ["xlon.*.quote"]);
      feed.publish("xnas.A.quote", 101);
      history.answer();
      await settle();
      assert.deepEqual(seamViolations(messages(sink)), []);
      assert.deepEqual(seen(sink), ["xnas.A.quote:1S"]);
    });
  });
}

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("snapshot seam under random overlap of subscribes, unsubscribes, feed, history, maxHz and conflation", () => {
  const TOPICS = ["xnas.A.quote", "xnas.B.quote", "xlon.C.quote", "xlon.D.quote"];
  const PATTERNS = [...TOPICS, "xnas.*.quote", "xlon.*.quote", "*.*.quote", "xnas.>"];

  async function run(seed: number, withHistory: boolean): Promise<void> {
    const random = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const history = withHistory ? new StoreHistory(new Map(), true) : undefined;
    const { hub, clock } = setup({ maxTopicsPerConnection: 16 }, history);
    const feed = new Feed(hub, history);
    for (const t of TOPICS) if (random() < 0.5) feed.store(t, 50);
    const clients = [connect(hub, "json"), connect(hub, "msgpack"), connect(hub, "json")];
    let id = 0;
    for (let step = 0; step < 120; step++) {
      const client = pick(clients);
      const r = random();
      if (r < 0.3) {
        const extra: Record<string, unknown> = {};
        if (random() < 0.25) extra["maxHz"] = 5;
        if (random() < 0.15) extra["snapshot"] = false;
        subscribe(hub, client.session, ++id, [pick(PATTERNS)], extra);
      } else if (r < 0.4) {
        request(hub, client.session, {
          method: "unsubscribe",
          id: ++id,
          params: { topics: [pick(PATTERNS)] },
        });
      } else if (r < 0.75) {
        feed.publish(pick(TOPICS), random());
      } else if (r < 0.82) {
        history?.answer();
        await new Promise((resolve) => setTimeout(resolve, 0));
      } else if (r < 0.88) {
        clock.nowMs += 50 + random() * 300;
        hub.tick(clock.nowMs);
      } else if (r < 0.93) {
        client.sink.buffered = random() < 0.5 ? 2000 : 0; // over or under the soft watermark
        if (client.sink.buffered === 0) hub.drained(client.session);
      } else {
        await turn();
      }
    }
    history?.answer();
    await new Promise((resolve) => setTimeout(resolve, 1));
    for (const client of clients) {
      client.sink.buffered = 0;
      hub.drained(client.session);
    }
    clock.nowMs += 10_000;
    hub.tick(clock.nowMs);
    await turn();
    for (const [i, client] of clients.entries()) {
      const problems = seamViolations(messages(client.sink));
      assert.deepEqual(
        problems,
        [],
        `seed ${seed}, history ${withHistory}, client ${i}: ${seen(client.sink).join(" ")}`,
      );
    }
  }

  it("no connection ever gets a (topic, q) twice or a q smaller than one it got, with feed history", async () => {
    for (let seed = 1; seed <= 150; seed++) await run(seed, true);
  });

  it("no connection ever gets a (topic, q) twice or a q smaller than one it got, without feed history", async () => {
    for (let seed = 1; seed <= 150; seed++) await run(seed, false);
  });
});
