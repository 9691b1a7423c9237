/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched), so it can
 * be mailed, attached to a ticket or opened years later. Charts are drawn here as SVG paths.
 */
import { bucketHighUs, bucketLowUs } from "./histogram.ts";
import type { LoadTestResult, SeriesPoint } from "./result.ts";

const W = 760;
const H = 240;
const PAD = { left: 64, right: 16, top: 12, bottom: 36 };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** 1234567 → "1,234,567"; fractions keep up to `digits` decimals. */
export function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** µs as a readable duration: 850 µs, 1.25 ms, 2.3 s. */
export function fmtUs(us: number): string {
  if (us < 1000) return `${fmt(us)} µs`;
  if (us < 1_000_000) return `${fmt(us / 1000, 2)} ms`;
  return `${fmt(us / 1_000_000, 2)} s`;
}

export function fmtBytes(bytes: number): string {
  if (Math.abs(bytes) < 10_240) return `${fmt(bytes, 0)} B`;
  if (Math.abs(bytes) < 10 * 2 ** 20) return `${fmt(bytes / 1024, 1)} KiB`;
  return `${fmt(bytes / 2 ** 20, 1)} MiB`;
}

/** Round axis maximum: 1, 2 or 5 × 10^k at or above `v`. */
export function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function svg(body: string, label: string): string {
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(label)}">${body}</svg>`;
}

function axes(yMax: number, yLabel: (v: number) => string, xTicks: { x: number; label: string }[]): string {
  const plotH = H - PAD.top - PAD.bottom;
  let out = `<line class="axis" x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}"/>`;
  for (let i = 0; i <= 4; i++) {
    const y = H - PAD.bottom - (plotH * i) / 4;
    out += `<line class="grid" x1="${PAD.left}" y1="${y}" x2="${W - PAD.right}" y2="${y}"/>`;
    out += `<text class="tick" x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${escapeHtml(yLabel((yMax * i) / 4))}</text>`;
  }
  for (const t of xTicks) {
    out += `<text class="tick" x="${t.x}" y="${H - PAD.bottom + 16}" text-anchor="middle">${escapeHtml(t.label)}</text>`;
  }
  return out;
}

/** Latency histogram: buckets on a log time axis, bar height = share of events. */
export function latencyChart(result: LoadTestResult): string {
  const buckets = result.latencyHistogram.buckets;
  const total = result.latencyHistogram.count;
  if (buckets.length === 0 || total === 0) return `<p class="none">no latency samples</p>`;
  const lo = Math.max(1, bucketLowUs(buckets[0]![0]));
  const hi = Math.max(lo * 10, bucketHighUs(buckets[buckets.length - 1]![0]) + 1);
  const logLo = Math.log10(lo);
  const logHi = Math.log10(hi);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (us: number): number =>
    PAD.left + ((Math.log10(Math.max(us, lo)) - logLo) / (logHi - logLo)) * plotW;
  const yMax = niceCeil(Math.max(...buckets.map(([, n]) => n / total)) * 100);
  let bars = "";
  for (const [index, n] of buckets) {
    const x0 = x(Math.max(1, bucketLowUs(index)));
    const x1 = Math.max(x0 + 1, x(bucketHighUs(index) + 1));
    const h = ((n / total) * 100 * plotH) / yMax;
    bars += `<rect class="bar" x="${x0.toFixed(1)}" y="${(H - PAD.bottom - h).toFixed(1)}" width="${(x1 - x0).toFixed(1)}" height="${h.toFixed(1)}"><title>${escapeHtml(`${fmtUs(bucketLowUs(index))}–${fmtUs(bucketHighUs(index))}: ${fmt(n)} events`)}</title></rect>`;
  }
  const ticks: { x: number; label: string }[] = [];
  for (let e = Math.ceil(logLo); e <= Math.floor(logHi); e++)
    ticks.push({ x: x(10 ** e), label: fmtUs(10 ** e) });
  let marks = "";
  const l = result.latencyUs;
  for (const [name, us] of [
    ["p50", l.p50Us],
    ["p99", l.p99Us],
    ["p99.9", l.p999Us],
  ] as const) {
    const mx = x(Math.max(us, lo));
    marks += `<line class="mark" x1="${mx}" y1="${PAD.top}" x2="${mx}" y2="${H - PAD.bottom}"/><text class="marklabel" x="${mx + 3}" y="${PAD.top + 10}">${name}</text>`;
  }
  return svg(axes(yMax, (v) => `${fmt(v, 1)}%`, ticks) + bars + marks, "latency histogram");
}

/** Delivered and published events per second over time, and p99 latency per interval. */
export function throughputChart(series: readonly SeriesPoint[]): string {
  const points = series.filter((p) => p.tS >= 0);
  if (points.length < 2) return `<p class="none">too few samples for a time series</p>`;
  const tMax = Math.max(...points.map((p) => p.tS));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const yMax = niceCeil(Math.max(1, ...points.map((p) => Math.max(p.deliveredPerS, p.publishedPerS))));
  const x = (t: number): number => PAD.left + (t / Math.max(tMax, 1e-3)) * plotW;
  const y = (v: number): number => H - PAD.bottom - (v / yMax) * plotH;
  const line = (cls: string, value: (p: SeriesPoint) => number): string =>
    `<path class="${cls}" d="${points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.tS).toFixed(1)},${y(value(p)).toFixed(1)}`).join("")}"/>`;
  const ticks = Array.from({ length: 6 }, (_, i) => ({
    x: x((tMax * i) / 5),
    label: `${fmt((tMax * i) / 5, 1)} s`,
  }));
  const compact = (v: number): string =>
    v >= 1e6 ? `${fmt(v / 1e6, 2)}M` : v >= 1e3 ? `${fmt(v / 1e3, 1)}k` : fmt(v);
  return svg(
    axes(yMax, compact, ticks) +
      line("delivered", (p) => p.deliveredPerS) +
      line("published", (p) => p.publishedPerS),
    "throughput over time",
  );
}

export function p99Chart(series: readonly SeriesPoint[]): string {
  const points = series.filter((p) => p.tS >= 0 && p.p99Us > 0);
  if (points.length < 2) return `<p class="none">too few samples for a time series</p>`;
  const tMax = Math.max(...points.map((p) => p.tS));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const yMax = niceCeil(Math.max(...points.map((p) => p.p99Us)));
  const x = (t: number): number => PAD.left + (t / Math.max(tMax, 1e-3)) * plotW;
  const y = (v: number): number => H - PAD.bottom - (v / yMax) * plotH;
  const path = (value: (p: SeriesPoint) => number, cls: string): string =>
    `<path class="${cls}" d="${points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.tS).toFixed(1)},${y(value(p)).toFixed(1)}`).join("")}"/>`;
  const ticks = Array.from({ length: 6 }, (_, i) => ({
    x: x((tMax * i) / 5),
    label: `${fmt((tMax * i) / 5, 1)} s`,
  }));
  return svg(
    axes(yMax, fmtUs, ticks) + path((p) => p.p99Us, "p99") + path((p) => p.p50Us, "p50"),
    "latency over time",
  );
}

function rows(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("");
}

function counts(map: Readonly<Record<string, number>>): string {
  const entries = Object.entries(map).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "none" : entries.map(([k, v]) => `${k}: ${fmt(v)}`).join(", ");
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1d232a;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #d7dde3;padding-bottom:4px}
.sub{color:#5b6570;margin:0 0 16px}.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:8px 24px}
table{border-collapse:collapse;width:100%}th{text-align:left;font-weight:500;color:#5b6570;padding:2px 8px 2px 0;width:45%}td{padding:2px 0;font-variant-numeric:tabular-nums}
.invalid{border:2px solid #c0392b;background:#fdecea;border-radius:6px;padding:8px 12px;margin:12px 0}.invalid b{color:#c0392b}
.kpi{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}.kpi div{border:1px solid #d7dde3;border-radius:6px;padding:8px 12px;min-width:120px}
.kpi b{display:block;font-size:20px;font-variant-numeric:tabular-nums}.kpi span{color:#5b6570;font-size:12px}
svg{width:100%;height:auto;max-width:${W}px}.axis{stroke:#5b6570}.grid{stroke:#e6eaee}.tick{font-size:11px;fill:#5b6570}
.bar{fill:#3b7dd8}.mark{stroke:#c0392b;stroke-dasharray:3 3}.marklabel{font-size:11px;fill:#c0392b}
.delivered{fill:none;stroke:#3b7dd8;stroke-width:2}.published{fill:none;stroke:#e67e22;stroke-width:1.5;stroke-dasharray:4 3}
.p99{fill:none;stroke:#c0392b;stroke-width:2}.p50{fill:none;stroke:#27ae60;stroke-width:1.5}.legend{font-size:12px;color:#5b6570}
.none{color:#5b6570;font-style:italic}code{font-size:12px}`;

/** The whole report page. */
export function renderHtml(r: LoadTestResult): string {
  const d = r.delivery;
  const l = r.latencyUs;
  const f = r.fairness;
  const lossPct = d.expected > 0 ? (1 - d.delivered / d.expected) * 100 : 0;
  const kpis: [string, string][] = [
    [fmt(d.deliveredPerS), "delivered events/s"],
    [fmtUs(l.p50Us), "p50 latency"],
    [fmtUs(l.p99Us), "p99 latency"],
    [fmtUs(l.p999Us), "p99.9 latency"],
    [`${fmt(r.clients.subscribed)} / ${fmt(r.clients.requested)}`, "clients subscribed"],
    [fmt(d.gaps), "gaps"],
  ];
  const server = r.server;
  const invalid = r.validity.valid
    ? ""
    : `<div class="invalid"><b>Invalid result: the harness, not the target, was measured.</b><ul>${r.validity.reasons.map((reason) => `<li>${escapeHtml(reason)}</li>`).join("")}</ul></div>`;
  const body = `<h1>tickwire load test</h1>
<p class="sub">${escapeHtml(r.startedAt)} · target <code>${escapeHtml(r.target.url)}</code>${r.target.local ? " (started by the harness)" : ""} · adapter ${escapeHtml(r.target.adapter)} · Node ${escapeHtml(r.environment.node)} · ${escapeHtml(r.environment.cpu)} × ${r.environment.cores}</p>
${invalid}
<div class="kpi">${kpis.map(([v, k]) => `<div><b>${escapeHtml(v)}</b><span>${escapeHtml(k)}</span></div>`).join("")}</div>
<h2>End-to-end latency (NATS publish → client receive), measured window</h2>
${latencyChart(r)}
<div class="grid2"><table>${rows([
    ["events", fmt(l.count)],
    ["min / mean", `${fmtUs(l.minUs)} / ${fmtUs(l.meanUs)}`],
    ["p50 / p90", `${fmtUs(l.p50Us)} / ${fmtUs(l.p90Us)}`],
    ["p99 / p99.9", `${fmtUs(l.p99Us)} / ${fmtUs(l.p999Us)}`],
    ["max", fmtUs(l.maxUs)],
    ["negative (clock skew)", fmt(l.negative)],
  ])}</table></div>
<h2>Throughput over time</h2>
<p class="legend"><span style="color:#3b7dd8">━ delivered events/s</span> · <span style="color:#e67e22">╍ published messages/s</span></p>
${throughputChart(r.series)}
<p class="legend"><span style="color:#c0392b">━ p99</span> · <span style="color:#27ae60">━ p50</span> latency per interval</p>
${p99Chart(r.series)}
<div class="grid2">
<div><h2>Delivery</h2><table>${rows([
    [
      "published messages",
      `${fmt(r.feed.published)} (${fmt(r.feed.publishedPerS)}/s, ${fmt(r.feed.messageBytes.min)}–${fmt(r.feed.messageBytes.max)} B)`,
    ],
    [
      "topics / subscribers per topic",
      `${fmt(r.feed.topics)} / ${fmt(r.feed.subscribersPerTopic.min)}–${fmt(r.feed.subscribersPerTopic.max)} (mean ${fmt(r.feed.subscribersPerTopic.mean, 1)})`,
    ],
    ["delivered events", fmt(d.delivered)],
    [
      "expected (published × subscribers)",
      `${fmt(d.expected)} (${lossPct >= 0 ? "short by" : "over by"} ${fmt(Math.abs(lossPct), 3)}%)`,
    ],
    ["delivered events/s (measured window)", `${fmt(d.deliveredPerS)} over ${fmt(d.measuredS, 1)} s`],
    ["frames / events per frame", `${fmt(d.frames)} / ${fmt(d.eventsPerFrame, 2)}`],
    ["mean bytes per event", fmt(d.meanEventBytes, 1)],
    ["gaps / missed updates", `${fmt(d.gaps)} / ${fmt(d.missedUpdates)}`],
    ["conflated events / updates merged", `${fmt(d.conflatedEvents)} / ${fmt(d.conflatedUpdates)}`],
    ["duplicates", fmt(d.duplicates)],
    ["snapshots / snapshot_end", `${fmt(d.snapshots)} / ${fmt(d.snapshotEnds)}`],
    ["heartbeats", fmt(d.heartbeats)],
  ])}</table></div>
<div><h2>Connections</h2><table>${rows([
    [
      "requested / subscribed / failed",
      `${fmt(r.clients.requested)} / ${fmt(r.clients.subscribed)} / ${fmt(r.clients.failed)}`,
    ],
    ["worker processes", fmt(r.clients.workers)],
    [
      "connect time p50 / p99 / max",
      `${fmtUs(r.clients.connectUs.p50Us)} / ${fmtUs(r.clients.connectUs.p99Us)} / ${fmtUs(r.clients.connectUs.maxUs)}`,
    ],
    ["open at the end", fmt(r.clients.openAtEnd)],
    ["reconnects / churned", `${fmt(r.clients.reconnects)} / ${fmt(r.clients.churned)}`],
    ["errors by code", counts(r.errorsByCode)],
    ["closes by code (server or network)", counts(r.closesByCode)],
    ["client processes CPU", `${fmt(r.clients.clientCpuPct, 1)}% of a core`],
  ])}</table>
<h2>Fairness</h2><table>${rows([
    [
      "delivery ratio min / p1 / median / max",
      `${fmt(f.deliveryRatio.min, 4)} / ${fmt(f.deliveryRatio.p1, 4)} / ${fmt(f.deliveryRatio.p50, 4)} / ${fmt(f.deliveryRatio.max, 4)}`,
    ],
    ["Jain's index", fmt(f.jainIndex, 5)],
    [
      "mean latency: median / p99 / worst client",
      `${fmtUs(f.meanLatencyUs.p50)} / ${fmtUs(f.meanLatencyUs.p99)} / ${fmtUs(f.meanLatencyUs.max)}`,
    ],
    ["max latency: median / worst client", `${fmtUs(f.maxLatencyUs.p50)} / ${fmtUs(f.maxLatencyUs.max)}`],
    ["starved clients", fmt(f.starved)],
  ])}</table></div></div>
${
  server === null
    ? ""
    : `<h2>Server process (pid ${server.pid})</h2><div class="grid2"><table>${rows([
        [
          "RSS before / connected / peak",
          `${fmtBytes(server.rssBeforeBytes)} / ${fmtBytes(server.rssConnectedBytes)} / ${fmtBytes(server.rssPeakBytes)}`,
        ],
        [
          "RSS per connection (anonymous)",
          `${fmtBytes(server.rssPerConnectionBytes)} (${fmtBytes(server.rssAnonPerConnectionBytes)})`,
        ],
        ["CPU in the measured window", `${fmt(server.cpuPct, 1)}% of a core`],
      ])}</table></div>`
}
<h2>Options</h2><pre><code>${escapeHtml(JSON.stringify(r.options, null, 1))}</code></pre>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>tickwire load test ${escapeHtml(r.startedAt)}</title><style>${CSS}</style></head><body>${body}</body></html>\n`;
}
