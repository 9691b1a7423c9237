import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reconnectDelayMs, retryHintMs } from "./backoff.ts";

const options = { initialDelayMs: 100, maxDelayMs: 5000 };

describe("reconnect backoff", () => {
  it("full jitter: a uniform draw below initial × 2^attempt", () => {
    assert.equal(
      reconnectDelayMs(0, undefined, options, () => 0),
      0,
    );
    assert.equal(
      reconnectDelayMs(0, undefined, options, () => 0.999),
      99,
    );
    assert.equal(
      reconnectDelayMs(3, undefined, options, () => 0.5),
      400,
    );
  });

  it("the window is capped at maxDelayMs, even after very many attempts", () => {
    assert.equal(
      reconnectDelayMs(10, undefined, options, () => 0.5),
      2500,
    );
    assert.equal(
      reconnectDelayMs(5000, undefined, options, () => 0.5),
      2500,
    );
  });

  it("the server's retry hint is a floor, with up to the hint again as jitter", () => {
    assert.equal(
      reconnectDelayMs(0, 1000, options, () => 0),
      1000,
    );
    assert.equal(
      reconnectDelayMs(7, 1000, options, () => 0.5),
      1500,
      "the hint replaces the attempt count",
    );
  });

  it("a hint larger than the cap is capped", () => {
    assert.equal(
      reconnectDelayMs(0, 60_000, options, () => 0),
      5000,
    );
  });

  it("reads retryAfterMs from a JSON close reason, and nothing from anything else", () => {
    assert.equal(retryHintMs('{"msg":"server shutting down","retryAfterMs":2500}'), 2500);
    assert.equal(retryHintMs('{"msg":"slow consumer: 4 MiB","retryAfterMs":0}'), 0);
    assert.equal(retryHintMs("rate limited: too many control messages"), undefined);
    assert.equal(retryHintMs('{"retryAfterMs":"soon"}'), undefined);
    assert.equal(retryHintMs('{"retryAfterMs":-5}'), undefined);
    assert.equal(retryHintMs("{not json"), undefined);
    assert.equal(retryHintMs(""), undefined);
  });
});
