import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { restartDelayMs } from "./supervisor.ts";

describe("worker restart backoff", () => {
  it("starts at 250 ms, doubles per crash in a row, and stops growing at 10 s", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 20].map(restartDelayMs),
      [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000],
    );
  });
});
