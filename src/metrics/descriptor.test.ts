import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isHistogram, snapshotOf, sumSnapshots, type MetricDescriptor } from "./descriptor.ts";

interface Counters {
  opened: number;
  closed: Map<string, number>;
  lagCounts: number[];
  lagSum: number;
  lagCount: number;
}

const METRICS: readonly MetricDescriptor<Counters>[] = [
  { name: "opened_total", type: "counter", help: "opened", read: (s) => s.opened },
  {
    name: "closed_total",
    type: "counter",
    help: "closed",
    label: { name: "reason", values: ["normal", "slow"] },
    read: (s) => s.closed,
  },
  {
    name: "lag_seconds",
    type: "histogram",
    help: "lag",
    buckets: [0.1, 1],
    read: (s) => ({ counts: s.lagCounts, sum: s.lagSum, count: s.lagCount }),
  },
];

function counters(): Counters {
  return { opened: 0, closed: new Map(), lagCounts: [0, 0, 0], lagSum: 0, lagCount: 0 };
}

describe("metric descriptors", () => {
  it("a snapshot copies a histogram's counts (the stats keep counting after it)", () => {
    const stats = counters();
    stats.lagCounts[1] = 2;
    stats.lagSum = 0.9;
    stats.lagCount = 2;
    const snapshot = snapshotOf(METRICS, stats);
    stats.lagCounts[1] = 5;
    stats.lagCount = 5;
    assert.deepEqual(snapshot["lag_seconds"], { counts: [0, 2, 0], sum: 0.9, count: 2 });
    assert.deepEqual(snapshot["closed_total"], { normal: 0, slow: 0 });
    const lag = snapshot["lag_seconds"];
    assert.ok(lag !== undefined && isHistogram(lag));
    assert.ok(!isHistogram(snapshot["closed_total"] ?? 0));
  });

  it("sums numbers, labels and histogram buckets over snapshots of several processes", () => {
    const a = counters();
    a.opened = 3;
    a.closed.set("slow", 1);
    a.lagCounts = [1, 0, 2];
    a.lagSum = 10.05;
    a.lagCount = 3;
    const b = counters();
    b.opened = 4;
    b.closed.set("normal", 2);
    b.lagCounts = [0, 4, 1];
    b.lagSum = 3;
    b.lagCount = 5;
    assert.deepEqual(sumSnapshots([snapshotOf(METRICS, a), snapshotOf(METRICS, b)]), {
      opened_total: 7,
      closed_total: { normal: 2, slow: 1 },
      lag_seconds: { counts: [1, 4, 3], sum: 13.05, count: 8 },
    });
  });
});
