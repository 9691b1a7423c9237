import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runLoadTest, validateOptions, writeReport, type LoadTestResult } from "../loadtest/index.ts";
import { startStack, type Stack } from "./helpers/stack.ts";

/**
 * A short real run of the load harness (worker processes, ws clients, NATS feed) against a real
 * nats-server and the real gateway: what the report counts must be what was published.
 */
describe("load harness smoke run", () => {
  const CLIENTS = 300;
  const TOPICS = 100;
  const PER_CLIENT = 10;
  const MESSAGES = 3000;
  let stack: Stack;
  let dir: string;
  let result: LoadTestResult;

  before(async () => {
    // Exact delivery is what this checks: lag probes measure only, so clients slowed by a loaded
    // machine (the whole suite runs beside it) are not conflated for lag (test/staleness.test.ts is).
    stack = await startStack({ fanout: { maxLagMs: 0 } });
    dir = mkdtempSync(join(tmpdir(), "tickwire-loadtest-smoke-"));
    const options = validateOptions({
      url: stack.wsUrl,
      nats: stack.nats.url,
      natsMonitorUrl: stack.nats.monitorUrl ?? "",
      clients: CLIENTS,
      symbols: TOPICS,
      topicsPerClient: PER_CLIENT,
      rate: 1500,
      messages: MESSAGES,
      rampS: 0.5,
      warmupS: 0.5,
      durationS: 10,
      maxHzShare: 0,
      progress: "off",
      outDir: dir,
      name: "smoke",
    });
    result = await runLoadTest(options);
  });
  after(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every client connects and subscribes", () => {
    assert.equal(result.clients.subscribed, CLIENTS);
    assert.equal(result.clients.failed, 0);
    assert.deepEqual(result.errorsByCode, {});
    assert.deepEqual(result.closesByCode, {});
  });

  it("every published event reaches every subscriber of its topic, with no gap or duplicate", () => {
    const subscribersPerTopic = (CLIENTS * PER_CLIENT) / TOPICS;
    assert.equal(result.feed.published, MESSAGES);
    assert.equal(result.delivery.expected, MESSAGES * subscribersPerTopic);
    assert.equal(result.delivery.delivered, MESSAGES * subscribersPerTopic);
    assert.equal(result.delivery.gaps, 0);
    assert.equal(result.delivery.missedUpdates, 0);
    assert.equal(result.delivery.duplicates, 0);
    assert.equal(result.delivery.conflatedEvents, 0);
    assert.equal(result.delivery.unstamped, 0);
    assert.equal(result.fairness.deliveryRatio.min, 1);
    assert.equal(result.fairness.deliveryRatio.max, 1);
  });

  it("every delivered event has an end-to-end latency sample", () => {
    const histogramCount = result.latencyHistogram.buckets.reduce((sum, [, n]) => sum + n, 0);
    assert.equal(histogramCount, result.latencyUs.count);
    assert.ok(result.latencyUs.count > 0 && result.latencyUs.count <= result.delivery.delivered);
    assert.ok(
      result.latencyUs.p50Us <= result.latencyUs.p99Us && result.latencyUs.p99Us <= result.latencyUs.maxUs,
    );
  });

  it("the result says whether it measured the target, from every worker's CPU and sample answers", () => {
    assert.equal(result.validity.workerCpuPct.length, result.clients.workers);
    assert.equal(result.validity.workerReplyMs.length, result.clients.workers);
    assert.equal(result.validity.valid, result.validity.reasons.length === 0);
  });

  it("the JSON result and the HTML report are written with the same counts", () => {
    const files = writeReport(result, dir, "smoke-again");
    const json = JSON.parse(readFileSync(files.json, "utf8")) as LoadTestResult;
    assert.equal(json.delivery.delivered, result.delivery.delivered);
    assert.equal(json.feed.published, MESSAGES);
    const html = readFileSync(files.html, "utf8");
    assert.ok(html.includes(result.delivery.delivered.toLocaleString("en-US")));
  });
});
