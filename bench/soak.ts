/**
 * Soak (issue 11): mixed hostile traffic beside honest clients for --duration-s, then the attackers
 * leave and the gateway is watched for --cooldown-s more. Recorded: the gateway's RSS and event-loop
 * lag p99 (from its own /metrics: process_resident_memory_bytes, nodejs_eventloop_lag_p99_seconds), the
 * honest clients' latency (feed publish → client receive, same machine clock) and any gap in their `q`.
 *
 * The gateway runs as its own process (`tickwire serve`, the CLI) against a nats-server with the feed
 * history stream; attackers, honest clients and the feed publisher run in this process. Attacks, each
 * in its own loop:
 *
 *   metrics-flood   a TCP connection pipelining --metrics-pipeline GET /metrics on the public port, reading
 *   churn-maxhz     short-lived connections subscribing with maxHz 0.01 (rate state must go with them)
 *   snapshot-storm  connections subscribing to `>` with a snapshot (bounded by --max-snapshot-values)
 *   history-storm   wildcard subscribes over --history-subjects stored subjects
 *   paused-readers  connections that subscribe to a busy wildcard and stop reading (closed 4007)
 *   upgrade-flood   connections past --max-connections (refused with 503)
 *
 *   new-subjects    --new-subjects-per-sec ever-new subjects published under a wildcard one client holds
 *                   (`new.>`): past --max-topics the gateway evicts topics only wildcards cover, so RSS
 *                   must stay flat however long it runs (issue 11 §2)
 *
 *   cd bench && node --import tsx soak.ts [--duration-s 600] [--cooldown-s 120] [--smoke]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, connect as tcpConnect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Unpackr } from "msgpackr";
import WebSocket from "ws";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { FeedPublisher, createHistoryStream } from "../src/ingest/index.ts";
import { encodeFeedPayload } from "../src/protocol/index.ts";
import { parseOptions } from "./lib/args.ts";
import { infoMarkdown, int, percentile, runInfo, table, writeResults } from "./lib/run-info.ts";

const opts = parseOptions(
  "soak: hostile traffic beside honest clients; gateway RSS, event-loop lag p99, honest latency",
  {
    durationS: 600,
    cooldownS: 120,
    honestClients: 4,
    honestRatePerSec: 50,
    metricsPipeline: 2000,
    historySubjects: 5000,
    cachedTopics: 20_000,
    maxConnections: 400,
    newSubjectsPerSec: 1000,
    maxTopics: 50_000,
  },
  {
    durationS: 8,
    cooldownS: 4,
    historySubjects: 300,
    cachedTopics: 500,
    metricsPipeline: 200,
    newSubjectsPerSec: 200,
    maxTopics: 1000,
  },
  {
    durationS: { help: "seconds of attacks" },
    cooldownS: { help: "seconds watched after the attackers left (RSS must come back flat)" },
    honestClients: { help: "honest clients, one trade topic each" },
    honestRatePerSec: { help: "trades per second per honest topic" },
    metricsPipeline: { help: "GET /metrics pipelined per flood connection" },
    historySubjects: { help: "subjects stored only in the feed history (for the history storm)" },
    cachedTopics: { help: "topics in the gateway's cache (for the snapshot storm)" },
    maxConnections: { help: "the gateway's --max-connections" },
    newSubjectsPerSec: { help: "ever-new subjects per second published under a held wildcard (0 = off)" },
    maxTopics: { help: "the gateway's --max-topics (the cache bound the new-subjects attack runs into)" },
  },
);

const CLI = fileURLToPath(new URL("../src/cli/index.ts", import.meta.url));
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function metricOf(text: string, name: string): number | undefined {
  for (const line of text.split("\n"))
    if (line.startsWith(name + " ")) return Number(line.slice(name.length + 1));
  return undefined;
}

// --- the stack -------------------------------------------------------------------------------------------

const info = runInfo();
const nats = await NatsServerProcess.start({ jetstream: true });
// The feed-history stream as `tickwire history create` makes it (in memory here).
await createHistoryStream([nats.url], {
  name: "TICKWIRE_LAST",
  subjectPrefix: "md",
  storage: "memory",
  replicas: 1,
  maxBytes: 256 * 1024 * 1024,
});
const publisher = await FeedPublisher.connect(nats.url, "soak-feed");
const now = (): number => Date.now() * 1000;
const quote = (bp: number): Uint8Array =>
  encodeFeedPayload({ te: now(), bp, bz: 100, ap: bp + 0.01, az: 200 });
// Stored in the history before the gateway exists: only the history has them.
for (let i = 0; i < opts.historySubjects; i++) publisher.publish(`md.hist.S${i}.quote`, quote(i));
await publisher.flush();

const port = await freePort();
const gateway = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    CLI,
    "serve",
    "--port",
    String(port),
    "--nats",
    nats.url,
    "--log-level",
    "warn",
    "--max-connections",
    String(opts.maxConnections),
    // One gateway process (not a supervisor with a worker per core): its RSS and event-loop lag are what
    // /metrics reports, and --max-connections is the cap of that one process.
    "--workers",
    "1",
    "--slow-close-ms",
    "2000",
    "--max-topics",
    String(opts.maxTopics),
  ],
  { stdio: ["ignore", "ignore", "inherit"] },
);
const httpUrl = `http://127.0.0.1:${port}`;
const wsUrl = `ws://127.0.0.1:${port}/v1/stream`;
for (let i = 0; ; i++) {
  if (i > 300) throw new Error("the gateway did not become ready in 30 s");
  const ready = await fetch(`${httpUrl}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) break;
  await sleep(100);
}

function wsClient(onMessage?: (value: unknown) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, [], { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.on("error", () => undefined);
    if (onMessage !== undefined) ws.on("message", (data: Buffer) => onMessage(unpackr.unpack(data)));
  });
}
const subscribe = (ws: WebSocket, params: Record<string, unknown>): void =>
  ws.send(JSON.stringify({ method: "subscribe", id: 1, params }));

// Fill the cache: one client holds `cache.>` while its topics are published once each.
const holder = await wsClient();
subscribe(holder, { topics: ["cache.>"], snapshot: false });
await sleep(500);
for (let i = 0; i < opts.cachedTopics; i++) publisher.publish(`md.cache.T${i}.quote`, quote(i));
await publisher.flush();

// --- honest clients ---------------------------------------------------------------------------------------

interface Honest {
  readonly ws: WebSocket;
  readonly latenciesMs: number[];
  lastQ: number;
  gaps: number;
  received: number;
}
const honest: Honest[] = [];
for (let i = 0; i < opts.honestClients; i++) {
  const h: Honest = {
    ws: undefined as unknown as WebSocket,
    latenciesMs: [],
    lastQ: -1,
    gaps: 0,
    received: 0,
  };
  const ws = await wsClient((value) => {
    for (const m of (Array.isArray(value) ? value : [value]) as Record<string, unknown>[]) {
      if (m["e"] !== "trade") continue;
      const q = m["q"] as number;
      if (h.lastQ >= 0 && q !== h.lastQ + 1) h.gaps++;
      h.lastQ = q;
      h.received++;
      h.latenciesMs.push((now() - (m["te"] as number)) / 1000);
    }
  });
  (h as { ws: WebSocket }).ws = ws;
  subscribe(ws, { topics: [`honest.H${i}.trade`], snapshot: false });
  honest.push(h);
}
await sleep(500);
let tradeSeq = 0;
const feed = setInterval(
  () => {
    for (let i = 0; i < opts.honestClients; i++) {
      publisher.publish(
        `md.honest.H${i}.trade`,
        encodeFeedPayload({ te: now(), p: 100 + (tradeSeq % 50), z: 1 }),
      );
    }
    tradeSeq++;
  },
  Math.max(1, Math.round(1000 / opts.honestRatePerSec)),
);
// Background load on a wildcard the paused readers hold.
const busy = setInterval(() => {
  for (let i = 0; i < 20; i++) publisher.publish(`md.busy.B${i}.quote`, quote(i));
}, 10);

// --- attackers --------------------------------------------------------------------------------------------

let attacking = true;
const attacks: Record<string, number> = {};
const count = (name: string): void => void (attacks[name] = (attacks[name] ?? 0) + 1);

async function loop(name: string, everyMs: number, once: () => Promise<void>): Promise<void> {
  while (attacking) {
    count(name);
    await once().catch(() => undefined);
    await sleep(everyMs);
  }
}

function pipelineMetrics(): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = tcpConnect(port, "127.0.0.1", () => {
      socket.write(`GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(opts.metricsPipeline));
    });
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => resolve());
    setTimeout(() => socket.destroy(), 3000);
  });
}

async function shortLived(params: Record<string, unknown>, lifeMs: number): Promise<void> {
  const ws = await wsClient();
  subscribe(ws, params);
  await sleep(lifeMs);
  ws.terminate();
}

function pausedReader(): Promise<void> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1", () => {
      socket.write(
        `GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const payload = Buffer.from(
        JSON.stringify({ method: "subscribe", id: 1, params: { topics: ["busy.>"] } }),
      );
      const mask = randomBytes(4);
      const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
      setTimeout(() => {
        socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
        socket.pause();
      }, 100);
    });
    socket.on("error", () => undefined);
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, 5000);
  });
}

async function upgradeFlood(): Promise<void> {
  const opened = await Promise.allSettled(Array.from({ length: 50 }, () => wsClient()));
  await sleep(200);
  for (const o of opened) if (o.status === "fulfilled") o.value.terminate();
}

let newSubject = 0;
const newSubjects =
  opts.newSubjectsPerSec > 0
    ? setInterval(() => {
        for (let i = 0; i < opts.newSubjectsPerSec / 10; i++)
          publisher.publish(`md.new.N${newSubject++}.quote`, quote(1));
      }, 100)
    : undefined;
if (newSubjects !== undefined) subscribe(holder, { topics: ["new.>"], snapshot: false });

// --- sampling ---------------------------------------------------------------------------------------------

interface Sample {
  readonly tS: number;
  readonly phase: "attack" | "cooldown";
  readonly rssMb: number | undefined;
  readonly lagP99Ms: number | undefined;
  readonly topics: number | undefined;
  readonly evictedCovered: number | undefined;
  readonly connections: number | undefined;
}
const samples: Sample[] = [];
const started = performance.now();
let phase: Sample["phase"] = "attack";
const sampler = setInterval(() => {
  const tS = Math.round((performance.now() - started) / 1000);
  const at = phase;
  fetch(`${httpUrl}/metrics`)
    .then((r) => (r.ok ? r.text() : ""))
    .then(
      (text) => {
        const rss = metricOf(text, "process_resident_memory_bytes");
        const lag = metricOf(text, "nodejs_eventloop_lag_p99_seconds");
        samples.push({
          tS,
          phase: at,
          rssMb: rss === undefined ? undefined : Math.round(rss / 1e6),
          lagP99Ms: lag === undefined ? undefined : Math.round(lag * 1e4) / 10,
          topics: metricOf(text, "tickwire_topics"),
          evictedCovered: metricOf(text, "tickwire_topics_evicted_covered_total"),
          connections: metricOf(text, "tickwire_connections"),
        });
      },
      () => undefined,
    );
}, 1000);

const loops = [
  loop("metrics-flood", 200, pipelineMetrics),
  loop("churn-maxhz", 20, () => shortLived({ topics: ["busy.*.quote"], maxHz: 0.01 }, 100)),
  loop("snapshot-storm", 500, () => shortLived({ topics: [">"] }, 1000)),
  loop("history-storm", 250, () => shortLived({ topics: ["hist.>", "hist.*.quote"] }, 1000)),
  loop("paused-readers", 1000, pausedReader),
  loop("upgrade-flood", 2000, upgradeFlood),
];
const honestMark = honest.map((h) => h.latenciesMs.length);
await sleep(opts.durationS * 1000);
attacking = false;
await Promise.all(loops);
if (newSubjects !== undefined) clearInterval(newSubjects);
phase = "cooldown";
const cooldownMark = honest.map((h) => h.latenciesMs.length);
await sleep(opts.cooldownS * 1000);

clearInterval(sampler);
clearInterval(feed);
clearInterval(busy);
await sleep(300);
for (const h of honest) h.ws.terminate();
holder.terminate();
gateway.kill("SIGTERM");
await new Promise((resolve) => gateway.once("exit", resolve));
await publisher.close();
await nats.dispose();

// --- results ----------------------------------------------------------------------------------------------

const attackLat = honest
  .flatMap((h, i) => h.latenciesMs.slice(honestMark[i], cooldownMark[i]))
  .sort((a, b) => a - b);
const coolLat = honest.flatMap((h, i) => h.latenciesMs.slice(cooldownMark[i])).sort((a, b) => a - b);
const of = (p: Sample["phase"]) => samples.filter((s) => s.phase === p);
const rss = (p: Sample["phase"]) => of(p).flatMap((s) => (s.rssMb === undefined ? [] : [s.rssMb]));
const lags = (p: Sample["phase"]) =>
  of(p)
    .flatMap((s) => (s.lagP99Ms === undefined ? [] : [s.lagP99Ms]))
    .sort((a, b) => a - b);
const summary = {
  honestReceived: honest.reduce((n, h) => n + h.received, 0),
  honestGaps: honest.reduce((n, h) => n + h.gaps, 0),
  attack: {
    latencyP50Ms: percentile(attackLat, 0.5),
    latencyP99Ms: percentile(attackLat, 0.99),
    latencyMaxMs: attackLat.at(-1) ?? 0,
    lagP99MsMedian: percentile(lags("attack"), 0.5),
    lagP99MsMax: lags("attack").at(-1) ?? 0,
    rssMbMax: Math.max(0, ...rss("attack")),
    rssMbEnd: rss("attack").at(-1) ?? 0,
    topicsMax: Math.max(0, ...of("attack").map((s) => s.topics ?? 0)),
    newSubjectsPublished: newSubject,
    topicsEvictedCovered: Math.max(0, ...samples.map((s) => s.evictedCovered ?? 0)),
    scrapesAnswered: of("attack").length,
  },
  cooldown: {
    latencyP50Ms: percentile(coolLat, 0.5),
    latencyP99Ms: percentile(coolLat, 0.99),
    rssMbStart: rss("cooldown")[0] ?? 0,
    rssMbEnd: rss("cooldown").at(-1) ?? 0,
    lagP99MsMax: lags("cooldown").at(-1) ?? 0,
  },
  attacks,
};
const parameters = { ...opts };
const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  "",
  `${opts.durationS} s of attacks (${Object.entries(attacks)
    .map(([k, n]) => `${k} ×${int(n)}`)
    .join(
      ", ",
    )}), then ${opts.cooldownS} s without. Honest clients: ${opts.honestClients} × ${opts.honestRatePerSec} trades/s; received ${int(summary.honestReceived)}, gaps ${summary.honestGaps}. New subjects under a held wildcard: ${int(summary.attack.newSubjectsPublished)} published, --max-topics ${int(opts.maxTopics)}, the gateway's topics at most ${int(summary.attack.topicsMax)}, ${int(summary.attack.topicsEvictedCovered)} evictions of topics only a wildcard covered (a topic can be evicted again after its next update re-creates it)`,
  "",
  table(
    [
      "phase",
      "honest latency p50 / p99 / max (ms)",
      "event-loop lag p99 (ms): median / max of 1-s samples",
      "RSS (MB)",
    ],
    [
      [
        "attack",
        `${summary.attack.latencyP50Ms.toFixed(1)} / ${summary.attack.latencyP99Ms.toFixed(1)} / ${summary.attack.latencyMaxMs.toFixed(1)}`,
        `${summary.attack.lagP99MsMedian} / ${summary.attack.lagP99MsMax}`,
        `max ${summary.attack.rssMbMax}, end ${summary.attack.rssMbEnd}`,
      ],
      [
        "cooldown",
        `${summary.cooldown.latencyP50Ms.toFixed(1)} / ${summary.cooldown.latencyP99Ms.toFixed(1)} / —`,
        `— / ${summary.cooldown.lagP99MsMax}`,
        `${summary.cooldown.rssMbStart} → ${summary.cooldown.rssMbEnd}`,
      ],
    ],
  ),
  "",
].join("\n");
const files = writeResults(
  opts.resultsDir,
  "soak",
  "Soak: hostile traffic beside honest clients",
  { info, parameters, summary, samples, smoke: opts.smoke },
  markdown,
);
console.log(markdown);
console.log(`results: ${files.markdown} and ${files.json}`);
if (summary.honestReceived === 0) {
  console.error("soak: the honest clients received nothing; the benchmark is broken");
  process.exitCode = 1;
}
