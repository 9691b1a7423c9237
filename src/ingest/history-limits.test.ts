import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HistoryLimits } from "./history-limits.ts";

describe("HistoryLimits", () => {
  it("refuses lookups past the bound and counts them", () => {
    const limits = new HistoryLimits(2, 4);
    assert.equal(limits.startLookup(), true);
    assert.equal(limits.startLookup(), true);
    assert.equal(limits.startLookup(), false);
    assert.equal(limits.lookupsRefused, 1);
    limits.endLookup();
    assert.equal(limits.startLookup(), true);
  });

  it("shares a read in flight and forgets it once settled", async () => {
    const limits = new HistoryLimits();
    let runs = 0;
    let release: ((v: string) => void) | undefined;
    const run = () => {
      runs++;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const a = limits.share("md.x", run);
    const b = limits.share("md.x", run);
    release?.("v");
    assert.deepEqual(await Promise.all([a, b]), ["v", "v"]);
    assert.equal(runs, 1);
    assert.equal(limits.shared, 1);
    const c = limits.share("md.x", run);
    release?.("w");
    assert.equal(await c, "w");
    assert.equal(runs, 2);
  });

  it("runs at most maxReads at once, the rest in order as slots free", async () => {
    const limits = new HistoryLimits(32, 2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const reads = Array.from({ length: 6 }, (_, i) =>
      limits.read(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        order.push(i);
        running--;
      }),
    );
    while (order.length < 6) {
      await new Promise((resolve) => setImmediate(resolve));
      gates.shift()?.();
    }
    await Promise.all(reads);
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    assert.equal(limits.readsInFlight, 0);
  });
});
