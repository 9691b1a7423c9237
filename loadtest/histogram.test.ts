import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BUCKET_COUNT, LatencyHistogram, bucketHighUs, bucketLowUs, bucketOf } from "./histogram.ts";

describe("LatencyHistogram", () => {
  it("buckets are exact below 32 µs and cover every value within 1/32 above", () => {
    for (let v = 0; v < 32; v++) assert.equal(bucketOf(v), v);
    for (const v of [32, 33, 63, 64, 100, 999, 1000, 1024, 123_456, 2 ** 31, 2 ** 32 - 1]) {
      const b = bucketOf(v);
      assert.ok(
        bucketLowUs(b) <= v && v <= bucketHighUs(b),
        `${v} in [${bucketLowUs(b)}, ${bucketHighUs(b)}]`,
      );
      assert.ok((bucketHighUs(b) - bucketLowUs(b) + 1) / bucketLowUs(b) <= 1 / 32 + 1e-12, `width at ${v}`);
    }
    assert.ok(bucketOf(2 ** 40) < BUCKET_COUNT, "huge values are clamped into the last bucket");
  });

  it("adjacent buckets tile the range without holes or overlap", () => {
    for (let b = 0; b + 1 < BUCKET_COUNT; b++) assert.equal(bucketHighUs(b) + 1, bucketLowUs(b + 1));
  });

  it("percentiles of 1..10000 µs are within the bucket resolution of the exact values", () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 10_000; v++) h.record(v);
    for (const [p, exact] of [
      [50, 5000],
      [90, 9000],
      [99, 9900],
      [99.9, 9990],
    ] as const) {
      const got = h.percentileUs(p);
      assert.ok(got >= exact && got <= exact * (1 + 1 / 32), `p${p}: ${got} vs ${exact}`);
    }
    assert.equal(h.percentileUs(100), 10_000, "p100 is the exact max");
    const s = h.summary();
    assert.equal(s.count, 10_000);
    assert.equal(s.minUs, 1);
    assert.equal(s.maxUs, 10_000);
    assert.equal(s.meanUs, 5000.5);
  });

  it("a single value is every percentile; an empty histogram reports zeros", () => {
    const h = new LatencyHistogram();
    assert.deepEqual(h.summary(), {
      count: 0,
      minUs: 0,
      meanUs: 0,
      p50Us: 0,
      p90Us: 0,
      p99Us: 0,
      p999Us: 0,
      maxUs: 0,
    });
    h.record(777);
    assert.equal(h.percentileUs(1), 777);
    assert.equal(h.percentileUs(99.9), 777);
  });

  it("negative latencies (clock skew) count as 0 and are counted apart", () => {
    const h = new LatencyHistogram();
    h.record(-5);
    h.record(10);
    assert.equal(h.negative, 1);
    assert.equal(h.summary().minUs, 0);
  });

  it("merging serialized worker histograms equals recording everything in one", () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const both = new LatencyHistogram();
    for (let i = 0; i < 5000; i++) {
      const v = (i * 7919) % 20_000;
      (i % 2 === 0 ? a : b).record(v);
      both.record(v);
    }
    const merged = LatencyHistogram.from(
      JSON.parse(JSON.stringify(a.serialize())) as ReturnType<typeof a.serialize>,
    );
    merged.add(b.serialize());
    assert.deepEqual(merged.summary(), both.summary());
    assert.deepEqual([...merged.counts], [...both.counts]);
  });
});
