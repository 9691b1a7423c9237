import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { CliProcess } from "./helpers/process.ts";
import { eventually, startStack, type Stack } from "./helpers/stack.ts";

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

/** Metric names a PromQL expression reads: tickwire's own, the Node.js/process defaults, and `up`. */
function metricNames(expr: string): string[] {
  const names = expr.match(/\b(?:tickwire|nodejs|process)_[a-z0-9_]+\b/g) ?? [];
  return [...new Set([...names, ...(/\bup\{/.test(expr) ? ["up"] : [])])];
}

/** Names on a /metrics page: declared (# TYPE, even with no sample yet) and sampled. */
function exposedNames(text: string): Set<string> {
  const names = new Set(["up"]); // Prometheus's own per-target series
  for (const line of text.split("\n")) {
    const declared = /^# TYPE (\S+) /.exec(line);
    if (declared?.[1] !== undefined) names.add(declared[1]);
    else if (line !== "" && !line.startsWith("#")) names.add(line.split(/[{ ]/)[0] ?? "");
  }
  return names;
}

describe("dashboard and alert rules read only metrics that exist", () => {
  let stack: Stack;
  let supervisor: CliProcess | undefined;
  let exposed: Set<string>;

  before(async () => {
    stack = await startStack();
    // The per-worker series (worker="0", …) exist only on a supervisor's /metrics: scrape one as well.
    supervisor = CliProcess.run([
      "serve",
      ...["--port", "0", "--nats", stack.nats.url, "--workers", "2", "--history-stream", "off"],
    ]);
    const port = await supervisor.port();
    const cli = supervisor;
    await eventually(
      () => cli.logs.some((l) => l["msg"] === "supervisor: every worker listening"),
      "the supervisor's two workers",
      20_000,
    );
    const pages = await Promise.all(
      [stack.httpUrl, `http://127.0.0.1:${port}`].map(async (url) => (await fetch(`${url}/metrics`)).text()),
    );
    exposed = new Set(pages.flatMap((page) => [...exposedNames(page)]));
    // The worker label is really there (the per-worker panels group by it).
    assert.match(pages[1] ?? "", /^tickwire_worker_connections\{worker="1"\} /m);
  });

  after(async () => {
    if (supervisor !== undefined && supervisor.child.exitCode === null) {
      supervisor.child.kill("SIGTERM");
      await supervisor.exit();
    }
    await stack?.close();
  });

  it("every metric in deploy/grafana/tickwire.json's queries is on a live /metrics", () => {
    const dashboard = JSON.parse(read("deploy/grafana/tickwire.json")) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      assert.ok((panel.targets ?? []).length > 0, `panel ${panel.title} has no query`);
      for (const target of panel.targets ?? []) {
        const names = metricNames(target.expr);
        assert.ok(names.length > 0, `${panel.title}: no metric in ${target.expr}`);
        for (const name of names) {
          assert.ok(exposed.has(name), `${panel.title}: ${name} is not on /metrics`);
          used.add(name);
        }
      }
    }
    assert.ok(used.size >= 25, `the dashboard reads ${used.size} metrics`);
  });

  it("every metric in deploy/prometheus/tickwire-rules.yml is on a live /metrics", () => {
    const rules = parse(read("deploy/prometheus/tickwire-rules.yml")) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      const names = metricNames(rule.expr);
      assert.ok(names.length > 0, `${rule.alert}: no metric in ${rule.expr}`);
      for (const name of names) assert.ok(exposed.has(name), `${rule.alert}: ${name} is not on /metrics`);
    }
  });
});
