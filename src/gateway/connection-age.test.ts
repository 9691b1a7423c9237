import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AGE_JITTER, ConnectionAges } from "./connection-age.ts";

/** A seeded generator (LCG): the spread is the code's, not the luck of one run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("ConnectionAges (--max-connection-age-ms)", () => {
  it("closes each connection with 1001 and the reason once past its age, spread over [age, 1.5 × age)", () => {
    let nowMs = 0;
    const ageMs = 10_000;
    const ages = new ConnectionAges(
      ageMs,
      '{"msg":"connection age limit","retryAfterMs":500}',
      () => nowMs,
      seeded(7),
    );
    const closedAt: number[] = [];
    const closes: { code: number; reason: string }[] = [];
    for (let i = 0; i < 1000; i++) {
      ages.add({
        close: (code, reason) => {
          closedAt.push(nowMs);
          closes.push({ code, reason });
        },
      });
    }
    // Sweep every tenth of the age, as the timer does.
    for (nowMs = 0; nowMs <= 2 * ageMs; nowMs += ageMs / 10) ages.sweep();
    assert.equal(closedAt.length, 1000, "every connection closed once");
    assert.equal(ages.closed, 1000);
    assert.ok(
      closedAt.every((t) => t >= ageMs),
      "none before its age",
    );
    assert.ok(
      closedAt.every((t) => t <= ageMs * (1 + AGE_JITTER) + ageMs / 10),
      "all within the jitter window (plus one sweep)",
    );
    const perSweep = new Map<number, number>();
    for (const t of closedAt) perSweep.set(t, (perSweep.get(t) ?? 0) + 1);
    assert.ok(perSweep.size >= 5, `closes spread over ${perSweep.size} sweeps, not one storm`);
    assert.ok(Math.max(...perSweep.values()) < 300, "no sweep closes most of them");
    assert.ok(
      closes.every(
        (c) => c.code === 1001 && (JSON.parse(c.reason) as { retryAfterMs: number }).retryAfterMs === 500,
      ),
    );
  });

  it("a connection closed before its age is forgotten; age 0 tracks nothing", () => {
    let nowMs = 0;
    const ages = new ConnectionAges(
      1000,
      "r",
      () => nowMs,
      () => 0,
    );
    let closed = 0;
    const connection = { close: () => closed++ };
    ages.add(connection);
    ages.delete(connection);
    nowMs = 5000;
    ages.sweep();
    assert.equal(closed, 0);
    const off = new ConnectionAges(0, "r", () => nowMs);
    off.add(connection);
    nowMs = 1e12;
    off.sweep();
    assert.equal(closed, 0);
    assert.equal(off.enabled, false);
  });
});
