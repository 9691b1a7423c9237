import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LatencyHistogram } from "./histogram.ts";
import { parseOptions } from "./options.ts";
import { escapeHtml, fmtUs, niceCeil, renderHtml } from "./report-html.ts";
import { summaryText } from "./report.ts";
import { fairness, type LoadTestResult } from "./result.ts";
import { judgeValidity } from "./validity.ts";

function sampleResult(): LoadTestResult {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.record(100 + i);
  return {
    tool: "tickwire-loadtest",
    version: 1,
    startedAt: "2026-11-24T12:00:00.000Z",
    options: parseOptions([]),
    target: { url: "ws://127.0.0.1:9000/v1/stream?<x>", local: true, adapter: "tickwire" },
    environment: { node: "v20", cpu: "cpu", cores: 2, host: "h" },
    clients: {
      requested: 10,
      subscribed: 10,
      failed: 0,
      workers: 1,
      connectUs: h.summary(),
      openAtEnd: 10,
      reconnects: 0,
      churned: 0,
      clientCpuPct: 12,
    },
    feed: {
      published: 100,
      publishedPerS: 50,
      messageBytes: { min: 60, max: 60 },
      topics: 10,
      subscribersPerTopic: { min: 10, mean: 10, max: 10 },
    },
    delivery: {
      delivered: 1000,
      expected: 1000,
      measuredS: 2,
      deliveredPerS: 500,
      frames: 900,
      meanEventBytes: 92,
      eventsPerFrame: 1.1,
      snapshots: 0,
      snapshotEnds: 10,
      heartbeats: 0,
      gaps: 0,
      missedUpdates: 0,
      conflatedEvents: 0,
      conflatedUpdates: 0,
      duplicates: 0,
      unstamped: 0,
    },
    latencyUs: { ...h.summary(), negative: 0 },
    latencyHistogram: h.serialize(),
    errorsByCode: { "4000": 3 },
    closesByCode: {},
    fairness: fairness([100], [100], [1000], [20]),
    server: null,
    validity: judgeValidity({ workerCpuPct: [12], workerReplyMs: [4], intervalP50Us: [600, 600, 600] }),
    series: [0, 1, 2].map((t) => ({
      tS: t,
      publishedPerS: 50,
      deliveredPerS: 500,
      p50Us: 600,
      p99Us: 1090,
      maxUs: 1100,
      open: 10,
      gaps: 0,
      serverCpuPct: null,
      serverRssBytes: null,
    })),
    durationS: 3,
  };
}

describe("HTML report", () => {
  it("is one self-contained page: inline style and SVG, nothing loaded from elsewhere, no script", () => {
    const html = renderHtml(sampleResult());
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /<script|<link|src=|https?:\/\//i);
    assert.equal(html.match(/<svg /g)?.length, 3, "latency histogram, throughput, latency over time");
  });

  it("shows the headline figures and the counts by code", () => {
    const r = sampleResult();
    const html = renderHtml(r);
    assert.ok(html.includes(fmtUs(r.latencyUs.p99Us)));
    assert.ok(html.includes("4000: 3"));
    assert.ok(html.includes("1,000"), "delivered events");
    assert.ok(html.includes("<rect"), "histogram bars");
  });

  it("an invalid result says so above the figures, with each reason, in the page and the summary", () => {
    assert.doesNotMatch(renderHtml(sampleResult()), /Invalid result/);
    assert.doesNotMatch(summaryText(sampleResult()), /INVALID/);
    const r = {
      ...sampleResult(),
      validity: judgeValidity({ workerCpuPct: [93], workerReplyMs: [4], intervalP50Us: [] }),
    };
    const html = renderHtml(r);
    assert.ok(html.indexOf("Invalid result") < html.indexOf('class="kpi"'));
    assert.match(html, /<li>client worker 0 used 93% of a core/);
    assert.match(
      summaryText(r),
      /^INVALID {4}the harness, not the target, was measured:\n {11}- client worker 0 used 93%/,
    );
  });

  it("escapes text that comes from options and targets", () => {
    assert.equal(escapeHtml(`<a href="x">'&`), "&#60;a href=&#34;x&#34;&#62;&#39;&#38;");
    assert.ok(renderHtml(sampleResult()).includes("?&#60;x&#62;"));
  });

  it("draws placeholders instead of charts when there is nothing to draw", () => {
    const r = { ...sampleResult(), series: [], latencyHistogram: new LatencyHistogram().serialize() };
    const html = renderHtml({ ...r, latencyUs: { ...new LatencyHistogram().summary(), negative: 0 } });
    assert.ok(html.includes("no latency samples"));
    assert.ok(html.includes("too few samples"));
  });

  it("axis maxima are round numbers at or above the data", () => {
    assert.deepEqual([0.3, 1, 1.2, 4, 7, 120_000].map(niceCeil), [0.5, 1, 2, 5, 10, 200_000]);
    assert.equal(fmtUs(850), "850 µs");
    assert.equal(fmtUs(1250), "1.25 ms");
  });
});
