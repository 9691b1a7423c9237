/**
 * Slow clients (issues 3 and 12): the fan-out ceiling workload with a share of the clients reading at a
 * throttled rate. Three scenarios on the same 1000 connections and subscriptions, order rotating each
 * round:
 *
 *   no-probes  every client reads as fast as it can; the gateway runs no lag probes (--probe-interval-ms 0)
 *   all-fast   every client reads as fast as it can; lag probes at the default period
 *   slow       the last 5% of the clients read at most --slow-read-bytes-per-sec each (probes on)
 *
 * Counted at the clients that read at full speed in both scenarios (the first 95%): their delivered
 * events/s with slow clients must stay ≥ 0.9× of the all-fast run (target), and the server's RSS must
 * stay flat while the slow clients fall behind: they are conflated (latest value per topic), never
 * buffered without bound. Staleness (issue 12): the age of the newest price each slow reader has seen,
 * sampled every 100 ms over the counted window (p50, max). Probe cost: every client's delivered
 * events/s, all-fast ÷ no-probes (target ≥ 0.97).
 *
 *   cd bench && node --import tsx slow-clients.ts [--rounds 3] [--slow-share 0.05] [--smoke]
 */
import { setTimeout as sleep } from "node:timers/promises";
import { loadUws } from "../src/gateway/index.ts";
import { parseOptions, ratioVerdict } from "./lib/args.ts";
import { ClientFleet, sourceAddressesFor, type FleetTarget } from "./lib/client-fleet.ts";
import { TickwirePublisher } from "./lib/publisher.ts";
import { HOST, STREAM_PATH, defaultConfig, startTickwire, topicNames } from "./lib/servers.ts";
import { infoMarkdown, int, median, runInfo, table, writeResults } from "./lib/run-info.ts";

const SCENARIOS = ["no-probes", "all-fast", "slow"] as const;
type Scenario = (typeof SCENARIOS)[number];
const TARGET_RATIO = 0.9;
/** Probes may cost at most 3% of the delivered events/s (issue 12). */
const PROBE_TARGET_RATIO = 0.97;

const opts = parseOptions(
  "slow-clients: fast clients' delivered events/s with 5% slow readers vs none, and server RSS",
  {
    clients: 1000,
    topics: 100,
    topicsPerClient: 10,
    publishesPerTurn: 200,
    slowShare: 0.05,
    slowReadBytesPerSec: 20_000,
    slowCloseMs: 120_000,
    warmupS: 40,
    durationS: 10,
    rounds: 3,
  },
  { clients: 60, warmupS: 0.5, durationS: 1, rounds: 1 },
  {
    clients: { help: "WebSocket clients in all" },
    topics: { help: "topics published round-robin" },
    topicsPerClient: { help: "topics each client subscribes to" },
    publishesPerTurn: { help: "publishes per event-loop turn (one setImmediate)" },
    slowShare: { help: "share of the clients that read slowly in the slow scenario" },
    slowReadBytesPerSec: { help: "bytes per second a slow client reads at most" },
    slowCloseMs: {
      help:
        "the gateway's --slow-close-ms: long, so the slow clients stay connected and conflated through the " +
        "window (with the default 10 s a reader this far behind its kernel buffers is closed with 4007)",
    },
    warmupS: { help: "seconds of publishing before counting (the slow clients' kernel buffers fill first)" },
    durationS: { help: "seconds counted" },
    rounds: { help: "rounds; each runs both scenarios, order alternating" },
  },
);

interface ScenarioRun {
  readonly scenario: Scenario;
  readonly round: number;
  /** Events/s received by the clients that read at full speed in both scenarios. */
  readonly fastDeliveredPerSec: number;
  /** Events/s received by the (possibly throttled) remaining clients. */
  readonly slowDeliveredPerSec: number;
  /** Events/s received by every client. */
  readonly allDeliveredPerSec: number;
  /** Slow scenario: age of the newest price a slow reader had seen over the window, ms (-1 otherwise). */
  readonly staleP50Ms: number;
  readonly staleMaxMs: number;
  /** Conflation episodes started for lag (from the start of the scenario). */
  readonly lagEpisodes: number;
  readonly publishedPerSec: number;
  /** Server RSS at the start and end of the counted window, and its maximum in it (MB). */
  readonly rssStartMb: number;
  readonly rssEndMb: number;
  readonly rssMaxMb: number;
  /** Connections conflated at the end of the window. */
  readonly slowConnections: number;
  /** Updates merged away for slow consumers in the window. */
  readonly conflatedInWindow: number;
  readonly slowEpisodes: number;
  readonly slowCloses: number;
  readonly bufferedMb: number;
}

const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;

async function runScenario(scenario: Scenario, round: number): Promise<ScenarioRun> {
  const uws = loadUws();
  const base = defaultConfig();
  const config = {
    ...base,
    fanout: {
      ...base.fanout,
      slowCloseMs: opts.slowCloseMs,
      ...(scenario === "no-probes" ? { probeIntervalMs: 0 } : {}),
    },
  };
  const names = topicNames(opts.topics);
  const server = await startTickwire(uws, config);
  const hub = server.hub;
  const publisher = new TickwirePublisher(hub, names, opts.publishesPerTurn);
  const slowCount = Math.max(1, Math.round(opts.clients * opts.slowShare));
  const fastCount = opts.clients - slowCount;
  const fast = ClientFleet.spawn(1);
  const slow = ClientFleet.spawn(1);
  const target: FleetTarget = {
    host: HOST,
    port: server.port,
    path: STREAM_PATH,
    topicNames: names,
    topicsPerClient: opts.topicsPerClient,
    sourceAddresses: sourceAddressesFor(opts.clients),
    concurrency: 256,
  };
  try {
    await fast.connect(target, 0, fastCount, 120_000);
    await slow.connect(
      {
        ...target,
        readBytesPerSec: scenario === "slow" ? opts.slowReadBytesPerSec : 0,
        trackStaleness: scenario === "slow",
      },
      fastCount,
      slowCount,
      120_000,
    );
    publisher.start();
    await sleep(opts.warmupS * 1000);
    const f0 = await fast.mark();
    const s0 = await slow.mark();
    const published0 = publisher.published;
    const conflated0 = hub.stats.conflatedSlow;
    const t0 = performance.now();
    const rss: number[] = [process.memoryUsage().rss];
    for (let waited = 0; waited < opts.durationS * 1000; waited += 500) {
      await sleep(500);
      rss.push(process.memoryUsage().rss);
    }
    const f1 = await fast.mark();
    const s1 = await slow.mark();
    const seconds = (performance.now() - t0) / 1000;
    const run: ScenarioRun = {
      scenario,
      round,
      fastDeliveredPerSec: Math.round((f1.events - f0.events) / ((f1.atMs - f0.atMs) / 1000)),
      slowDeliveredPerSec: Math.round((s1.events - s0.events) / ((s1.atMs - s0.atMs) / 1000)),
      allDeliveredPerSec:
        Math.round((f1.events - f0.events) / ((f1.atMs - f0.atMs) / 1000)) +
        Math.round((s1.events - s0.events) / ((s1.atMs - s0.atMs) / 1000)),
      staleP50Ms: s1.staleP50Ms,
      staleMaxMs: s1.staleMaxMs,
      lagEpisodes: hub.stats.lagEpisodes,
      publishedPerSec: Math.round((publisher.published - published0) / seconds),
      rssStartMb: mb(rss[0]!),
      rssEndMb: mb(rss.at(-1)!),
      rssMaxMb: mb(Math.max(...rss)),
      slowConnections: hub.slowConnectionCount,
      conflatedInWindow: hub.stats.conflatedSlow - conflated0,
      slowEpisodes: hub.stats.slowEpisodes,
      slowCloses: hub.stats.connectionsClosed.get("slow_consumer") ?? 0,
      bufferedMb: mb(hub.bufferedBytes()),
    };
    publisher.stop();
    await Promise.all([fast.close(), slow.close()]);
    return run;
  } catch (error) {
    publisher.stop();
    fast.kill();
    slow.kill();
    throw error;
  } finally {
    await server.close();
  }
}

const info = runInfo();
const parameters = {
  clients: opts.clients,
  topics: opts.topics,
  topicsPerClient: opts.topicsPerClient,
  publishesPerTurn: opts.publishesPerTurn,
  slowShare: opts.slowShare,
  slowReadBytesPerSec: opts.slowReadBytesPerSec,
  warmupS: opts.warmupS,
  durationS: opts.durationS,
  rounds: opts.rounds,
  limits: (({ fanout, gateway }) => ({
    slowSoftBytes: fanout.slowSoftBytes,
    slowHardBytes: fanout.slowHardBytes,
    slowCloseMs: opts.slowCloseMs,
    maxBackpressureBytes: gateway.maxBackpressureBytes,
    maxLagMs: fanout.maxLagMs,
    probeIntervalMs: fanout.probeIntervalMs,
  }))(defaultConfig()),
};
console.log(`slow-clients: ${JSON.stringify(parameters)}`);

const runs: ScenarioRun[] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const shift = (round - 1) % SCENARIOS.length;
  const order = [...SCENARIOS.slice(shift), ...SCENARIOS.slice(0, shift)];
  for (const scenario of order) {
    const run = await runScenario(scenario, round);
    runs.push(run);
    console.log(
      `round ${round} ${scenario.padEnd(8)} fast clients ${int(run.fastDeliveredPerSec).padStart(10)} events/s, ` +
        `other clients ${int(run.slowDeliveredPerSec)} events/s; RSS ${run.rssStartMb} → ${run.rssEndMb} MB ` +
        `(max ${run.rssMaxMb}); conflated ${int(run.conflatedInWindow)}, slow now ${run.slowConnections}, ` +
        `closes ${run.slowCloses}, buffered ${run.bufferedMb} MB; all clients ${int(run.allDeliveredPerSec)} events/s` +
        (run.scenario === "slow"
          ? `; newest price a slow reader saw: p50 ${run.staleP50Ms} ms, max ${run.staleMaxMs} ms; lag episodes ${run.lagEpisodes}`
          : ""),
    );
  }
}

const medianOf = (scenario: Scenario): number =>
  median(runs.filter((r) => r.scenario === scenario).map((r) => r.fastDeliveredPerSec));
const baseline = medianOf("all-fast");
const withSlow = medianOf("slow");
const ratio = baseline > 0 ? Math.round((withSlow / baseline) * 1000) / 1000 : null;
const roundRatios: number[] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const a = runs.find((r) => r.round === round && r.scenario === "all-fast");
  const s = runs.find((r) => r.round === round && r.scenario === "slow");
  if (a !== undefined && s !== undefined && a.fastDeliveredPerSec > 0)
    roundRatios.push(Math.round((s.fastDeliveredPerSec / a.fastDeliveredPerSec) * 1000) / 1000);
}
const slowRuns = runs.filter((r) => r.scenario === "slow");
const allMedian = (scenario: Scenario): number =>
  median(runs.filter((r) => r.scenario === scenario).map((r) => r.allDeliveredPerSec));
const noProbes = allMedian("no-probes");
const withProbes = allMedian("all-fast");
const probeRatio = noProbes > 0 ? Math.round((withProbes / noProbes) * 1000) / 1000 : null;
const probeRoundRatios: number[] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const off = runs.find((r) => r.round === round && r.scenario === "no-probes");
  const on = runs.find((r) => r.round === round && r.scenario === "all-fast");
  if (off !== undefined && on !== undefined && off.allDeliveredPerSec > 0)
    probeRoundRatios.push(Math.round((on.allDeliveredPerSec / off.allDeliveredPerSec) * 1000) / 1000);
}
const probeVerdict = ratioVerdict(opts.smoke, probeRatio, PROBE_TARGET_RATIO);
const staleP50Ms = median(slowRuns.map((r) => r.staleP50Ms));
const staleMaxMs = Math.max(...slowRuns.map((r) => r.staleMaxMs));
const rssGrowthMb = Math.max(...slowRuns.map((r) => Math.round((r.rssEndMb - r.rssStartMb) * 10) / 10));
const verdict = ratioVerdict(opts.smoke, ratio, TARGET_RATIO);
console.log(
  `fast clients: all-fast median ${int(baseline)}/s, with slow clients ${int(withSlow)}/s: ratio ${ratio} ` +
    `(per round ${roundRatios.join(", ")}), target ${verdict}; largest RSS change over a slow window ${rssGrowthMb} MB`,
);
console.log(
  `probe cost: all clients no-probes median ${int(noProbes)}/s, with probes ${int(withProbes)}/s: ratio ${probeRatio} ` +
    `(per round ${probeRoundRatios.join(", ")}), target ${probeVerdict}; newest price a slow reader saw: ` +
    `p50 ${staleP50Ms} ms (median over rounds), max ${staleMaxMs} ms`,
);

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: ${opts.clients} clients × ${opts.topicsPerClient} of ${opts.topics} topics, ` +
    `${opts.publishesPerTurn} publishes per turn; slow scenario: the last ${Math.round(opts.slowShare * 100)}% of the ` +
    `clients read at most ${int(opts.slowReadBytesPerSec)} B/s each; ${opts.warmupS} s warm-up + ${opts.durationS} s ` +
    `counted, ${opts.rounds} round(s); limits ${JSON.stringify(parameters.limits)}`,
  "",
  `Fast clients' delivered events/s, slow ÷ all-fast: **${ratio}** (per round: ${roundRatios.join(", ")}); ` +
    `target ${TARGET_RATIO}×: **${verdict}**. Largest server RSS change across a counted window with slow ` +
    `clients: ${rssGrowthMb} MB.`,
  "",
  `Staleness (issue 12): the newest price a slow reader had seen was p50 **${staleP50Ms} ms** old (median over ` +
    `rounds), max **${staleMaxMs} ms**. Probe cost: every client's delivered events/s, probes on ÷ off: ` +
    `**${probeRatio}** (per round: ${probeRoundRatios.join(", ")}); target ${PROBE_TARGET_RATIO}×: **${probeVerdict}**.`,
  "",
  table(
    [
      "round",
      "scenario",
      "fast clients events/s",
      "other clients events/s",
      "published/s",
      "RSS start → end (max) MB",
      "conflated in window",
      "slow at end",
      "slow closes",
      "buffered MB at end",
      "all clients events/s",
      "slow reader staleness p50 / max ms",
    ],
    runs.map((r) => [
      r.round,
      r.scenario,
      int(r.fastDeliveredPerSec),
      int(r.slowDeliveredPerSec),
      int(r.publishedPerSec),
      `${r.rssStartMb} → ${r.rssEndMb} (${r.rssMaxMb})`,
      int(r.conflatedInWindow),
      r.slowConnections,
      r.slowCloses,
      r.bufferedMb,
      int(r.allDeliveredPerSec),
      r.scenario === "slow" ? `${r.staleP50Ms} / ${r.staleMaxMs}` : "",
    ]),
  ),
]
  .join("\n")
  .replace(/\n{3,}/g, "\n\n");

const files = writeResults(
  opts.resultsDir,
  "slow-clients",
  "Slow clients: fast clients' throughput and server RSS with 5% slow readers",
  {
    info,
    parameters,
    baseline,
    withSlow,
    ratio,
    roundRatios,
    rssGrowthMb,
    target: TARGET_RATIO,
    noProbes,
    withProbes,
    probeRatio,
    probeRoundRatios,
    probeTarget: PROBE_TARGET_RATIO,
    staleP50Ms,
    staleMaxMs,
    smoke: opts.smoke,
    runs,
  },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);
if (runs.some((r) => r.fastDeliveredPerSec <= 0)) {
  console.error("slow-clients: fast clients received nothing; the benchmark is broken");
  process.exitCode = 1;
}
