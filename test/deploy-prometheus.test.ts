import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { TestClient } from "./helpers/client.ts";
import { waitFor } from "./helpers/daemon.ts";
import { PROMETHEUS_DIR, Prometheus } from "./helpers/prometheus.ts";
import { startStack, type Stack } from "./helpers/stack.ts";

const promtool = (...args: string[]): string =>
  execFileSync("promtool", args, {
    cwd: PROMETHEUS_DIR,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });

interface RuleFile {
  groups: { rules: { alert?: string; expr: string }[] }[];
}

describe("Prometheus rules (deploy/prometheus)", () => {
  it("promtool accepts the scrape config and the rules, and the rules pass their unit tests", () => {
    assert.match(promtool("check", "config", "prometheus.yml"), /SUCCESS/);
    assert.match(promtool("check", "rules", "tickwire-rules.yml"), /SUCCESS/);
    assert.match(promtool("test", "rules", "tickwire-rules.test.yml"), /SUCCESS/);
  });

  it("every alert has unit tests that expect it to fire", () => {
    const rules = parse(readFileSync(join(PROMETHEUS_DIR, "tickwire-rules.yml"), "utf8")) as RuleFile;
    const tests = parse(readFileSync(join(PROMETHEUS_DIR, "tickwire-rules.test.yml"), "utf8")) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const alerts = rules.groups.flatMap((g) =>
      g.rules.flatMap((r) => (r.alert === undefined ? [] : [r.alert])),
    );
    const fired = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    assert.ok(alerts.length >= 8, `${alerts.length} alerts`);
    for (const alert of alerts) assert.ok(fired.has(alert), `no test expects ${alert} to fire`);
  });
});

describe("a real Prometheus scraping a gateway with deploy/prometheus", () => {
  let stack: Stack;
  let prometheus: Prometheus;
  let client: TestClient;
  const target = (): string => `127.0.0.1:${stack.service.port}`;

  before(async () => {
    stack = await startStack();
    prometheus = await Prometheus.start([target()]);
    client = await TestClient.connect(stack.wsUrl);
  });

  after(async () => {
    client?.ws.terminate();
    await prometheus?.close();
    await stack?.close();
  });

  it("scrapes the gateway and fires TickwireFeedRejected when a feed sends malformed messages", async () => {
    await waitFor(
      async () => (await prometheus.query(`up{job="tickwire",instance="${target()}"} == 1`)).length === 1,
      "a successful scrape of the gateway",
      prometheus.daemon,
    );
    const connections = await prometheus.query(`tickwire_connections{instance="${target()}"}`);
    assert.equal(connections[0]?.value[1], "1");
    assert.deepEqual(
      (await prometheus.alerts()).filter((a) => a.labels["alertname"] === "TickwireFeedRejected"),
      [],
      "no rejection yet",
    );
    // The gateway subscribes to NATS on demand: a client wants the topic, then a feed sends garbage on it.
    await stack.subscribe(client, ["xnas.AAPL.quote"]);
    await waitFor(
      async () => {
        await stack.publishAndFlush("xnas.AAPL.quote", "this is not a feed message");
        const alerts = await prometheus.alerts();
        return alerts.some(
          (a) =>
            a.labels["alertname"] === "TickwireFeedRejected" &&
            a.labels["instance"] === target() &&
            a.state === "firing",
        );
      },
      "TickwireFeedRejected firing for the gateway",
      prometheus.daemon,
      60_000,
    );
  });
});
