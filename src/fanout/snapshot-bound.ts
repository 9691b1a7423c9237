import type { SnapshotWait } from "./session.ts";

/**
 * The most values one subscribe's snapshot may carry (`--max-snapshot-values`). Past it the snapshot
 * stops, no feed history is read for it, and its `snapshot_end` says `truncated: true`: the client has
 * live updates from then on, but not the current value of every topic its patterns match.
 *
 * Why: a subscribe to `>` on a gateway with 200,000 cached topics queued 200,000 events at once per
 * client; 20 such clients took RSS from 302 MB to 1.25 GB and the honest client's latency to 5.5 s
 * (issue 11 §2). The default keeps one snapshot to about 1 MB of frames (~100 bytes per value).
 */
export const DEFAULT_MAX_SNAPSHOT_VALUES = 10_000;

/** Which snapshots were cut short at the bound (kept beside the waits, which other code owns). */
export class SnapshotBound {
  readonly #truncated = new WeakSet<SnapshotWait>();

  constructor(readonly maxValues: number = DEFAULT_MAX_SNAPSHOT_VALUES) {}

  /** True when `wait` may carry one more value; otherwise marks it truncated (counted by the caller once). */
  admits(wait: SnapshotWait): boolean {
    if (wait.sent.size < this.maxValues) return true;
    this.#truncated.add(wait);
    return false;
  }

  /** Ends `wait`'s snapshot before every value went (its connection held too many live frames). */
  cut(wait: SnapshotWait): void {
    this.#truncated.add(wait);
  }

  truncated(wait: SnapshotWait): boolean {
    return this.#truncated.has(wait);
  }
}
