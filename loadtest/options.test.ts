import assert from "node:assert/strict";
import { isAbsolute, relative } from "node:path";
import { describe, it } from "node:test";
import { DEFAULTS, LoadTestOptionsError, helpText, kebab, parseOptions } from "./options.ts";

describe("load test options", () => {
  it("defaults are the reference workload; flags override them", () => {
    const o = parseOptions([]);
    assert.equal(o.clients, 1000);
    assert.equal(o.topicsPerClient, 10);
    assert.equal(o.maxHzShare, 0, "maxHz share is off by default (needs protocol v1.2)");
    const p = parseOptions([
      "--clients",
      "250",
      "--url",
      "wss://example.com/v1/stream",
      "--snapshot",
      "false",
    ]);
    assert.equal(p.clients, 250);
    assert.equal(p.url, "wss://example.com/v1/stream");
    assert.equal(p.snapshot, false);
    assert.ok(Object.isFrozen(p));
  });

  it("every problem is reported at once, naming the flag", () => {
    assert.throws(
      () =>
        parseOptions(["--clients", "0", "--rate", "fast", "--url", "http://x", "--types", "quote,candle"]),
      (error: unknown) => {
        assert.ok(error instanceof LoadTestOptionsError);
        for (const part of [
          "--clients: must be ≥ 1",
          "--rate: expected a number",
          "--url:",
          'unknown event type "candle"',
        ])
          assert.ok(error.message.includes(part), `${part} in ${error.message}`);
        return true;
      },
    );
    assert.throws(() => parseOptions(["--no-such-flag", "1"]), LoadTestOptionsError);
  });

  it("a value that starts with a dash works in the space form as in the = form", () => {
    assert.equal(parseOptions(["--gateway-args", "--port 9310"]).gatewayArgs, "--port 9310");
    assert.equal(parseOptions(["--gateway-args=--port 9310"]).gatewayArgs, "--port 9310");
    assert.throws(() => parseOptions(["--skew", "-1"]), /--skew: must be ≥ 0, got -1/);
  });

  it("writes its output outside the working tree by default", () => {
    const outDir = parseOptions([]).outDir;
    assert.ok(isAbsolute(outDir), outDir);
    assert.ok(relative(process.cwd(), outDir).startsWith(".."), `${outDir} is outside ${process.cwd()}`);
  });

  it("--help lists every option with its default", () => {
    const help = helpText();
    for (const key of Object.keys(DEFAULTS)) assert.ok(help.includes(`--${kebab(key)} `), key);
  });
});
