import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Packr } from "msgpackr";
import { CLIENT_FRAME_LIMITS, DecodeError, FEED_PAYLOAD_LIMITS } from "./decode-limits.ts";
import { StrictMsgpackDecoder } from "./strict-msgpack.ts";

const decoder = new StrictMsgpackDecoder(CLIENT_FRAME_LIMITS);
const packr = new Packr({ useRecords: false });
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

function refused(input: Uint8Array, why: RegExp, on = decoder): void {
  assert.throws(
    () => on.decode(input),
    (error: unknown) =>
      error instanceof DecodeError && error.code === "TICKWIRE_ERR_DECODE" && why.test(error.message),
  );
}

describe("StrictMsgpackDecoder: plain msgpack", () => {
  it("decodes what msgpackr packs: maps, arrays, strings, numbers, booleans, null", () => {
    const value = {
      method: "subscribe",
      id: 7,
      params: { topics: ["xnas.AAPL.quote", "z".repeat(200)], snapshot: false, maxHz: 0.5 },
      list: [null, true, false, -1, -33, -200, -40000, -3e9, 255, 65535, 4e9, 1.25, "zürich-€-🙂"],
    };
    assert.deepEqual(decoder.decode(packr.pack(value)), value);
  });

  it("decodes every integer width, 64-bit ones as numbers while safe and exact bigints beyond", () => {
    assert.equal(decoder.decode(bytes(0xd0, 0x80)), -128);
    assert.equal(decoder.decode(bytes(0xd1, 0x80, 0x00)), -32768);
    assert.equal(decoder.decode(bytes(0xd2, 0x80, 0, 0, 0)), -(2 ** 31));
    assert.equal(decoder.decode(bytes(0xce, 0xff, 0xff, 0xff, 0xff)), 2 ** 32 - 1);
    assert.equal(decoder.decode(bytes(0xcf, 0, 0, 0, 0x01, 0x2a, 0x05, 0xf2, 0)), 5_000_000_000);
    assert.equal(decoder.decode(bytes(0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 2 ** 53 - 1);
    assert.equal(decoder.decode(bytes(0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0x01)), 9007199254740993n);
    assert.equal(decoder.decode(bytes(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 2n ** 64n - 1n);
    assert.equal(decoder.decode(bytes(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe)), -2);
    assert.equal(decoder.decode(bytes(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0)), -(2n ** 63n));
    assert.equal(decoder.decode(bytes(0xca, 0x3f, 0xc0, 0, 0)), 1.5);
    assert.equal(decoder.decode(bytes(0xcb, 0x41, 0xf2, 0xa0, 0x5f, 0x20, 0, 0, 0)), 5e9);
  });

  it("copies binary values out of the input", () => {
    const input = bytes(0xc4, 0x02, 0x01, 0x02);
    const value = decoder.decode(input) as Uint8Array;
    input[2] = 9;
    assert.deepEqual([...value], [1, 2]);
  });

  it("makes __proto__ an own key, never the prototype", () => {
    const value = decoder.decode(packr.pack(JSON.parse('{"__proto__":{"polluted":1},"id":1}'))) as object;
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value), ["__proto__", "id"]);
    assert.equal(({} as { polluted?: number }).polluted, undefined);
  });
});

describe("StrictMsgpackDecoder: refusals (issue 11 item 1)", () => {
  it("refuses every extension type: records, structures, references, timestamps", () => {
    // fixext 1/2/4/8/16 and ext 8/16/32, with msgpackr's record (0x72), pointer (0x70) and timestamp (-1) types.
    for (const input of [
      bytes(0xd4, 0x72, 0x00),
      bytes(0xd5, 0x70, 0x00, 0x01),
      bytes(0xd6, 0xff, 0, 0, 0, 0),
      bytes(0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0),
      bytes(0xd8, 0x70, ...new Array<number>(16).fill(0)),
      bytes(0xc7, 0x01, 0x70, 0x00),
      bytes(0xc8, 0x00, 0x01, 0x70, 0x00),
      bytes(0xc9, 0x00, 0x00, 0x00, 0x01, 0x70, 0x00),
    ]) {
      refused(input, /extension type 0x(d[4-8]|c[7-9]) is not accepted/);
    }
  });

  it("refuses a chain of references that doubles at each level, inside a request map", () => {
    // {"id":1,"params":[ref, ref, …]}: msgpackr's pointer extension (0x70) to earlier values; the first
    // extension byte ends the decode, whatever follows.
    const chain = [0x82, 0xa2, 0x69, 0x64, 0x01, 0xa6, ...Buffer.from("params"), 0xdc, 0x01, 0x90];
    for (let i = 0; i < 400; i++) chain.push(0xd5, 0x70, 0x00, i & 0xff);
    refused(Uint8Array.from(chain), /extension type 0xd5 is not accepted/);
  });

  it("refuses nesting deeper than the limit", () => {
    refused(Uint8Array.from([...new Array<number>(10_000).fill(0x91), 0x00]), /nesting deeper than 16/);
    const maps = Array.from({ length: 17 }, () => [0x81, 0xa1, 0x6b]).flat(); // {"k":{"k":…0}}
    refused(Uint8Array.from([...maps, 0x00]), /nesting deeper than 16/);
  });

  it("refuses declared lengths the input cannot hold before allocating anything", () => {
    refused(bytes(0xdd, 0xff, 0xff, 0xff, 0xff), /declares 4294967295 entries, more than the input holds/);
    refused(
      bytes(0xdf, 0xff, 0xff, 0xff, 0xff, 0x00),
      /declares 4294967295 entries, more than the input holds/,
    );
    refused(bytes(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61), /string longer than the input/);
    refused(bytes(0xc6, 0xff, 0xff, 0xff, 0xff, 0x61), /binary longer than the input/);
    refused(bytes(0xdc, 0x00, 0x03, 0x01, 0x02), /declares 3 entries/);
  });

  it("refuses more elements than the limit, even when the input holds them", () => {
    refused(
      Uint8Array.from([0xdc, 0x13, 0x88, ...new Array<number>(5000).fill(0)]),
      /more than 4096 elements/,
    );
    const feed = new StrictMsgpackDecoder(FEED_PAYLOAD_LIMITS);
    refused(
      Uint8Array.from([0xdc, 0x01, 0x01, ...new Array<number>(257).fill(0)]),
      /more than 256 elements/,
      feed,
    );
  });

  it("refuses 0xc1, trailing bytes, truncation, non-string keys and invalid UTF-8", () => {
    refused(bytes(0xc1), /0xc1 is never used/);
    refused(bytes(0x01, 0x02), /1 trailing bytes/);
    refused(bytes(), /empty input/);
    refused(bytes(0xcb, 0x00), /truncated/);
    refused(bytes(0x81, 0x01, 0x02), /map key is not a string/);
    refused(bytes(0xa2, 0xc3, 0x28), /not valid UTF-8/);
  });

  it("stays usable after a refusal", () => {
    refused(bytes(0xd4, 0x72, 0x00), /not accepted/);
    assert.deepEqual(decoder.decode(packr.pack({ id: 1 })), { id: 1 });
  });
});
