import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, helpText, loadConfig } from "./load.ts";
import { OPTIONS } from "./options.ts";

/** The problems of a configuration that must be refused. */
function problemsOf(argv: readonly string[], env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    loadConfig(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail(`expected ${JSON.stringify(argv)} ${JSON.stringify(env)} to be refused`);
}

describe("loadConfig: sources", () => {
  it("returns every default when there are no flags and no variables", () => {
    const config = loadConfig([], {});
    assert.deepEqual(config, Object.fromEntries(OPTIONS.map((o) => [o.key, o.default])));
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.port, 9000);
    assert.equal(config.natsUrl, "");
    assert.equal(config.subjectPrefix, "md");
    assert.equal(config.maxTopicsPerConnection, 1024);
    assert.equal(config.slowSoftBytes, 1048576);
    assert.equal(config.slowHardBytes, 4194304);
    assert.equal(config.slowCloseMs, 10000);
    assert.equal(config.maxBackpressureBytes, 8388608);
    assert.equal(config.heartbeatMs, 1000);
    assert.equal(config.maxHz, 0);
    assert.equal(config.historyStream, "TICKWIRE_LAST");
    assert.equal(config.idleTimeoutMs, 120000);
    assert.equal(config.controlRatePerSec, 50);
    assert.equal(config.controlBurst, 100);
    assert.equal(config.logLevel, "info");
  });

  it("declares one option per config key, each with a default that passes its own check", () => {
    const keys = OPTIONS.map((o) => o.key);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual(keys.toSorted(), Object.keys(loadConfig([], {})).sort());
    for (const o of OPTIONS) assert.equal(o.check?.(o.default as number & string), undefined, o.flag);
  });

  it("reads TICKWIRE_* variables", () => {
    const config = loadConfig([], {
      TICKWIRE_HOST: "0.0.0.0",
      TICKWIRE_PORT: "8080",
      TICKWIRE_SUBJECT_PREFIX: "feeds",
      TICKWIRE_IDLE_TIMEOUT_MS: "0",
      TICKWIRE_CONTROL_BURST: "7",
      TICKWIRE_LOG_LEVEL: "debug",
      TICKWIRE_DEMO_RATE: "0",
    });
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.port, 8080);
    assert.equal(config.subjectPrefix, "feeds");
    assert.equal(config.idleTimeoutMs, 0);
    assert.equal(config.controlBurst, 7);
    assert.equal(config.logLevel, "debug");
    assert.equal(config.demoRatePerSec, 0);
  });

  it("reads every option from its flag and from its first variable", () => {
    const defaults = loadConfig([], {});
    for (const o of OPTIONS) {
      const value = String(defaults[o.key]);
      const fromFlag = loadConfig([`--${o.flag}=${value}`], {});
      assert.equal(fromFlag[o.key], defaults[o.key], o.flag);
      if (value === "") continue; // empty variables are ignored by design
      const fromEnv = loadConfig([], { [o.env[0] as string]: value });
      assert.equal(fromEnv[o.key], defaults[o.key], o.env[0]);
    }
  });

  it("reads NATS_URL, and TICKWIRE_NATS_URL when NATS_URL is unset or empty", () => {
    assert.equal(loadConfig([], { NATS_URL: "nats://a:4222" }).natsUrl, "nats://a:4222");
    assert.equal(loadConfig([], { TICKWIRE_NATS_URL: "nats://b:4222" }).natsUrl, "nats://b:4222");
    assert.equal(
      loadConfig([], { NATS_URL: "nats://a:4222", TICKWIRE_NATS_URL: "nats://b:4222" }).natsUrl,
      "nats://a:4222",
    );
    assert.equal(
      loadConfig([], { NATS_URL: "", TICKWIRE_NATS_URL: "nats://b:4222" }).natsUrl,
      "nats://b:4222",
    );
  });

  it("lets flags win over variables", () => {
    const env = { TICKWIRE_PORT: "5678", NATS_URL: "nats://env:4222", TICKWIRE_LOG_LEVEL: "warn" };
    const config = loadConfig(["--port", "1234", "--nats=nats://flag:4222", "--log-level", "error"], env);
    assert.equal(config.port, 1234);
    assert.equal(config.natsUrl, "nats://flag:4222");
    assert.equal(config.logLevel, "error");
  });

  it("ignores a bad variable that a flag overrides", () => {
    assert.equal(loadConfig(["--port", "1234"], { TICKWIRE_PORT: "nope" }).port, 1234);
  });

  it("treats an empty variable as unset", () => {
    const config = loadConfig([], { TICKWIRE_PORT: "", TICKWIRE_LOG_LEVEL: "" });
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, "info");
  });

  it("trims strings and accepts integers with surrounding white space", () => {
    const config = loadConfig(["--host", " 0.0.0.0 "], { TICKWIRE_PORT: " 8080 " });
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.port, 8080);
  });

  it("accepts comma-separated NATS URLs and host:port", () => {
    for (const url of [
      "nats://a:4222,nats://b:4222",
      "localhost:4222",
      "tls://x:1",
      "nats://a:1, nats://b:2",
    ]) {
      assert.equal(loadConfig(["--nats", url], {}).natsUrl, url.trim(), url);
    }
  });

  it("returns a frozen object", () => {
    const config = loadConfig([], {});
    assert.equal(Object.isFrozen(config), true);
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.equal(config.port, 9000);
  });
});

describe("loadConfig: validation", () => {
  it("throws a ConfigError with a stable code, a name and every problem in its message", () => {
    try {
      loadConfig(["--port", "x"], { TICKWIRE_LOG_LEVEL: "loud" });
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.ok(error instanceof Error);
      assert.equal(error.name, "ConfigError");
      assert.equal(error.code, "TICKWIRE_ERR_CONFIG");
      assert.equal(error.problems.length, 2);
      for (const problem of error.problems) assert.ok(error.message.includes(problem));
    }
  });

  it("names the flag or variable and the bad value in each problem", () => {
    assert.deepEqual(problemsOf(["--port", "x"]), ['--port="x": must be an integer (port)']);
    assert.deepEqual(problemsOf([], { TICKWIRE_PORT: "x" }), [
      'TICKWIRE_PORT="x": must be an integer (port)',
    ]);
    assert.deepEqual(problemsOf(["--port", "70000"]), ['--port="70000": must be between 0 and 65535']);
    assert.deepEqual(problemsOf([], { NATS_URL: "http://x:1" }), [
      'NATS_URL="http://x:1": must be nats://host:port[,…]',
    ]);
  });

  it("refuses integers written as decimals, exponents, hex or empty", () => {
    for (const raw of ["1.5", "1e3", "0x10", "12ab", "", " "]) {
      assert.deepEqual(
        problemsOf([`--port=${raw}`]),
        [`--port=${JSON.stringify(raw)}: must be an integer (port)`],
        raw,
      );
    }
  });

  it("refuses out-of-range values, bad tokens, bad URLs and unknown log levels", () => {
    assert.equal(problemsOf(["--port=-1"]).length, 1);
    assert.equal(problemsOf(["--max-topics-per-connection", "0"]).length, 1);
    assert.equal(problemsOf(["--subject-prefix", "md.x"]).length, 1);
    assert.equal(problemsOf(["--nats", "nats://"]).length, 1);
    assert.equal(problemsOf(["--log-level", "verbose"]).length, 1);
  });

  it("reports every problem from variables at once", () => {
    const problems = problemsOf([], {
      TICKWIRE_PORT: "70000",
      TICKWIRE_IDLE_TIMEOUT_MS: "5000",
      TICKWIRE_LOG_LEVEL: "loud",
      TICKWIRE_CONTROL_RATE: "x",
    });
    assert.equal(problems.length, 4);
    assert.match(problems[0] ?? "", /^TICKWIRE_PORT="70000"/);
    assert.match(problems[1] ?? "", /^TICKWIRE_IDLE_TIMEOUT_MS="5000"/);
    assert.match(problems[2] ?? "", /^TICKWIRE_CONTROL_RATE="x"/);
    assert.match(problems[3] ?? "", /^TICKWIRE_LOG_LEVEL="loud"/);
  });

  it("reports a bad port, a bad idle timeout and an unknown flag together", () => {
    const problems = problemsOf(["--port", "70000", "--idle-timeout-ms", "5000", "--bogus", "1"]);
    assert.equal(problems.length, 3, `got ${JSON.stringify(problems)}`);
    assert.ok(
      problems.some((p) => p.includes("--port")),
      "bad port reported",
    );
    assert.ok(
      problems.some((p) => p.includes("--idle-timeout-ms")),
      "bad idle timeout reported",
    );
    assert.ok(
      problems.some((p) => p.includes("--bogus")),
      "unknown flag reported",
    );
  });

  it("reports an unknown flag with a pointer to --help", () => {
    const problems = problemsOf(["--bogus", "1"]);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /--bogus/);
    assert.match(problems[0] ?? "", /see tickwire --help/);
  });

  it("refuses positional arguments", () => {
    assert.equal(problemsOf(["9000"]).length, 1);
  });

  for (const ms of [0, 8000, 9000, 120_000, 960_000]) {
    void it(`accepts idleTimeoutMs ${ms}`, () => {
      assert.equal(loadConfig(["--idle-timeout-ms", String(ms)], {}).idleTimeoutMs, ms);
    });
  }

  for (const ms of [5000, 7999, 961_000, 8500, 1, 1_000_000]) {
    void it(`refuses idleTimeoutMs ${ms} (uWS takes 0 or whole seconds from 8 to 960)`, () => {
      assert.deepEqual(problemsOf(["--idle-timeout-ms", String(ms)]), [
        `--idle-timeout-ms="${ms}": must be 0, or whole seconds from 8000 to 960000 (uWS limit)`,
      ]);
    });
  }

  it("refuses a probe interval over a quarter of the idle timeout (the probes' pongs keep quiet clients open)", () => {
    assert.deepEqual(problemsOf(["--idle-timeout-ms", "8000", "--probe-interval-ms", "2001"]), [
      "probe-interval-ms must be at most a quarter of idle-timeout-ms (its pongs keep clients open)",
    ]);
    for (const probe of ["2000", "0"]) {
      const config = loadConfig(["--idle-timeout-ms", "8000", "--probe-interval-ms", probe], {});
      assert.equal(config.probeIntervalMs, Number(probe));
    }
  });

  it("refuses a hard watermark at or below the soft one", () => {
    assert.deepEqual(problemsOf(["--slow-soft-bytes", "2000000", "--slow-hard-bytes", "2000000"]), [
      "slow-hard-bytes must be above slow-soft-bytes",
    ]);
  });

  it("refuses maxBackpressureBytes below slowHardBytes", () => {
    assert.deepEqual(problemsOf(["--slow-hard-bytes", "2000000", "--max-backpressure-bytes", "1999999"]), [
      "max-backpressure-bytes must be at least slow-hard-bytes",
    ]);
    const equal = loadConfig(["--slow-hard-bytes", "2000000", "--max-backpressure-bytes", "2000000"], {});
    assert.equal(equal.maxBackpressureBytes, equal.slowHardBytes);
  });

  it("reports maxBackpressureBytes below slowHardBytes together with an unrelated problem", () => {
    const problems = problemsOf(["--port", "70000"], {
      TICKWIRE_SLOW_HARD_BYTES: "2000000",
      TICKWIRE_MAX_BACKPRESSURE_BYTES: "1000000",
    });
    assert.equal(problems.length, 2, `got ${JSON.stringify(problems)}`);
    assert.ok(problems.includes("max-backpressure-bytes must be at least slow-hard-bytes"));
  });

  it("refuses a heartbeat period under 100 ms other than 0, and a maxHz cap over 1000", () => {
    assert.deepEqual(problemsOf(["--heartbeat-ms", "50", "--max-hz", "1001"]), [
      '--heartbeat-ms="50": must be 0 or 100 to 600000',
      '--max-hz="1001": must be between 0 and 1000',
    ]);
  });
});

describe("helpText", () => {
  const text = helpText();

  it("mentions every option flag, variable, unit and default", () => {
    for (const o of OPTIONS) {
      assert.ok(text.includes(`--${o.flag} <${o.unit}>`), `flag --${o.flag}`);
      for (const name of o.env) assert.ok(text.includes(name), `variable ${name}`);
      assert.ok(text.includes(o.help), `help of --${o.flag}`);
      const shown = o.default === "" ? '"" (embedded)' : String(o.default);
      assert.ok(text.includes(`default: ${shown}`), `default of --${o.flag}`);
    }
  });

  it("starts with the usage line", () => {
    assert.match(text, /^Usage: tickwire serve \[options\]\n/);
  });
});
