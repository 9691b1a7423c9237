import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultWorkers, judgeValidity, type HarnessObservations } from "./validity.ts";

const calm: HarnessObservations = { workerCpuPct: [40], workerReplyMs: [5], intervalP50Us: [] };
const judge = (o: Partial<HarnessObservations>) => judgeValidity({ ...calm, ...o });

describe("run validity", () => {
  it("a run whose workers stay under the CPU limit and whose lag stays flat is valid", () => {
    const v = judge({
      workerCpuPct: [40, 62.25],
      workerReplyMs: [3.4, 12],
      intervalP50Us: [3000, 3200, 2900, 3100, 3000, 3300],
    });
    assert.equal(v.valid, true);
    assert.deepEqual(v.reasons, []);
    assert.deepEqual(v.workerCpuPct, [40, 62.3]);
    assert.deepEqual(v.workerReplyMs, [3, 12]);
    assert.deepEqual(v.lagUs, { first: 3000, last: 3100 });
  });

  it("a worker at 84% of a core of 85% allowed is fine; at 90% the result is invalid and names the worker", () => {
    assert.equal(judge({ workerCpuPct: [84] }).valid, true);
    const v = judge({ workerCpuPct: [20, 90] });
    assert.equal(v.valid, false);
    assert.equal(v.reasons.length, 1);
    assert.match(v.reasons[0]!, /^client worker 1 used 90% of a core \(limit 85%\)/);
  });

  it("a receive lag that keeps growing (18 s p50 by the end) invalidates the run", () => {
    const v = judge({
      intervalP50Us: [200_000, 2_000_000, 6_000_000, 11_000_000, 15_000_000, 18_000_000],
    });
    assert.equal(v.valid, false);
    assert.match(v.reasons[0]!, /receive lag grew over the run \(p50 2000 ms → 15000 ms\)/);
  });

  it("small latencies that double are not a backlog; too few intervals are no trend", () => {
    assert.equal(judge({ intervalP50Us: [2000, 2000, 5000, 5000] }).valid, true);
    const short = judge({ intervalP50Us: [1000, 9_000_000, 20_000_000] });
    assert.equal(short.valid, true);
    assert.equal(short.lagUs, null);
  });

  it("a worker that answers a sample 19 s late is behind its sockets, even at 21% CPU (starved by other processes)", () => {
    assert.equal(judge({ workerReplyMs: [500] }).valid, true);
    const v = judge({ workerCpuPct: [21], workerReplyMs: [40, 19_100] });
    assert.equal(v.valid, false);
    assert.equal(v.reasons.length, 1);
    assert.match(v.reasons[0]!, /^client worker 1 answered a sample request 19\.1 s late \(limit 500 ms\)/);
  });
});

describe("default worker count", () => {
  it("one per core, less one for a local target, at least one per 15,000 clients, at most one per client", () => {
    assert.equal(defaultWorkers(1000, 2, true, 15_000), 1);
    assert.equal(defaultWorkers(1000, 2, false, 15_000), 2);
    assert.equal(defaultWorkers(1000, 8, true, 15_000), 7);
    assert.equal(defaultWorkers(50_000, 2, true, 15_000), 4);
    assert.equal(defaultWorkers(3, 16, false, 15_000), 3);
    assert.equal(defaultWorkers(10, 1, true, 15_000), 1);
  });
});
