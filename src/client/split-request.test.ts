import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_TOPICS_PER_REQUEST, frameBytes, splitTopics } from "./split-request.ts";

const request = (run: readonly string[]) => ({
  method: "subscribe",
  id: Number.MAX_SAFE_INTEGER,
  params: { topics: run, snapshot: true, maxHz: 4 },
});
const issueTopics = Array.from(
  { length: 600 },
  (_, i) => `binance.SYM${String(i).padStart(4, "0")}-USDT.quote`,
);

describe("splitTopics", () => {
  for (const encoding of ["json", "msgpack"] as const) {
    it(`${encoding}: every run's frame fits the limit, in order, nothing lost`, () => {
      for (const maxBytes of [256, 1000, 4096, 16384]) {
        const runs = splitTopics(issueTopics, request, encoding, maxBytes);
        assert.deepEqual(runs.flat(), issueTopics);
        for (const run of runs) {
          assert.ok(frameBytes(request(run), encoding) <= maxBytes, `${encoding} ${maxBytes}`);
          assert.ok(run.length <= MAX_TOPICS_PER_REQUEST);
        }
      }
    });

    it(`${encoding}: the issue's 600 topics (17,451 bytes as one JSON subscribe) go in 2 JSON requests (1 msgpack) at 16 KiB`, () => {
      assert.ok(frameBytes(request(issueTopics), "json") > 16384);
      // msgpack is smaller (a 1-byte string header instead of quotes and a comma): 16,2xx bytes fit.
      assert.equal(splitTopics(issueTopics, request, encoding, 16384).length, encoding === "json" ? 2 : 1);
    });

    it(`${encoding}: a request that fits is not split; none at most ${MAX_TOPICS_PER_REQUEST} topics each`, () => {
      assert.deepEqual(splitTopics(["a.b.quote"], request, encoding, 16384), [["a.b.quote"]]);
      assert.deepEqual(splitTopics([], request, encoding, 16384), []);
      const many = Array.from({ length: 2500 }, (_, i) => `v.S${i}.bar`);
      const runs = splitTopics(many, request, encoding, 16 * 1024 * 1024);
      assert.deepEqual(
        runs.map((r) => r.length),
        [1024, 1024, 452],
      );
    });
  }

  it("non-ASCII names are measured in UTF-8 bytes", () => {
    const topics = Array.from({ length: 100 }, (_, i) => `xé.S${i}.quote`);
    for (const run of splitTopics(topics, request, "json", 512))
      assert.ok(frameBytes(request(run), "json") <= 512);
  });
});
