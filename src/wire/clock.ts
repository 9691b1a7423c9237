/**
 * Gateway time (`ts` of events, heartbeats, ping replies): the wall clock, read through the monotonic
 * clock and re-anchored when the two diverge (issue 10 §5).
 *
 * `performance.timeOrigin + performance.now()` alone froze the wall clock's offset at process start: a
 * gateway started while its host clock was 30 s slow kept every `ts` 30 s behind after NTP (or a VM
 * resume, or a container whose clock synced late) corrected it. `Date.now()` per event would follow
 * the wall clock but has only millisecond resolution (`ts` is in µs) and cost the same or more in the
 * same run (bench: /tmp run recorded in the commit message, 2026-11-30: performance.now 85–111 ns,
 * Date.now 108–140 ns, anchored 105–181 ns per call on the shared 2-core machine, noise-dominated). So:
 * durations stay on the monotonic clock, and {@link reanchorClock} (once per hub tick, every 10 ms)
 * compares the two and moves the anchor when the wall clock stepped.
 */

/** Wall-clock ms at `performance.now()` = 0, as last anchored. */
let anchorMs = Date.now() - performance.now();

/**
 * A divergence up to this is reading noise, not a step: `Date.now()` truncates to whole ms, so two
 * readings of the same instant may differ by just under 1 ms.
 */
const REANCHOR_THRESHOLD_MS = 2;

/** Current time as integer microseconds since the epoch (the wall clock as of the last re-anchoring). */
export function nowMicros(): number {
  return Math.round((anchorMs + performance.now()) * 1000);
}

/**
 * Reads the wall clock; when it moved away from the monotonic estimate by more than 2 ms (a clock step),
 * later timestamps follow it. Returns the step in ms (positive: the wall clock jumped forward), 0 when
 * none. A step back makes `ts` go back once: `q`, not `ts`, orders a topic's events.
 */
export function reanchorClock(): number {
  const monotonicMs = performance.now();
  const stepMs = Date.now() - (anchorMs + monotonicMs);
  if (Math.abs(stepMs) <= REANCHOR_THRESHOLD_MS) return 0;
  anchorMs += stepMs;
  return stepMs;
}
