import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../errors/index.ts";
import { inspect } from "node:util";
import { configSummary, helpText, loadConfig, loadOptions, redactedConfig } from "./load.ts";
import { OPTIONS, option, type NatsServers } from "./options.ts";
import { Secret } from "./secret.ts";
import { checkAuthConfig } from "../auth/index.ts";

const external = (...urls: string[]): NatsServers => ({ mode: "external", urls });

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
    assert.deepEqual(config, {
      gateway: {
        host: "127.0.0.1",
        port: 9000,
        maxMessageBytes: 262144,
        maxBackpressureBytes: 8388608,
        idleTimeoutMs: 120000,
        maxConnectionAgeMs: 0,
        maxConnections: 0,
        maxConnectionsPerIp: 0,
        metricsPort: 0,
        metricsHost: "127.0.0.1",
        metricsCacheMs: 1000,
        allowedOrigins: [],
        trustedProxies: [],
      },
      fanout: {
        maxTopicsPerConnection: 1024,
        slowSoftBytes: 1048576,
        slowHardBytes: 4194304,
        slowCloseMs: 10000,
        heartbeatMs: 1000,
        maxHz: 0,
        maxLagMs: 1000,
        probeIntervalMs: 250,
        historyTimeoutMs: 500,
        controlRatePerSec: 50,
        controlBurst: 100,
        retryAfterMs: 1000,
        maxSnapshotValues: 10000,
        maxTopics: 100000,
        maxHistoryLookupsPerConnection: 4,
      },
      nats: {
        servers: { mode: "embedded" },
        subjectPrefix: "md",
        maxFeedPayloadBytes: 4096,
        pingIntervalMs: 10000,
        maxPingsOut: 3,
        reconnectWaitMs: 1000,
        tlsCaFile: undefined,
        tlsCertFile: undefined,
        tlsKeyFile: undefined,
        user: undefined,
        password: new Secret(""),
        token: new Secret(""),
        nkeySeedFile: undefined,
        credsFile: undefined,
      },
      history: { stream: { mode: "jetstream", stream: "TICKWIRE_LAST" } },
      embedded: { demoRatePerSec: 200, natsServerBin: "nats-server" },
      lifecycle: { shutdownGraceMs: 5000, drainDelayMs: 0 },
      process: { workers: 0 },
      log: { level: "info", format: "auto" },
      auth: {
        mode: "none",
        authTimeoutMs: 10000,
        jwtSecretFile: undefined,
        jwtPublicKeyFile: undefined,
        jwksFile: undefined,
        jwksUrl: undefined,
        jwtIssuer: undefined,
        jwtAudience: undefined,
        jwtAlgorithms: undefined,
        jwtClockToleranceMs: 30000,
        jwksMaxAgeMs: 600000,
        jwksCooldownMs: 30000,
        jwksTimeoutMs: 5000,
      },
      tls: { certFile: undefined, keyFile: undefined, passphrase: new Secret("") },
    });
  });

  it("declares one option per config key, each group and key once, flags and variables unique", () => {
    const config = loadConfig([], {}) as unknown as Record<string, Record<string, unknown>>;
    const keys = OPTIONS.map((o) => `${o.group}.${o.key}`);
    assert.equal(new Set(keys).size, keys.length);
    const declared = Object.entries(config).flatMap(([group, values]) =>
      Object.keys(values).map((key) => `${group}.${key}`),
    );
    assert.deepEqual(keys.toSorted(), declared.sort());
    const flags = OPTIONS.map((o) => o.flag);
    assert.equal(new Set(flags).size, flags.length);
    const variables = OPTIONS.flatMap((o) => o.env);
    assert.equal(new Set(variables).size, variables.length);
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
    assert.equal(config.gateway.host, "0.0.0.0");
    assert.equal(config.gateway.port, 8080);
    assert.equal(config.nats.subjectPrefix, "feeds");
    assert.equal(config.gateway.idleTimeoutMs, 0);
    assert.equal(config.fanout.controlBurst, 7);
    assert.equal(config.log.level, "debug");
    assert.equal(config.embedded.demoRatePerSec, 0);
  });

  it("reads every option from its flag and from its first variable", () => {
    const defaults = loadConfig([], {});
    const at = (config: object, o: (typeof OPTIONS)[number]): unknown =>
      (config as Record<string, Record<string, unknown>>)[o.group]?.[o.key];
    for (const o of OPTIONS) {
      const value = String(o.default);
      const fromFlag = loadConfig([`--${o.flag}=${value}`], {});
      assert.deepEqual(at(fromFlag, o), at(defaults, o), o.flag);
      if (value === "") continue; // empty variables are ignored by design
      const fromEnv = loadConfig([], { [o.env[0] as string]: value });
      assert.deepEqual(at(fromEnv, o), at(defaults, o), o.env[0]);
    }
  });

  it("reads NATS_URL, and TICKWIRE_NATS_URL when NATS_URL is unset or empty", () => {
    assert.deepEqual(loadConfig([], { NATS_URL: "nats://a:4222" }).nats.servers, external("nats://a:4222"));
    assert.deepEqual(
      loadConfig([], { TICKWIRE_NATS_URL: "nats://b:4222" }).nats.servers,
      external("nats://b:4222"),
    );
    assert.deepEqual(
      loadConfig([], { NATS_URL: "nats://a:4222", TICKWIRE_NATS_URL: "nats://b:4222" }).nats.servers,
      external("nats://a:4222"),
    );
    assert.deepEqual(
      loadConfig([], { NATS_URL: "", TICKWIRE_NATS_URL: "nats://b:4222" }).nats.servers,
      external("nats://b:4222"),
    );
  });

  it("lets flags win over variables", () => {
    const env = { TICKWIRE_PORT: "5678", NATS_URL: "nats://env:4222", TICKWIRE_LOG_LEVEL: "warn" };
    const config = loadConfig(["--port", "1234", "--nats=nats://flag:4222", "--log-level", "error"], env);
    assert.equal(config.gateway.port, 1234);
    assert.deepEqual(config.nats.servers, external("nats://flag:4222"));
    assert.equal(config.log.level, "error");
  });

  it("ignores a bad variable that a flag overrides", () => {
    assert.equal(loadConfig(["--port", "1234"], { TICKWIRE_PORT: "nope" }).gateway.port, 1234);
  });

  it("treats an empty variable as unset", () => {
    const config = loadConfig([], { TICKWIRE_PORT: "", TICKWIRE_LOG_LEVEL: "" });
    assert.equal(config.gateway.port, 9000);
    assert.equal(config.log.level, "info");
  });

  it("trims strings and accepts integers with surrounding white space", () => {
    const config = loadConfig(["--host", " 0.0.0.0 "], { TICKWIRE_PORT: " 8080 " });
    assert.equal(config.gateway.host, "0.0.0.0");
    assert.equal(config.gateway.port, 8080);
  });

  it("accepts comma-separated NATS URLs and host:port", () => {
    for (const url of [
      "nats://a:4222,nats://b:4222",
      "localhost:4222",
      "tls://x:1",
      "nats://a:1, nats://b:2",
    ]) {
      assert.deepEqual(
        loadConfig(["--nats", url], {}).nats.servers,
        external(...url.split(",").map((u) => u.trim())),
        url,
      );
    }
  });

  it("returns a frozen object", () => {
    const config = loadConfig([], {});
    assert.equal(Object.isFrozen(config), true);
    for (const group of Object.values(config)) assert.equal(Object.isFrozen(group), true);
    assert.throws(() => {
      (config.gateway as { port: number }).port = 1;
    }, TypeError);
    assert.equal(config.gateway.port, 9000);
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
    // Under 1 KiB a client could not fit one longest-topic subscribe, however it splits (issue 10 §3).
    assert.deepEqual(problemsOf(["--max-message-bytes", "512"]), [
      '--max-message-bytes="512": must be between 1024 and 16777216',
    ]);
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
      assert.equal(loadConfig(["--idle-timeout-ms", String(ms)], {}).gateway.idleTimeoutMs, ms);
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
      assert.equal(config.fanout.probeIntervalMs, Number(probe));
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
    assert.equal(equal.gateway.maxBackpressureBytes, equal.fanout.slowHardBytes);
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
      const shown = o.default === "" ? '"" (embedded)' : String(o.default); // --nats is the only empty default
      assert.ok(text.includes(`default: ${shown}`), `default of --${o.flag}`);
    }
  });

  it("starts with the usage line", () => {
    assert.match(text, /^Usage: tickwire serve \[options\]\n/);
  });
});

describe("option kinds (a test-only table)", () => {
  const SPECS = [
    option({
      group: "auth",
      key: "passphrase",
      flag: "passphrase",
      env: ["TEST_PASSPHRASE"],
      kind: "secret",
      unit: "text",
      default: "",
      help: "a secret",
      check: (v) => (v.reveal().length >= 4 || !v.isSet ? undefined : "must be at least 4 characters"),
    }),
    option({
      group: "auth",
      key: "strict",
      flag: "strict",
      env: ["TEST_STRICT"],
      kind: "boolean",
      unit: "on/off",
      default: false,
      help: "a switch",
    }),
    option({
      group: "net",
      key: "origins",
      flag: "origins",
      env: ["TEST_ORIGINS"],
      kind: "list",
      unit: "urls",
      default: "https://a.example",
      help: "a list",
    }),
    option({
      group: "net",
      key: "keyFile",
      flag: "key-file",
      env: ["TEST_KEY_FILE"],
      kind: "path",
      unit: "path",
      default: "/etc/key.pem",
      help: "a path",
    }),
  ] as const;
  const secret = "hunter2-passphrase";

  it("reads a secret that prints, serialises and inspects as [redacted]", () => {
    const config = loadOptions(SPECS, ["--passphrase", secret], {});
    assert.equal(config.auth.passphrase.reveal(), secret);
    assert.equal(String(config.auth.passphrase), "[redacted]");
    assert.equal(JSON.stringify(config).includes(secret), false);
    assert.equal(inspect(config, { depth: 5 }).includes(secret), false);
    assert.deepEqual(redactedConfig(config, SPECS), {
      auth: { passphrase: "[redacted]", strict: false },
      net: { origins: ["https://a.example"], keyFile: "/etc/key.pem" },
    });
  });

  it("never quotes a secret in a problem", () => {
    try {
      loadOptions(SPECS, [], { TEST_PASSPHRASE: "abc" });
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, ["TEST_PASSPHRASE=[redacted]: must be at least 4 characters"]);
      assert.equal(error.message.includes("abc"), false);
    }
  });

  it("redacts a secret's default in --help", () => {
    const withDefault = [{ ...SPECS[0], default: secret }] as const;
    assert.equal(helpText(withDefault).includes(secret), false);
    assert.match(helpText(withDefault), /default: \[redacted\]/);
    assert.match(helpText(SPECS), /--passphrase <text>\n.*\n.*default: "" \(unset\)/);
  });

  it("reads booleans from a bare flag, --no-flag, flag=value and variables", () => {
    assert.equal(loadOptions(SPECS, [], {}).auth.strict, false);
    assert.equal(loadOptions(SPECS, ["--strict"], {}).auth.strict, true);
    assert.equal(loadOptions(SPECS, ["--strict=false"], { TEST_STRICT: "1" }).auth.strict, false);
    assert.equal(loadOptions(SPECS, ["--no-strict"], { TEST_STRICT: "true" }).auth.strict, false);
    assert.equal(loadOptions(SPECS, [], { TEST_STRICT: "yes" }).auth.strict, true);
    assert.throws(
      () => loadOptions(SPECS, [], { TEST_STRICT: "maybe" }),
      /TEST_STRICT="maybe": must be true or false/,
    );
  });

  it("reads lists comma-separated, trimmed, empty items dropped; paths trimmed", () => {
    const config = loadOptions(SPECS, ["--origins", " https://b.example, ,https://c.example "], {
      TEST_KEY_FILE: " /k.pem ",
    });
    assert.deepEqual(config.net.origins, ["https://b.example", "https://c.example"]);
    assert.equal(config.net.keyFile, "/k.pem");
  });
});

describe("redactedConfig of tickwire serve", () => {
  it("replaces every secret and URL credentials, and leaves the rest as loaded", () => {
    const config = loadConfig(
      [
        "--nats",
        "nats://alice:hunter2-pass@127.0.0.1:4222",
        "--nats-token",
        "tok-s3cret",
        "--tls-passphrase",
        "pp-s3cret",
      ],
      {},
    );
    const redacted = redactedConfig(config);
    const text = JSON.stringify(redacted);
    for (const secret of ["hunter2-pass", "tok-s3cret", "pp-s3cret"])
      assert.ok(!text.includes(secret), secret);
    assert.equal(redacted["nats"]?.["token"], "[redacted]");
    assert.deepEqual(redacted["nats"]?.["servers"], {
      mode: "external",
      urls: ["nats://127.0.0.1:4222"],
    });
    assert.deepEqual(redacted["gateway"], { ...config.gateway });
  });

  it("reports auth, TLS and NATS credential problems with the rest", () => {
    assert.throws(
      () =>
        loadConfig(
          ["--auth", "jwt", "--tls-cert", "/x.pem", "--nats-user", "u", "--nats-token", "t", "--port", "-1"],
          {},
        ),
      (error: ConfigError) => {
        const all = error.problems.join("\n");
        assert.match(all, /--auth jwt needs one key source/);
        assert.match(all, /--tls-cert and --tls-key go together/);
        assert.match(all, /--nats-user and --nats-password go together/);
        assert.match(all, /NATS credentials: use one of --nats-user, --nats-token/);
        assert.match(all, /--port/);
        assert.ok(!all.includes('="t"'), "a secret's value is never quoted");
        return true;
      },
    );
  });

  it("--auth jwt with a secret file resolves to an AuthConfig", () => {
    const config = loadConfig(
      ["--auth", "jwt", "--jwt-secret-file", "/run/secret", "--jwt-algorithms", "HS256,HS512"],
      {},
    );
    assert.equal(config.auth.mode, "jwt");
    assert.equal(config.auth.jwtSecretFile, "/run/secret");
    assert.deepEqual(config.auth.jwtAlgorithms, ["HS256", "HS512"]);
    assert.deepEqual(checkAuthConfig(config.auth), []);
  });
});

describe("the configuration in the log", () => {
  it("NATS URLs lose their credentials in the logged configuration and the summary", () => {
    const config = loadConfig(
      ["--nats", "nats://feed:hunter2@10.0.0.1:4222,nats://10.0.0.2:4222,10.0.0.3:4222"],
      {},
    );
    assert.deepEqual(redactedConfig(config)["nats"]?.["servers"], {
      mode: "external",
      urls: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222", "10.0.0.3:4222"],
    });
    assert.equal(
      config.nats.servers.mode === "external" && config.nats.servers.urls[0],
      "nats://feed:hunter2@10.0.0.1:4222",
    );
    assert.equal(configSummary(config).join("\n").includes("hunter2"), false);
  });

  it("the summary is one readable line per group", () => {
    const lines = configSummary(loadConfig(["--port", "9300", "--log-format", "text"], {}));
    assert.equal(lines.length, Object.keys(loadConfig([], {})).length);
    assert.ok(
      lines.some((line) => /^gateway: host=127\.0\.0\.1 port=9300 /.test(line)),
      lines.join("\n"),
    );
    assert.ok(lines.includes("log: level=info format=text"), lines.join("\n"));
    assert.ok(
      lines.some((line) => line.startsWith("nats: servers=embedded ")),
      lines.join("\n"),
    );
  });

  it("refuses an unknown log format", () => {
    assert.deepEqual(problemsOf(["--log-format", "pretty"]), [
      '--log-format="pretty": must be one of auto, text, json',
    ]);
  });
});
