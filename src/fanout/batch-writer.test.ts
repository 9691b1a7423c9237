import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Unpackr } from "msgpackr";
import { EventEncoder, type MarketEvent } from "../protocol/index.ts";
import { BatchWriter, MAX_BATCH_BYTES } from "./batch-writer.ts";
import { SendResult, type FrameSink } from "./sink.ts";

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const encoder = new EventEncoder();

class CopyingSink implements FrameSink {
  readonly sent: { data: Uint8Array | string; isBinary: boolean }[] = [];
  refuse = false;
  send(frame: Uint8Array | string, isBinary: boolean): SendResult {
    if (this.refuse) return SendResult.DROPPED;
    this.sent.push({ data: typeof frame === "string" ? frame : Uint8Array.from(frame), isBinary });
    return SendResult.SENT;
  }
  cork(fn: () => void): void {
    fn();
  }
  bufferedBytes(): number {
    return 0;
  }
  close(): void {}
  ping(): SendResult {
    return SendResult.SENT;
  }
}

function trades(count: number, topic = "xnas.AAPL.trade"): MarketEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    e: "trade",
    t: topic,
    q: i + 1,
    te: 1_795_557_716_962_000 + i,
    ts: 1_795_557_716_963_000 + i,
    p: 100 + i,
    z: 1,
  }));
}

describe("BatchWriter", () => {
  it("sends a single event as itself, not wrapped in an array", () => {
    const sink = new CopyingSink();
    const [event] = trades(1);
    const frame = encoder.encode(event!);
    const result = new BatchWriter().write(sink, true, [frame], 0, 1);
    assert.deepEqual({ ...result }, { frames: 1, events: 1, refused: 0, bytes: frame.length });
    assert.deepEqual(Buffer.from(sink.sent[0]!.data as Uint8Array), Buffer.from(frame));
  });

  for (const count of [2, 15, 16, 300]) {
    it(`${count} events become one msgpack array with the right header and every event in order`, () => {
      const sink = new CopyingSink();
      const events = trades(count);
      const frames = events.map((e) => encoder.encode(e));
      const result = new BatchWriter().write(sink, true, frames, 0, count);
      assert.equal(result.frames, 1);
      assert.equal(result.events, count);
      const bytes = sink.sent[0]!.data as Uint8Array;
      assert.equal(bytes[0], count < 16 ? 0x90 | count : 0xdc, "fixarray below 16, array16 from 16");
      assert.deepEqual(unpackr.unpack(bytes), events);
    });
  }

  it("splits a run larger than MAX_BATCH_BYTES into several frames, none over the limit, losing nothing", () => {
    const sink = new CopyingSink();
    const events = trades(3000);
    const frames = events.map((e) => encoder.encode(e));
    const result = new BatchWriter().write(sink, true, frames, 0, frames.length);
    assert.ok(result.frames > 1);
    for (const { data } of sink.sent)
      assert.ok(data.length <= MAX_BATCH_BYTES + 5, `frame of ${data.length} bytes`);
    const decoded = sink.sent.flatMap(({ data }) => unpackr.unpack(data as Uint8Array) as MarketEvent[]);
    assert.deepEqual(decoded, events);
    assert.equal(result.events, 3000);
  });

  it("writes JSON texts as one JSON array", () => {
    const sink = new CopyingSink();
    const texts = trades(3).map((e) => JSON.stringify(e));
    new BatchWriter().write(sink, false, texts, 0, 3);
    assert.equal(sink.sent[0]!.isBinary, false);
    assert.deepEqual(JSON.parse(sink.sent[0]!.data as string), trades(3));
  });

  it("writes only the requested slice", () => {
    const sink = new CopyingSink();
    const events = trades(5);
    const frames = events.map((e) => encoder.encode(e));
    new BatchWriter().write(sink, true, frames, 1, 3);
    assert.deepEqual(unpackr.unpack(sink.sent[0]!.data as Uint8Array), events.slice(1, 3));
  });

  it("counts events the WebSocket layer refused", () => {
    const sink = new CopyingSink();
    sink.refuse = true;
    const frames = trades(4).map((e) => encoder.encode(e));
    const result = new BatchWriter().write(sink, true, frames, 0, 4);
    assert.deepEqual({ ...result }, { frames: 0, events: 0, refused: 4, bytes: 0 });
  });
});
