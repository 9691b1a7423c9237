/**
 * tickwire side by side with what a team would pick instead (issue 4): the same load harness
 * (loadtest/: the same worker processes of `ws` clients, the same NATS feed stamped with its publish
 * time, the same accounting) against each target in turn, in one run on one machine:
 *
 *   tickwire   the real gateway (`tickwire serve --nats …`, its own process)
 *   raw-uws    uWebSockets.js `app.publish`: the ceiling            (lib/competitor-server.ts)
 *   nats-ws    nats-server's WebSocket listener, clients speak NATS (lib/adapters/nats-ws-adapter.ts)
 *   ws         the `ws` library, one send per subscriber            (lib/competitor-server.ts)
 *   socketio   socket.io rooms                                      (lib/competitor-server.ts)
 *
 * Each run gets a fresh nats-server (config file; WebSocket listener for nats-ws) and a fresh server
 * process; the feed publishes at a rate above what any target can deliver, so delivered events/s is
 * each target's maximum. Variants alternate order over rounds; the summary takes medians.
 * Targets (issue 4): tickwire ≥ 0.9× raw uWS, ≥ 1.7× nats-server WebSocket, ≥ 15× ws.
 *
 *   cd bench && node --import tsx side-by-side.ts [--rounds 3] [--variants tickwire,raw-uws] [--smoke]
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { LocalTarget, runLoadTest, validateOptions, type LoadTestResult } from "../loadtest/index.ts";
import { parseOptions, SMOKE_VERDICT } from "./lib/args.ts";
import { withTimeout } from "./lib/client-fleet.ts";
import type { CompetitorVariant, FromCompetitor } from "./lib/competitor-server.ts";
import { BenchNatsServer } from "./lib/nats-server-ws.ts";
import { childExecArgv, infoMarkdown, int, median, runInfo, table, writeResults } from "./lib/run-info.ts";

const VARIANTS = ["tickwire", "raw-uws", "nats-ws", "ws", "socketio"] as const;
type Variant = (typeof VARIANTS)[number];
const LABEL: Record<Variant, string> = {
  tickwire: "tickwire",
  "raw-uws": "raw uWS app.publish (ceiling)",
  "nats-ws": "nats-server WebSocket (NATS protocol)",
  ws: "ws library fan-out",
  socketio: "socket.io rooms",
};
/** tickwire ÷ variant, at least (issue 4). */
const TARGETS: Partial<Record<Variant, number>> = { "raw-uws": 0.9, "nats-ws": 1.7, ws: 15 };
const COMPETITOR = fileURLToPath(new URL("./lib/competitor-server.ts", import.meta.url));
const ADAPTERS: Partial<Record<Variant, string>> = {
  "nats-ws": fileURLToPath(new URL("./lib/adapters/nats-ws-adapter.ts", import.meta.url)),
  socketio: fileURLToPath(new URL("./lib/adapters/socketio-adapter.ts", import.meta.url)),
};

const opts = parseOptions(
  "side-by-side: delivered events/s of tickwire vs raw uWS, nats-server WebSocket, ws, socket.io under one load harness",
  {
    clients: 1000,
    topics: 100,
    topicsPerClient: 10,
    rate: 30_000,
    warmupS: 2,
    durationS: 8,
    rounds: 3,
    workers: 2,
    variants: VARIANTS.join(","),
  },
  { clients: 50, rate: 500, warmupS: 0.5, durationS: 1, rounds: 1, workers: 1 },
  {
    clients: { help: "WebSocket clients" },
    topics: { help: "topics published round-robin" },
    topicsPerClient: { help: "topics each client subscribes to" },
    rate: {
      help: "feed messages per second (above every target's capacity: delivered/s is then the maximum)",
    },
    warmupS: { help: "seconds of publishing before counting" },
    durationS: { help: "seconds counted" },
    rounds: { help: "rounds; each runs every variant, order alternating" },
    workers: { help: "client worker processes" },
    variants: { help: `comma-separated, of ${VARIANTS.join(", ")}` },
  },
);
const variants = opts.variants.split(",").map((v) => v.trim()) as Variant[];
for (const v of variants) {
  if (!VARIANTS.includes(v))
    throw new Error(`--variants: unknown variant "${v}" (known: ${VARIANTS.join(", ")})`);
}

interface Server {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startCompetitor(variant: CompetitorVariant, natsUrl: string): Promise<Server> {
  const child = fork(COMPETITOR, [variant, natsUrl], {
    execArgv: childExecArgv(),
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        child.once("message", (m: FromCompetitor) =>
          m.type === "listening" ? resolve(m.port) : reject(new Error(m.message)),
        );
        child.once("exit", (code) => reject(new Error(`${variant} server exited (code ${code})`)));
      }),
      20_000,
      `${variant} server did not start`,
    );
    return {
      url: `ws://127.0.0.1:${port}/v1/stream`,
      pid: child.pid ?? 0,
      stop: async () => {
        if (child.connected) child.disconnect();
        await withTimeout(exited, 10_000, `${variant} server did not exit`).catch(() =>
          child.kill("SIGKILL"),
        );
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

interface VariantRun {
  readonly variant: Variant;
  readonly round: number;
  readonly deliveredPerS: number;
  readonly publishedPerS: number;
  readonly lossPct: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly serverCpuPct: number | null;
  readonly clientCpuPct: number;
  readonly eventsPerFrame: number;
  readonly meanEventBytes: number;
  readonly subscribed: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly closes: Readonly<Record<string, number>>;
}

async function runVariant(variant: Variant, round: number): Promise<VariantRun> {
  const nats = await BenchNatsServer.start(variant === "nats-ws");
  let server: Server | undefined;
  try {
    if (variant === "tickwire") {
      const target = await LocalTarget.start([], nats.url);
      server = { url: target.url, pid: target.pid, stop: () => target.stop() };
    } else if (variant === "nats-ws") {
      server = { url: `ws://127.0.0.1:${nats.wsPort}`, pid: nats.pid, stop: () => Promise.resolve() };
    } else {
      server = await startCompetitor(variant, nats.url);
    }
    const options = validateOptions({
      url: server.url,
      nats: nats.url,
      natsMonitorUrl: variant === "tickwire" ? nats.monitorUrl : "",
      adapter: ADAPTERS[variant] ?? "tickwire",
      serverPid: server.pid,
      clients: opts.clients,
      workers: opts.workers,
      symbols: opts.topics,
      topicsPerClient: opts.topicsPerClient,
      snapshot: false,
      rate: opts.rate,
      warmupS: opts.warmupS,
      durationS: opts.durationS,
      drainS: 3,
      rampS: 1,
      reconnect: false,
      progress: "off",
      outDir: "",
    });
    const r: LoadTestResult = await runLoadTest(options);
    return {
      variant,
      round,
      deliveredPerS: r.delivery.deliveredPerS,
      publishedPerS: r.feed.publishedPerS,
      lossPct:
        r.delivery.expected > 0
          ? Math.round((1 - r.delivery.delivered / r.delivery.expected) * 1e4) / 100
          : 0,
      p50Us: r.latencyUs.p50Us,
      p99Us: r.latencyUs.p99Us,
      serverCpuPct: r.server?.cpuPct ?? null,
      clientCpuPct: r.clients.clientCpuPct,
      eventsPerFrame: r.delivery.eventsPerFrame,
      meanEventBytes: r.delivery.meanEventBytes,
      subscribed: r.clients.subscribed,
      errors: r.errorsByCode,
      closes: r.closesByCode,
    };
  } finally {
    await server?.stop();
    await nats.stop();
  }
}

const info = runInfo();
const parameters = { ...opts, resultsDir: undefined, variants };
console.log(`side-by-side: ${JSON.stringify(parameters)}`);
const runs: VariantRun[] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const order = round % 2 === 1 ? variants : [...variants].reverse();
  for (const variant of order) {
    const run = await runVariant(variant, round);
    runs.push(run);
    console.log(
      `round ${round} ${variant.padEnd(8)} delivered ${int(run.deliveredPerS).padStart(10)} events/s` +
        `  (published ${int(run.publishedPerS)}/s, loss ${run.lossPct}%, p50 ${int(run.p50Us)} µs, p99 ${int(run.p99Us)} µs,` +
        ` server CPU ${run.serverCpuPct ?? "?"}%, clients CPU ${run.clientCpuPct}%, ${run.eventsPerFrame} events/frame,` +
        ` ${run.subscribed} subscribed, errors ${JSON.stringify(run.errors)}, closes ${JSON.stringify(run.closes)})`,
    );
  }
}

const summary = variants.map((variant) => {
  const mine = runs.filter((r) => r.variant === variant);
  return {
    variant,
    medianDeliveredPerS: median(mine.map((r) => r.deliveredPerS)),
    minDeliveredPerS: Math.min(...mine.map((r) => r.deliveredPerS)),
    maxDeliveredPerS: Math.max(...mine.map((r) => r.deliveredPerS)),
    medianServerCpuPct: median(mine.map((r) => r.serverCpuPct ?? 0)),
    medianClientCpuPct: median(mine.map((r) => r.clientCpuPct)),
    eventsPerFrame: median(mine.map((r) => r.eventsPerFrame)),
  };
});
const tw = summary.find((s) => s.variant === "tickwire")?.medianDeliveredPerS;
/** tickwire ÷ variant, from medians and per round (same conditions, back to back). */
const ratios = summary
  .filter((s) => s.variant !== "tickwire" && tw !== undefined && s.medianDeliveredPerS > 0)
  .map((s) => {
    const perRound: number[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const a = runs.find((r) => r.round === round && r.variant === "tickwire");
      const b = runs.find((r) => r.round === round && r.variant === s.variant);
      if (a !== undefined && b !== undefined && b.deliveredPerS > 0)
        perRound.push(Math.round((a.deliveredPerS / b.deliveredPerS) * 1000) / 1000);
    }
    const ratio = (tw as number) / s.medianDeliveredPerS;
    const target = TARGETS[s.variant];
    // A target that delivered (nearly) everything offered was not saturated: its rate is not its maximum.
    const lossOf = (v: Variant): number => median(runs.filter((r) => r.variant === v).map((r) => r.lossPct));
    const bothUnsaturated = lossOf("tickwire") < 1 && lossOf(s.variant) < 1;
    const verdict = opts.smoke
      ? SMOKE_VERDICT
      : target === undefined
        ? "(no target)"
        : bothUnsaturated
          ? `inconclusive: both delivered everything offered (raise --rate; the clients may be the limit)`
          : ratio >= target
            ? `met (≥ ${target}×)${lossOf("tickwire") < 1 ? "; tickwire not saturated, so a lower bound" : ""}`
            : `MISSED (< ${target}×)${lossOf("tickwire") < 1 ? "; tickwire not saturated, so a lower bound" : ""}`;
    return {
      variant: s.variant,
      ratio: Math.round(ratio * 1000) / 1000,
      perRound,
      target: target ?? null,
      verdict,
    };
  });
for (const r of ratios)
  console.log(`tickwire / ${r.variant} = ${r.ratio} (per round ${r.perRound.join(", ")}) ${r.verdict}`);

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- workload: ${opts.clients} clients × ${opts.topicsPerClient} of ${opts.topics} topics ` +
    `(${(opts.clients * opts.topicsPerClient) / opts.topics} subscribers per topic), NATS feed offered at ${int(opts.rate)} messages/s ` +
    `(${int((opts.rate * opts.clients * opts.topicsPerClient) / opts.topics)} events/s if all were delivered), ` +
    `${opts.warmupS} s warm-up + ${opts.durationS} s counted, ${opts.rounds} round(s), clients in ${opts.workers} worker process(es) of the load harness; ` +
    `everything (nats-server, server, harness) on this machine's ${info.cores} cores`,
  "",
  table(
    [
      "target",
      "delivered events/s (median)",
      "min–max",
      "tickwire ÷ this",
      "target",
      "server CPU % (median)",
      "clients CPU %",
      "events/frame",
    ],
    summary.map((s) => {
      const r = ratios.find((x) => x.variant === s.variant);
      return [
        LABEL[s.variant],
        int(s.medianDeliveredPerS),
        `${int(s.minDeliveredPerS)}–${int(s.maxDeliveredPerS)}`,
        r === undefined ? "—" : `**${r.ratio.toFixed(2)}×** (rounds: ${r.perRound.join(", ")})`,
        r === undefined || r.target === null ? "—" : `≥ ${r.target}×: ${r.verdict}`,
        s.medianServerCpuPct,
        s.medianClientCpuPct,
        s.eventsPerFrame,
      ];
    }),
  ),
  "",
  table(
    [
      "round",
      "target",
      "delivered/s",
      "published/s",
      "loss %",
      "p50 µs",
      "p99 µs",
      "server CPU %",
      "clients CPU %",
      "events/frame",
      "B/event",
      "subscribed",
      "errors",
      "closes",
    ],
    runs.map((r) => [
      r.round,
      r.variant,
      int(r.deliveredPerS),
      int(r.publishedPerS),
      r.lossPct,
      int(r.p50Us),
      int(r.p99Us),
      r.serverCpuPct ?? "n/a",
      r.clientCpuPct,
      r.eventsPerFrame,
      r.meanEventBytes,
      r.subscribed,
      JSON.stringify(r.errors),
      JSON.stringify(r.closes),
    ]),
  ),
].join("\n");
const files = writeResults(
  opts.resultsDir,
  "side-by-side",
  "tickwire side by side (same harness, same feed, same machine)",
  { info, parameters, summary, ratios, smoke: opts.smoke, runs },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);
if (runs.some((r) => r.deliveredPerS <= 0 || r.subscribed < opts.clients)) {
  console.error("side-by-side: a target delivered nothing or lost clients; the benchmark is broken");
  process.exitCode = 1;
}
