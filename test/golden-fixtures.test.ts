import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { Unpackr } from "msgpackr";
import {
  EVENT_TYPES,
  EventEncoder,
  encodeControl,
  encodeEventJson,
  type ControlMessage,
  type MarketEvent,
} from "../src/protocol/index.ts";
import { BatchWriter, SendResult, type FrameSink } from "../src/fanout/index.ts";

/**
 * Golden fixtures (proto/fixtures): every `NAME.msgpack` holds the exact bytes of one frame and
 * `NAME.json` the value it decodes to. The bytes must decode to the value and the value must encode back
 * to the same bytes, so an encoder change that alters the wire shows up here (STYLE.md, "Protocol").
 */
const PROTO = new URL("../proto/", import.meta.url);
const FIXTURES = new URL("fixtures/", PROTO);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

const files = readdirSync(FIXTURES).filter((name) => !name.startsWith("."));
const stems = (ext: string): string[] =>
  files.filter((name) => name.endsWith(ext)).map((name) => name.slice(0, -ext.length));
const names = [...new Set([...stems(".msgpack"), ...stems(".json")])].sort();
const doc = readFileSync(new URL("PROTOCOL.md", PROTO), "utf8");

/** What the gateway writes for a run of events in one turn: the real BatchWriter into a capturing sink. */
function batchOf(frames: (Uint8Array | string)[], isBinary: boolean): Uint8Array | string {
  let out: Uint8Array | string = "";
  const sink: FrameSink = {
    send: (frame) => {
      out = typeof frame === "string" ? frame : Uint8Array.from(frame);
      return SendResult.SENT;
    },
    cork: (fn) => fn(),
    bufferedBytes: () => 0,
    close: () => undefined,
    ping: () => SendResult.SENT,
  };
  new BatchWriter().write(sink, isBinary, frames, 0, frames.length);
  return out;
}

function isMarketEvent(value: unknown): value is MarketEvent {
  const e = (value as { e?: unknown }).e;
  return typeof e === "string" && (EVENT_TYPES as readonly string[]).includes(e);
}

void describe("golden fixtures in proto/fixtures", () => {
  void it("exist, and every file is a .msgpack/.json pair", () => {
    assert.ok(names.length >= 12, `expected at least 12 fixtures, found ${names.length}`);
    for (const name of files) {
      assert.ok(/\.(msgpack|json)$/.test(name), `${name}: fixtures are NAME.msgpack plus NAME.json`);
    }
  });

  for (const name of names) {
    void describe(name, () => {
      const read = (ext: string): Buffer => {
        assert.ok(files.includes(name + ext), `${name}${ext} is missing: every fixture is a pair`);
        return readFileSync(new URL(name + ext, FIXTURES));
      };

      void it("decodes from msgpack to the value in the .json file", () => {
        const bytes = read(".msgpack");
        const expected: unknown = JSON.parse(read(".json").toString("utf8"));
        assert.deepEqual(unpackr.unpack(bytes), expected);
      });

      void it("re-encodes to the same msgpack bytes", () => {
        const bytes = read(".msgpack");
        const value: unknown = unpackr.unpack(bytes);
        const encoded = Array.isArray(value)
          ? batchOf(
              value.map((event) => new EventEncoder().encode(event as MarketEvent)),
              true,
            )
          : isMarketEvent(value)
            ? new EventEncoder().encode(value)
            : encodeControl(value as ControlMessage, "msgpack");
        assert.ok(encoded instanceof Uint8Array, "msgpack encoding gives bytes");
        assert.equal(Buffer.from(encoded).toString("hex"), bytes.toString("hex"));
      });

      void it("encodes to the compact JSON of the .json file", () => {
        const canonical = JSON.stringify(JSON.parse(read(".json").toString("utf8")));
        const value: unknown = unpackr.unpack(read(".msgpack"));
        // Data events go out through encodeEventJson (fanout/encoded-event.ts), arrays through BatchWriter.
        const text = Array.isArray(value)
          ? batchOf(
              value.map((event) => encodeEventJson(event as MarketEvent)),
              false,
            )
          : isMarketEvent(value)
            ? encodeEventJson(value)
            : encodeControl(value as ControlMessage, "json");
        assert.equal(text, canonical);
      });

      void it("is referenced from PROTOCOL.md", () => {
        for (const ext of [".msgpack", ".json"]) {
          assert.ok(
            doc.includes(`fixtures/${name}${ext}`),
            `PROTOCOL.md does not mention fixtures/${name}${ext}`,
          );
        }
      });
    });
  }
});
