import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { ErrorCode } from "../wire/index.ts";
import {
  MAX_TOPICS_PER_REQUEST,
  isPlainMap,
  FloatId,
  parseRequest,
  type Request,
  type RequestError,
} from "./request.ts";

function ok(value: unknown): Request {
  const parsed = parseRequest(value);
  assert.ok(parsed.ok, `expected ${inspect(value)} to parse, got ${inspect(parsed)}`);
  return parsed.request;
}

function failed(value: unknown): RequestError {
  const parsed = parseRequest(value);
  assert.ok(!parsed.ok, `expected ${inspect(value)} to be refused`);
  return { id: parsed.id, code: parsed.code, msg: parsed.msg };
}

describe("parseRequest: methods", () => {
  it("parses a subscribe with topics, defaulting snapshot to true, every update and conflate", () => {
    assert.deepEqual(
      ok({ method: "subscribe", id: 1, params: { topics: ["xnas.AAPL.quote", "xnas.*.trade"] } }),
      {
        method: "subscribe",
        id: 1,
        topics: ["xnas.AAPL.quote", "xnas.*.trade"],
        snapshot: true,
        maxHz: 0,
        onSlow: "conflate",
      },
    );
  });

  it("parses a subscribe with snapshot false or true", () => {
    const off = ok({ method: "subscribe", id: "a", params: { topics: ["x.y.bar"], snapshot: false } });
    assert.equal(off.method === "subscribe" && off.snapshot, false);
    const on = ok({ method: "subscribe", id: "a", params: { topics: ["x.y.bar"], snapshot: true } });
    assert.equal(on.method === "subscribe" && on.snapshot, true);
  });

  it("returns subscribe topics unchecked, so bad ones can be reported one by one", () => {
    const request = ok({
      method: "subscribe",
      id: 2,
      params: { topics: ["x.y.trade", 7, "bad topic", null] },
    });
    assert.deepEqual(request.method === "subscribe" && request.topics, ["x.y.trade", 7, "bad topic", null]);
  });

  it("parses an unsubscribe with topics", () => {
    assert.deepEqual(ok({ method: "unsubscribe", id: 3, params: { topics: ["xnas.AAPL.quote"] } }), {
      method: "unsubscribe",
      id: 3,
      topics: ["xnas.AAPL.quote"],
    });
  });

  it("parses list and ping with or without params", () => {
    assert.deepEqual(ok({ method: "list", id: 4 }), { method: "list", id: 4 });
    assert.deepEqual(ok({ method: "ping", id: "p" }), { method: "ping", id: "p" });
    assert.deepEqual(ok({ method: "list", id: 5, params: {} }), { method: "list", id: 5 });
    assert.deepEqual(ok({ method: "ping", id: 6, params: {} }), { method: "ping", id: 6 });
  });

  it("refuses an unknown method with 4005, echoing the id and listing the known methods", () => {
    const error = failed({ method: "auth2", id: 9 });
    assert.equal(error.id, 9);
    assert.equal(error.code, ErrorCode.UNKNOWN_METHOD);
    assert.match(error.msg, /unknown method "auth2"/);
    assert.match(error.msg, /subscribe, unsubscribe, list, ping/);
  });

  it("truncates a long unknown method name to 64 characters in the message", () => {
    const error = failed({ method: "m".repeat(1000), id: 9 });
    assert.equal(error.code, ErrorCode.UNKNOWN_METHOD);
    assert.ok(error.msg.includes(`"${"m".repeat(64)}"`));
    assert.ok(!error.msg.includes("m".repeat(65)));
  });

  it("refuses a missing or non-string method with 4000, echoing the id", () => {
    assert.deepEqual(failed({ id: 1 }), {
      id: 1,
      code: ErrorCode.BAD_REQUEST,
      msg: "request has no method string",
    });
    assert.deepEqual(failed({ id: 1, method: 5 }), {
      id: 1,
      code: ErrorCode.BAD_REQUEST,
      msg: "request has no method string",
    });
  });
});

describe("parseRequest: request and id", () => {
  it("refuses a request that is not a map with 4000 and id null", () => {
    for (const [value, what] of [
      [null, "null"],
      [[1, 2], "an array"],
      ["subscribe", "string"],
      [42, "number"],
      [new Uint8Array([1]), "binary"],
      [undefined, "undefined"],
    ] as const) {
      assert.deepEqual(failed(value), {
        id: null,
        code: ErrorCode.BAD_REQUEST,
        msg: `request must be a map, got ${what}`,
      });
    }
  });

  it("refuses a request without id with 4000 and id null", () => {
    assert.deepEqual(failed({ method: "ping" }), {
      id: null,
      code: ErrorCode.BAD_REQUEST,
      msg: "request has no id",
    });
  });

  it("refuses ids of the wrong type with 4000 and id null", () => {
    const tooWide = [2n ** 64n, -(2n ** 63n) - 1n]; // only a JSON integer literal can be this wide
    for (const id of [
      null,
      true,
      { n: 1 },
      [1],
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "x".repeat(65),
      ...tooWide,
    ]) {
      const error = failed({ method: "ping", id });
      assert.equal(error.id, null, inspect(id));
      assert.equal(error.code, ErrorCode.BAD_REQUEST);
      assert.match(
        error.msg,
        /id must be an integer of at most 64 bits, a number or a string of at most 64 characters/,
      );
    }
  });

  it("accepts numeric and string ids up to 64 characters and echoes them unchanged", () => {
    const floatId = new FloatId(5e9, 64);
    const ids = [0, -1, 1.5, 2 ** 53, "", "abc", "x".repeat(64), 2n ** 64n - 1n, -(2n ** 63n), floatId];
    for (const id of ids) assert.equal(ok({ method: "ping", id }).id, id);
  });

  it("checks the id before the method, so a bad id hides an unknown method", () => {
    assert.deepEqual(failed({ method: "nope" }), {
      id: null,
      code: ErrorCode.BAD_REQUEST,
      msg: "request has no id",
    });
  });
});

describe("parseRequest: params", () => {
  it("refuses params that are not a map with 4000, echoing the id", () => {
    for (const [params, what] of [
      [[], "an array"],
      ["topics", "string"],
      [3, "number"],
      [new Uint8Array(2), "binary"],
    ] as const) {
      assert.deepEqual(failed({ method: "list", id: 7, params }), {
        id: 7,
        code: ErrorCode.BAD_REQUEST,
        msg: `params must be a map, got ${what}`,
      });
    }
  });

  it("refuses subscribe and unsubscribe with missing, empty or non-array topics with 4000", () => {
    for (const method of ["subscribe", "unsubscribe"]) {
      for (const params of [undefined, {}, { topics: [] }, { topics: "xnas.AAPL.quote" }, { topics: null }]) {
        assert.deepEqual(failed({ method, id: 8, params }), {
          id: 8,
          code: ErrorCode.BAD_REQUEST,
          msg: "params.topics must be a non-empty array of topic strings",
        });
      }
    }
  });

  it(`accepts ${MAX_TOPICS_PER_REQUEST} topics and refuses ${MAX_TOPICS_PER_REQUEST + 1} with 4006`, () => {
    const topics = Array.from({ length: MAX_TOPICS_PER_REQUEST }, (_, i) => `xnas.S${i}.quote`);
    for (const method of ["subscribe", "unsubscribe"]) {
      const request = ok({ method, id: 1, params: { topics } });
      assert.equal("topics" in request && request.topics.length, MAX_TOPICS_PER_REQUEST);
      assert.deepEqual(failed({ method, id: 1, params: { topics: [...topics, "xnas.X.quote"] } }), {
        id: 1,
        code: ErrorCode.LIMIT,
        msg: `params.topics has ${MAX_TOPICS_PER_REQUEST + 1} entries; at most ${MAX_TOPICS_PER_REQUEST} per request`,
      });
    }
  });

  it("refuses unknown subscribe params with 4000 naming the param", () => {
    assert.deepEqual(
      failed({ method: "subscribe", id: 1, params: { topics: ["a.b.quote"], snapshots: true } }),
      {
        id: 1,
        code: ErrorCode.BAD_REQUEST,
        msg: 'subscribe: unknown param "snapshots"',
      },
    );
  });

  it("refuses unknown unsubscribe params with 4000 naming the param", () => {
    assert.deepEqual(
      failed({ method: "unsubscribe", id: 1, params: { topics: ["a.b.quote"], snapshot: true } }),
      {
        id: 1,
        code: ErrorCode.BAD_REQUEST,
        msg: 'unsubscribe: unknown param "snapshot"',
      },
    );
  });

  it("reads maxHz and onSlow, defaulting to every update and conflate", () => {
    const parsed = parseRequest({
      method: "subscribe",
      id: 2,
      params: { topics: ["a.b.quote"], maxHz: 2.5, onSlow: "disconnect" },
    });
    assert.ok(parsed.ok && parsed.request.method === "subscribe");
    assert.equal(parsed.request.maxHz, 2.5);
    assert.equal(parsed.request.onSlow, "disconnect");
    const plain = parseRequest({ method: "subscribe", id: 3, params: { topics: ["a.b.quote"] } });
    assert.ok(plain.ok && plain.request.method === "subscribe");
    assert.equal(plain.request.maxHz, 0);
    assert.equal(plain.request.onSlow, "conflate");
  });

  it("refuses a maxHz that is not 0 or a number from 0.01 to 1000 with 4000 (tiny rates too: issue 11 §4)", () => {
    for (const maxHz of [-1, 1001, Number.NaN, "4", true, [], {}, 5e-324, 1e-9, 0.009]) {
      assert.deepEqual(failed({ method: "subscribe", id: 2, params: { topics: ["a.b.quote"], maxHz } }), {
        id: 2,
        code: ErrorCode.BAD_REQUEST,
        msg: "subscribe: maxHz must be 0 (every update) or a number from 0.01 to 1000",
      });
    }
    for (const maxHz of [0, 0.01, 1000]) {
      const parsed = parseRequest({ method: "subscribe", id: 2, params: { topics: ["a.b.quote"], maxHz } });
      assert.ok(parsed.ok && parsed.request.method === "subscribe" && parsed.request.maxHz === maxHz);
    }
  });

  it("refuses an onSlow other than conflate or disconnect with 4000", () => {
    for (const onSlow of ["drop", "", 1, {}]) {
      assert.deepEqual(failed({ method: "subscribe", id: 2, params: { topics: ["a.b.quote"], onSlow } }), {
        id: 2,
        code: ErrorCode.BAD_REQUEST,
        msg: 'subscribe: onSlow must be "conflate" or "disconnect"',
      });
    }
  });

  it("refuses a snapshot that is not a boolean with 4000", () => {
    for (const snapshot of [1, 0, "true", [], {}]) {
      assert.deepEqual(failed({ method: "subscribe", id: 3, params: { topics: ["a.b.quote"], snapshot } }), {
        id: 3,
        code: ErrorCode.BAD_REQUEST,
        msg: "subscribe: snapshot must be a boolean",
      });
    }
  });
});

describe("isPlainMap", () => {
  it("is true for objects only, not arrays, null or binary", () => {
    assert.equal(isPlainMap({}), true);
    assert.equal(isPlainMap({ a: 1 }), true);
    for (const value of [
      null,
      undefined,
      [],
      "x",
      1,
      new Uint8Array(1),
      Buffer.alloc(1),
      new DataView(new ArrayBuffer(1)),
    ]) {
      assert.equal(isPlainMap(value), false);
    }
  });
});
