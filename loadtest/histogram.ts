/**
 * Latency histogram in integer microseconds with ~3% resolution, fixed memory and O(1) record, in the
 * spirit of HdrHistogram: values below 32 µs get a bucket each; above, every power of two is split into
 * 32 equal buckets. Histograms of worker processes merge by adding counts, so percentiles are exact
 * over the whole fleet to within one bucket.
 */

/** Buckets per power of two (and exact buckets below it). 32 → relative error ≤ 1/32 ≈ 3.1%. */
const SUB_BUCKETS = 32;
const SUB_BITS = 5;
/** Values are clamped to 2^32 − 1 µs (~71 minutes); anything slower is broken anyway. */
const MAX_VALUE_US = 0xffff_ffff;
/** Exponents 0..27 above the exact range cover 2^5..2^32. */
export const BUCKET_COUNT = SUB_BUCKETS + (32 - SUB_BITS) * SUB_BUCKETS;

/** Bucket index of a value in µs (negative values count as 0: clock skew between processes). */
export function bucketOf(valueUs: number): number {
  const v = valueUs <= 0 ? 0 : valueUs >= MAX_VALUE_US ? MAX_VALUE_US : Math.floor(valueUs);
  if (v < SUB_BUCKETS) return v;
  const exponent = 31 - Math.clz32(v) - SUB_BITS; // ≥ 0
  const mantissa = v >>> exponent; // 32..63
  return SUB_BUCKETS + exponent * SUB_BUCKETS + (mantissa - SUB_BUCKETS);
}

/** Smallest value (µs) that falls in bucket `index`. */
export function bucketLowUs(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const exponent = Math.floor((index - SUB_BUCKETS) / SUB_BUCKETS);
  const mantissa = SUB_BUCKETS + ((index - SUB_BUCKETS) % SUB_BUCKETS);
  return mantissa * 2 ** exponent;
}

/** Largest value (µs) that falls in bucket `index`. */
export function bucketHighUs(index: number): number {
  return index + 1 >= BUCKET_COUNT ? MAX_VALUE_US : bucketLowUs(index + 1) - 1;
}

/** Percentiles the reports show. */
export interface LatencySummary {
  readonly count: number;
  readonly minUs: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** Non-empty buckets as `[index, count]` pairs: what travels over IPC and into the JSON report. */
export type SparseCounts = readonly (readonly [number, number])[];

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  sumUs = 0;
  minUs = Number.POSITIVE_INFINITY;
  maxUs = 0;
  /** Values below 0 (receiver clock behind the sender's), recorded as 0. */
  negative = 0;

  record(valueUs: number): void {
    if (valueUs < 0) this.negative++;
    const v = valueUs < 0 ? 0 : valueUs;
    this.counts[bucketOf(v)]!++;
    this.count++;
    this.sumUs += v;
    if (v < this.minUs) this.minUs = v;
    if (v > this.maxUs) this.maxUs = v;
  }

  /** Adds another histogram's counts (a worker's, or one interval's) to this one. */
  add(other: LatencyHistogram | SerializedHistogram): void {
    if (other instanceof LatencyHistogram) {
      for (let i = 0; i < BUCKET_COUNT; i++) this.counts[i]! += other.counts[i]!;
    } else {
      for (const [index, n] of other.buckets) this.counts[index]! += n;
    }
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.negative += other.negative;
    if (other.count > 0) {
      this.minUs = Math.min(this.minUs, other.minUs);
      this.maxUs = Math.max(this.maxUs, other.maxUs);
    }
  }

  /**
   * The value at percentile `p` (0–100): the highest value of the bucket holding the ⌈p·N/100⌉-th
   * smallest sample, capped at the true maximum (so p100 is exact). 0 when empty.
   */
  percentileUs(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketHighUs(i), this.maxUs);
    }
    return this.maxUs;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      minUs: this.count === 0 ? 0 : this.minUs,
      meanUs: this.count === 0 ? 0 : this.sumUs / this.count,
      p50Us: this.percentileUs(50),
      p90Us: this.percentileUs(90),
      p99Us: this.percentileUs(99),
      p999Us: this.percentileUs(99.9),
      maxUs: this.maxUs,
    };
  }

  serialize(): SerializedHistogram {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKET_COUNT; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return {
      buckets,
      count: this.count,
      sumUs: this.sumUs,
      minUs: this.count === 0 ? 0 : this.minUs,
      maxUs: this.maxUs,
      negative: this.negative,
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumUs = 0;
    this.minUs = Number.POSITIVE_INFINITY;
    this.maxUs = 0;
    this.negative = 0;
  }

  static from(serialized: SerializedHistogram): LatencyHistogram {
    const h = new LatencyHistogram();
    h.add(serialized);
    return h;
  }
}

/** A histogram as plain data (JSON and IPC). */
export interface SerializedHistogram {
  readonly buckets: SparseCounts;
  readonly count: number;
  readonly sumUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  readonly negative: number;
}
