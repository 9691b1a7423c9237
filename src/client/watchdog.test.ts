import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Watchdog } from "./watchdog.ts";

/** Drives a watchdog by hand: `tick(now)` as the timer would at `now` ms. */
function harness(heartbeatMs: number) {
  const calls: string[] = [];
  const dog = new Watchdog(heartbeatMs, {
    ping: () => calls.push("ping"),
    dead: (silentMs) => calls.push(`dead ${silentMs}`),
  });
  return { dog, calls };
}

describe("heartbeat watchdog", () => {
  it("pings after one silent period and declares the link dead after three", () => {
    const { dog, calls } = harness(1000);
    const t0 = 10_000; // whole numbers: float sums like (t0 + 1000) - t0 may fall short of 1000
    dog.resetAt(t0);
    dog.tick(t0 + 500, 500);
    assert.deepEqual(calls, []);
    dog.tick(t0 + 1000, 500);
    dog.tick(t0 + 1500, 500);
    dog.tick(t0 + 2000, 500);
    dog.tick(t0 + 2500, 500);
    assert.deepEqual(calls, ["ping", "ping", "ping", "ping"]);
    dog.tick(t0 + 3000, 500);
    assert.equal(calls.at(-1), "dead 3000");
  });

  it("any frame resets the silence", () => {
    const { dog, calls } = harness(1000);
    const t0 = 10_000; // whole numbers: float sums like (t0 + 1000) - t0 may fall short of 1000
    dog.resetAt(t0);
    dog.tick(t0 + 500, 500);
    dog.tick(t0 + 1000, 500);
    dog.heard(t0 + 1100);
    dog.tick(t0 + 1500, 500);
    assert.deepEqual(calls, ["ping"]);
  });

  it("a tick that comes far too late (this process was frozen) measures silence afresh", () => {
    const { dog, calls } = harness(1000);
    const t0 = 10_000; // whole numbers: float sums like (t0 + 1000) - t0 may fall short of 1000
    dog.resetAt(t0);
    dog.tick(t0 + 60_000, 500);
    assert.deepEqual(calls, [], "not blamed on the gateway");
    dog.tick(t0 + 60_500, 500);
    dog.tick(t0 + 61_000, 500);
    assert.deepEqual(calls, ["ping"]);
  });
});
