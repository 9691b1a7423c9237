import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectedDeliveries, fairness, jainIndex, quantileSorted } from "./result.ts";

describe("result arithmetic", () => {
  it("expected deliveries are Σ published × subscribers per topic", () => {
    assert.equal(expectedDeliveries([10, 20, 0], [3, 1, 100]), 50);
  });

  it("Jain's index is 1 for equal shares and 1/n when one client gets everything", () => {
    assert.equal(jainIndex([1, 1, 1, 1]), 1);
    assert.equal(jainIndex([1, 0, 0, 0]), 0.25);
  });

  it("quantiles use the nearest rank", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantileSorted(sorted, 0.5), 50);
    assert.equal(quantileSorted(sorted, 0.99), 99);
    assert.equal(quantileSorted([], 0.5), 0);
  });

  it("fairness reports delivery ratios, starved clients and the worst client's latency", () => {
    const f = fairness([100, 50, 0, 0], [100, 100, 100, 0], [1000, 5000, 0, 0], [30, 900, 0, 0]);
    assert.deepEqual(f.deliveryRatio, { min: 0, p1: 0, p50: 0.5, max: 1 });
    assert.equal(f.starved, 1, "the client expecting nothing is not starved");
    assert.equal(f.meanLatencyUs.max, 100);
    assert.equal(f.maxLatencyUs.max, 900);
  });
});
