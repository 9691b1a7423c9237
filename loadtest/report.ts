/** Writes a result as `<stem>.json` and `<stem>.html`, and the short text summary the CLI prints. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fmt, fmtBytes, fmtUs, renderHtml } from "./report-html.ts";
import type { LoadTestResult } from "./result.ts";

export interface ReportFiles {
  readonly json: string;
  readonly html: string;
}

export function writeReport(result: LoadTestResult, dir: string, name: string): ReportFiles {
  mkdirSync(dir, { recursive: true });
  const stem = name !== "" ? name : `loadtest-${result.startedAt.replace(/[:.]/g, "-")}`;
  const json = join(dir, `${stem}.json`);
  const html = join(dir, `${stem}.html`);
  writeFileSync(json, JSON.stringify(result, null, 1) + "\n");
  writeFileSync(html, renderHtml(result));
  return { json, html };
}

/** A few lines for the terminal. */
export function summaryText(r: LoadTestResult): string {
  const d = r.delivery;
  const l = r.latencyUs;
  const lines = [
    `clients    ${fmt(r.clients.subscribed)}/${fmt(r.clients.requested)} subscribed, ${fmt(r.clients.failed)} failed; connect p50 ${fmtUs(r.clients.connectUs.p50Us)} p99 ${fmtUs(r.clients.connectUs.p99Us)}`,
    `feed       ${fmt(r.feed.published)} published (${fmt(r.feed.publishedPerS)}/s) over ${fmt(r.feed.topics)} topics`,
    `delivered  ${fmt(d.delivered)} of ${fmt(d.expected)} expected; ${fmt(d.deliveredPerS)} events/s in the measured window; ${fmt(d.eventsPerFrame, 2)} events/frame`,
    `latency    p50 ${fmtUs(l.p50Us)}  p90 ${fmtUs(l.p90Us)}  p99 ${fmtUs(l.p99Us)}  p99.9 ${fmtUs(l.p999Us)}  max ${fmtUs(l.maxUs)}  (${fmt(l.count)} events)`,
    `sequence   gaps ${fmt(d.gaps)} (${fmt(d.missedUpdates)} updates), conflated ${fmt(d.conflatedEvents)} (n Σ ${fmt(d.conflatedUpdates)}), duplicates ${fmt(d.duplicates)}, heartbeats ${fmt(d.heartbeats)}`,
    `errors     ${JSON.stringify(r.errorsByCode)}  closes ${JSON.stringify(r.closesByCode)}  reconnects ${fmt(r.clients.reconnects)}`,
    `fairness   delivery ratio min ${fmt(r.fairness.deliveryRatio.min, 4)} median ${fmt(r.fairness.deliveryRatio.p50, 4)}; worst client mean latency ${fmtUs(r.fairness.meanLatencyUs.max)}`,
  ];
  lines.push(
    `harness    ${fmt(r.clients.workers)} worker(s) while publishing: CPU ${r.validity.workerCpuPct.map((pct) => `${fmt(pct, 0)}%`).join(", ")} of a core; slowest answer to a sample ${r.validity.workerReplyMs.map((replyMs) => fmtUs(replyMs * 1000)).join(", ")}`,
  );
  if (!r.validity.valid) {
    lines.unshift(
      "INVALID    the harness, not the target, was measured:",
      ...r.validity.reasons.map((reason) => `           - ${reason}`),
    );
  }
  if (r.server !== null) {
    lines.push(
      `server     pid ${r.server.pid}: RSS ${fmtBytes(r.server.rssBeforeBytes)} → ${fmtBytes(r.server.rssConnectedBytes)} connected (${fmtBytes(r.server.rssPerConnectionBytes)}/connection), peak ${fmtBytes(r.server.rssPeakBytes)}, CPU ${fmt(r.server.cpuPct, 1)}%`,
    );
  }
  return lines.join("\n");
}
