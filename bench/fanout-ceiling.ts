/**
 * Fan-out ceiling (PERF-NOTES.md "Fan-out ceiling on this machine"): C WebSocket clients, each
 * subscribed to T of M topics, a server-side publisher pumping P publishes per event-loop turn;
 * delivered messages per second counted at the clients. Two server variants, one after the other in
 * this process, alternating their order each round:
 *
 *   raw-uws   uWS.js `ws.subscribe` + `app.publish(topic, bytes, true)`: the topic tree in C++, the ceiling
 *   tickwire  the real `Hub` + `Gateway` from src/: v1 subscribe, one encode per update, per-socket
 *             outbox written once per turn inside `cork`
 *   tickwire-auth  the same with --auth jwt (issue 13): every upgrade carries an HS256 Bearer token,
 *             verified at connect only; compare with `tickwire` in the same run (target: ≤ 2% fewer)
 *   tickwire-no-probes  `tickwire` with `--probe-interval-ms 0` (no lag probes, issue 12): `tickwire`
 *             ÷ this is what the default probe period costs (target: ≤ 3% fewer)
 *
 * The clients (bench/lib/ws-client.ts) run in child processes and only walk frame headers, so the
 * server keeps one of the 2 cores to itself. Target (issue): tickwire ≥ 0.9× raw uWS.
 *
 * `--client-wait busy-poll` keeps the client processes polling instead of sleeping: every write to a
 * sleeping co-located client costs the server a wake-up inside its `sendto`, which clients on other
 * machines never cost it. Anything that makes the clients idle more (their own replies, such as the
 * pongs of lag probes) then shows up as server cost; busy-polling clients take that part out.
 *
 * Clients that answer pings also leave their ACKs to delayed-ACK timers, which loopback runs on the
 * server's CPU: `tickwire ÷ tickwire-no-probes` measures the probes' own cost only with the clients' kernel
 * work put where a network puts it (bench/README "Where loopback puts the clients' kernel work"), and
 * to the few percent it is only side by side: paired-ceiling.ts runs two of these processes at once.
 *
 * `--series-s N` samples every N s (delivered/s, server ns/msg, the kernel's delayed ACKs/s), so a cost
 * that builds up within a round shows as a trend; `--start-at-ms`, `--client-cpus` and `--serve-args` are
 * what paired-ceiling.ts drives it with.
 *
 *   cd bench && node --import tsx fanout-ceiling.ts [--rounds 5] [--variants raw-uws,tickwire] [--smoke]
 *   cd bench && node --import tsx fanout-ceiling.ts --variants tickwire,tickwire-auth
 *   cd bench && node --import tsx fanout-ceiling.ts --variants tickwire,tickwire-no-probes
 *   cd bench && node --import tsx fanout-ceiling.ts --variants tickwire,tickwire-no-probes --client-wait busy-poll
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { AUTH_DEFAULTS, createTokenVerifier, loadSecretFile, mintTestToken } from "../src/auth/index.ts";
import type { Authenticator } from "../src/fanout/index.ts";
import { loadUws } from "../src/gateway/index.ts";
import { authenticatorOver } from "../src/node/index.ts";
import { EventEncoder, nowMicros, toMarketEvent } from "../src/protocol/index.ts";
import { parseOptions, ratioVerdict } from "./lib/args.ts";
import { Publisher, TickwirePublisher, quoteFields } from "./lib/publisher.ts";
import { ClientFleet, sourceAddressesFor, type FleetMark } from "./lib/client-fleet.ts";
import { topicsOfClient } from "./lib/client-protocol.ts";
import {
  HOST,
  STREAM_PATH,
  defaultConfig,
  startRawUws,
  startTickwire,
  topicNames,
  type RawUwsServer,
  type TickwireServer,
} from "./lib/servers.ts";
import {
  infoMarkdown,
  int,
  machineCpuTicks,
  median,
  rounded,
  runInfo,
  table,
  tcpExtCounters,
  writeResults,
} from "./lib/run-info.ts";

/** Garbage-collection pauses of this (the server) process, summed as they are reported. */
const gc = { count: 0, ms: 0 };
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++;
    gc.ms += entry.duration;
  }
});
gcObserver.observe({ entryTypes: ["gc"] });

const VARIANTS = ["raw-uws", "tickwire", "tickwire-auth", "tickwire-no-probes"] as const;
type Variant = (typeof VARIANTS)[number];
const TARGET_RATIO = 0.9;

const opts = parseOptions(
  "fanout-ceiling: delivered msgs/s of raw uWS pub/sub vs tickwire's Hub + Gateway",
  {
    clients: 1000,
    topics: 100,
    topicsPerClient: 10,
    publishesPerTurn: 200,
    warmupS: 2,
    durationS: 10,
    rounds: 5,
    clientProcesses: 1,
    variants: "raw-uws,tickwire",
    probeIntervalMs: -1,
    clientWait: "sleep",
    seriesS: 0,
    clientCpus: "",
    startAtMs: 0,
    serveArgs: "",
  },
  { clients: 50, warmupS: 0.5, durationS: 1, rounds: 1 },
  {
    clients: { help: "WebSocket clients" },
    topics: { help: "topics published round-robin" },
    topicsPerClient: { help: "topics each client subscribes to" },
    publishesPerTurn: { help: "publishes per event-loop turn (one setImmediate)" },
    warmupS: { help: "seconds of publishing before counting" },
    durationS: { help: "seconds counted" },
    rounds: { help: "rounds; each runs every variant, order alternating" },
    clientProcesses: { help: "child processes the clients are spread over" },
    variants: { help: `comma-separated, of ${VARIANTS.join(", ")}` },
    probeIntervalMs: { help: "--probe-interval-ms of the tickwire variants (-1: tickwire's default)" },
    clientWait: {
      help: "sleep (client processes sleep when idle) or busy-poll (they poll without sleeping: no wake-ups charged to the server)",
    },
    seriesS: {
      help: "also sample every this many seconds, warm-up included (0: no series): delivered/s, server ns/msg, the kernel's delayed and pure ACKs/s",
    },
    serveArgs: {
      help: 'more `tickwire serve` flags for the tickwire variants, space-separated (e.g. --serve-args="--max-lag-ms 4000"); tickwire-no-probes keeps --probe-interval-ms 0',
    },
    clientCpus: { help: "pin the client processes to these CPUs (taskset list, e.g. 1; empty: not pinned)" },
    startAtMs: {
      help: "start publishing at this wall-clock time (ms since the epoch; 0: once connected), so that two runs side by side count the same seconds (paired-ceiling.ts)",
    },
  },
);
/** `--serve-args`: extra `tickwire serve` flags of every tickwire variant. */
const serveArgs = opts.serveArgs.split(" ").filter((arg) => arg !== "");
/** Extra `tickwire serve` flags of the tickwire variants other than tickwire-no-probes. */
const probeArgs = [
  ...serveArgs,
  ...(opts.probeIntervalMs >= 0 ? ["--probe-interval-ms", String(opts.probeIntervalMs)] : []),
];
if (opts.clientWait !== "sleep" && opts.clientWait !== "busy-poll") {
  throw new Error(`--client-wait: "${opts.clientWait}" is neither sleep nor busy-poll`);
}
const busyPoll = opts.clientWait === "busy-poll";
const variants = opts.variants.split(",").map((v) => v.trim()) as Variant[];
for (const v of variants) {
  if (!VARIANTS.includes(v))
    throw new Error(`--variants: unknown variant "${v}" (known: ${VARIANTS.join(", ")})`);
}

/**
 * `--auth jwt` for the `tickwire-auth` variant: a random HS256 secret in a temporary file, the real
 * verifier (src/auth, jose) behind the node's adapter, and one token granting every topic (no
 * maxConnections: all clients share its `sub`).
 */
async function benchAuth(): Promise<{ authenticator: Authenticator; token: string }> {
  const dir = mkdtempSync(join(tmpdir(), "tickwire-bench-auth-"));
  try {
    const secretFile = join(dir, "secret");
    writeFileSync(secretFile, randomBytes(32).toString("hex"));
    const config = { mode: "jwt" as const, ...AUTH_DEFAULTS, jwtSecretFile: secretFile };
    const verifier = await createTokenVerifier(config);
    const token = await mintTestToken({
      secret: await loadSecretFile(secretFile),
      sub: "bench",
      grants: { topics: [">"] },
      ttlMs: 86_400_000,
    });
    return { authenticator: authenticatorOver(verifier, config.jwtClockToleranceMs), token };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `app.publish` of a pre-encoded quote per topic, the same size as tickwire's (sequence ~1000). */
class RawUwsPublisher extends Publisher {
  readonly #payloads: Uint8Array[];
  constructor(
    private readonly server: RawUwsServer,
    topics: readonly string[],
    perTurn: number,
  ) {
    super(topics, perTurn);
    const encoder = new EventEncoder();
    const ts = nowMicros();
    this.#payloads = topics.map((t) =>
      Uint8Array.from(encoder.encode(toMarketEvent("quote", t, 1000, ts, quoteFields(1000, ts - 150)))),
    );
  }
  protected publishOne(topicIndex: number): void {
    this.server.app.publish(this.topics[topicIndex]!, this.#payloads[topicIndex]!, true, false);
  }
}

interface ServerMark {
  readonly atMs: number;
  readonly published: number;
  readonly turns: number;
  readonly cpuUs: number;
  readonly elu: EventLoopUtilization;
  readonly drops: number;
  readonly probes: ProbeMark;
  readonly machine: ReturnType<typeof machineCpuTicks>;
  readonly gcCount: number;
  readonly gcMs: number;
}
/** The hub's lag-probe counters (issue 12), zero for raw uWS. */
interface ProbeMark {
  readonly sent: number;
  readonly episodes: number;
  readonly lagSumMs: number;
  readonly lagCount: number;
}
type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>;

interface VariantRun {
  readonly variant: Variant;
  readonly round: number;
  readonly connectMs: number;
  readonly measuredS: number;
  /** Events received by all clients per second (the headline number). */
  readonly deliveredPerSec: number;
  /** WebSocket frames per second (equal to events while every frame holds one event). */
  readonly framesPerSec: number;
  readonly publishedPerSec: number;
  readonly turnsPerSec: number;
  /** Messages each client got per event-loop turn, on average. */
  readonly messagesPerClientPerTurn: number;
  readonly meanPayloadBytes: number;
  readonly serverCpuPct: number;
  /** Server process CPU (user + system) per delivered event: less sensitive to other load than the rate. */
  readonly serverCpuNsPerEvent: number;
  readonly serverEventLoopUtilization: number;
  /** Server GC pauses per second of the window (count and milliseconds). */
  readonly serverGcPerSec: number;
  readonly serverGcMsPerSec: number;
  readonly clientCpuPct: number;
  /** Whole machine busy, in % of one core (200 = both cores); minus server and clients = other work. */
  readonly machineBusyPct: number | null;
  /** Over the whole run (warm-up included): 1 − delivered / (Σ publishes × subscribers of the topic). */
  readonly lossPct: number;
  /** tickwire only: updates merged away for slow consumers or refused by uWS backpressure, in the window. */
  readonly serverDropsInWindow: number | null;
  readonly probesPerSec: number;
  readonly lagEpisodesInWindow: number;
  readonly meanProbeLagMs: number | null;
  /** `--series-s`: the round in slices, warm-up included (empty without it). */
  readonly series: readonly SeriesPoint[];
}

/**
 * One slice of a round (`--series-s`). A cost that builds up over a round (state that grows, a kernel
 * mode the clients' sockets reach after many exchanges) shows as a trend within each round of one
 * variant, which this machine's drift between rounds (±15–20%) hides in the rounds' totals.
 */
interface SeriesPoint {
  /** End of the slice, seconds since publishing started. */
  readonly atS: number;
  readonly deliveredPerSec: number;
  readonly serverCpuNsPerEvent: number;
  /** Machine-wide TcpExt counters per second: ACKs sent by delayed-ACK timers, and pure ACKs received. */
  readonly delayedAcksPerSec: number;
  readonly pureAcksPerSec: number;
  readonly probesPerSec: number;
}

async function runVariant(variant: Variant, round: number): Promise<VariantRun> {
  const uws = loadUws();
  const config =
    variant === "tickwire-no-probes"
      ? defaultConfig([...serveArgs, "--probe-interval-ms", "0"])
      : defaultConfig(probeArgs);
  const names = topicNames(opts.topics);
  let tickwire: TickwireServer | undefined;
  let raw: RawUwsServer | undefined;
  let publisher: Publisher;
  let drops = (): number => 0;
  let probes = (): ProbeMark => ({ sent: 0, episodes: 0, lagSumMs: 0, lagCount: 0 });
  let authorization: string | undefined;
  if (variant !== "raw-uws") {
    let authenticator: Authenticator | undefined;
    if (variant === "tickwire-auth") {
      const auth = await benchAuth();
      authenticator = auth.authenticator;
      authorization = `Bearer ${auth.token}`;
    }
    tickwire = await startTickwire(uws, config, authenticator);
    const stats = tickwire.hub.stats;
    drops = () => stats.conflatedSlow + stats.dropsBackpressure;
    probes = () => ({
      sent: stats.probesSent,
      episodes: stats.lagEpisodes,
      lagSumMs: stats.lagSumMs,
      lagCount: stats.lagCount,
    });
    publisher = new TickwirePublisher(tickwire.hub, names, opts.publishesPerTurn);
  } else {
    raw = await startRawUws(uws, config);
    publisher = new RawUwsPublisher(raw, names, opts.publishesPerTurn);
  }
  const port = (tickwire ?? raw)!.port;
  const fleet = ClientFleet.spawn(Math.max(1, opts.clientProcesses));
  if (opts.clientCpus !== "") {
    for (const pid of fleet.pids) execFileSync("taskset", ["-a", "-p", "-c", opts.clientCpus, String(pid)]);
  }
  try {
    const connectMs = await fleet.connect(
      {
        host: HOST,
        port,
        path: STREAM_PATH,
        ...(authorization !== undefined ? { authorization } : {}),
        topicNames: names,
        topicsPerClient: opts.topicsPerClient,
        sourceAddresses: sourceAddressesFor(opts.clients),
        concurrency: 256,
        busyPoll,
      },
      0,
      opts.clients,
      120_000,
    );
    const subscribers = names.map(() => 0);
    for (let c = 0; c < opts.clients; c++) {
      for (const t of topicsOfClient(c, names, opts.topicsPerClient)) subscribers[names.indexOf(t)]!++;
    }
    const serverMark = (): ServerMark => {
      const cpu = process.cpuUsage();
      return {
        atMs: performance.now(),
        published: publisher.published,
        turns: publisher.turns,
        cpuUs: cpu.user + cpu.system,
        elu: performance.eventLoopUtilization(),
        drops: drops(),
        probes: probes(),
        machine: machineCpuTicks(),
        gcCount: gc.count,
        gcMs: gc.ms,
      };
    };
    if (opts.startAtMs > 0) {
      const waitMs = opts.startAtMs - Date.now();
      if (waitMs < 0)
        console.error(`fanout-ceiling: connected ${Math.round(-waitMs)} ms after --start-at-ms`);
      await sleep(Math.max(0, waitMs));
    }
    const before = await fleet.mark();
    publisher.start();
    const startMs = performance.now();
    const series: SeriesPoint[] = [];
    let slice = { client: before, server: serverMark(), tcp: tcpExtCounters() };
    /** Waits `ms`, taking a series point every `--series-s` meanwhile. */
    const observe = async (ms: number): Promise<void> => {
      const endMs = performance.now() + ms;
      while (opts.seriesS > 0 && endMs - performance.now() > opts.seriesS * 1000) {
        await sleep(opts.seriesS * 1000);
        const next = { client: await fleet.mark(), server: serverMark(), tcp: tcpExtCounters() };
        series.push(seriesPoint(slice, next, startMs));
        slice = next;
      }
      await sleep(Math.max(0, endMs - performance.now()));
    };
    await observe(opts.warmupS * 1000);
    const c0 = await fleet.mark();
    const s0 = serverMark();
    await observe(opts.durationS * 1000);
    const c1 = await fleet.mark();
    const s1 = serverMark();
    publisher.stop();
    const settled = await settle(fleet, c1);
    const expected = publisher.perTopic.reduce((sum, n, t) => sum + n * subscribers[t]!, 0);
    const delivered = settled.events - before.events;

    const clientS = (c1.atMs - c0.atMs) / 1000;
    const serverS = (s1.atMs - s0.atMs) / 1000;
    const frames = c1.frames - c0.frames;
    const events = c1.events - c0.events;
    const serverCpuUs = s1.cpuUs - s0.cpuUs;
    const machine =
      s0.machine !== undefined && s1.machine !== undefined && s1.machine.total > s0.machine.total
        ? Math.round(
            ((s1.machine.busy - s0.machine.busy) / (s1.machine.total - s0.machine.total)) *
              availableParallelism() *
              1000,
          ) / 10
        : null;
    const turns = s1.turns - s0.turns;
    const run: VariantRun = {
      variant,
      round,
      connectMs: Math.round(connectMs),
      measuredS: rounded(clientS, 3),
      deliveredPerSec: Math.round(events / clientS),
      framesPerSec: Math.round(frames / clientS),
      publishedPerSec: Math.round((s1.published - s0.published) / serverS),
      turnsPerSec: Math.round(turns / serverS),
      messagesPerClientPerTurn: rounded(events / opts.clients / Math.max(1, turns), 3),
      meanPayloadBytes: rounded((c1.payloadBytes - c0.payloadBytes) / Math.max(1, frames), 3),
      serverCpuPct: Math.round((serverCpuUs / 1e4 / serverS) * 10) / 10,
      serverCpuNsPerEvent: Math.round((serverCpuUs * 1000 * (clientS / serverS)) / Math.max(1, events)),
      serverEventLoopUtilization: rounded(performance.eventLoopUtilization(s1.elu, s0.elu).utilization, 3),
      serverGcPerSec: Math.round(((s1.gcCount - s0.gcCount) / serverS) * 10) / 10,
      serverGcMsPerSec: Math.round(((s1.gcMs - s0.gcMs) / serverS) * 10) / 10,
      clientCpuPct: Math.round(((c1.cpuUs - c0.cpuUs) / 1e4 / clientS) * 10) / 10,
      machineBusyPct: machine,
      lossPct: expected === 0 ? 0 : Math.round((1 - delivered / expected) * 1e5) / 1e3,
      serverDropsInWindow: variant === "raw-uws" ? null : s1.drops - s0.drops,
      probesPerSec: Math.round((s1.probes.sent - s0.probes.sent) / serverS),
      lagEpisodesInWindow: s1.probes.episodes - s0.probes.episodes,
      meanProbeLagMs:
        s1.probes.lagCount > s0.probes.lagCount
          ? rounded((s1.probes.lagSumMs - s0.probes.lagSumMs) / (s1.probes.lagCount - s0.probes.lagCount), 3)
          : null,
      series,
    };
    await fleet.close();
    if (tickwire !== undefined && tickwire.internalErrors.length > 0) {
      throw new Error(`tickwire reported ${tickwire.internalErrors.length} internal error(s)`, {
        cause: tickwire.internalErrors[0],
      });
    }
    return run;
  } catch (error) {
    publisher.stop();
    fleet.kill();
    throw error;
  } finally {
    await (tickwire ?? raw)!.close();
  }
}

interface SliceMark {
  readonly client: FleetMark;
  readonly server: ServerMark;
  readonly tcp: ReadonlyMap<string, number>;
}

function seriesPoint(from: SliceMark, to: SliceMark, startMs: number): SeriesPoint {
  const clientS = (to.client.atMs - from.client.atMs) / 1000;
  const serverS = (to.server.atMs - from.server.atMs) / 1000;
  const events = to.client.events - from.client.events;
  const perSec = (name: string): number =>
    Math.round(((to.tcp.get(name) ?? 0) - (from.tcp.get(name) ?? 0)) / serverS);
  return {
    atS: rounded((to.server.atMs - startMs) / 1000, 3),
    deliveredPerSec: Math.round(events / clientS),
    serverCpuNsPerEvent: Math.round(
      ((to.server.cpuUs - from.server.cpuUs) * 1000 * (clientS / serverS)) / Math.max(1, events),
    ),
    delayedAcksPerSec: perSec("DelayedACKs"),
    pureAcksPerSec: perSec("TCPPureAcks"),
    probesPerSec: Math.round((to.server.probes.sent - from.server.probes.sent) / serverS),
  };
}

/** After the publisher stops: waits (≤ 5 s) until the clients have read everything in flight. */
async function settle(fleet: ClientFleet, last: FleetMark): Promise<FleetMark> {
  let previous = last;
  for (let i = 0; i < 25; i++) {
    await sleep(200);
    const mark = await fleet.mark();
    if (mark.frames === previous.frames) return mark;
    previous = mark;
  }
  return previous;
}

/** `t s: delivered/s ns/msg delayed-ACKs/s` per slice, for the console and the markdown. */
function seriesLine(series: readonly SeriesPoint[]): string {
  return series
    .map(
      (p) =>
        `${p.atS.toFixed(1)}s ${int(p.deliveredPerSec)}/${p.serverCpuNsPerEvent}ns/${int(p.delayedAcksPerSec)}dack`,
    )
    .join(", ");
}

const info = runInfo();
const parameters = {
  clients: opts.clients,
  topics: opts.topics,
  topicsPerClient: opts.topicsPerClient,
  subscribersPerTopic: (opts.clients * opts.topicsPerClient) / opts.topics,
  publishesPerTurn: opts.publishesPerTurn,
  warmupS: opts.warmupS,
  durationS: opts.durationS,
  rounds: opts.rounds,
  clientProcesses: opts.clientProcesses,
  clientWait: opts.clientWait,
  seriesS: opts.seriesS,
  clientCpus: opts.clientCpus,
  startAtMs: opts.startAtMs,
  serveArgs: opts.serveArgs,
  variants,
  limits: (({ fanout, gateway }) => ({
    maxBackpressureBytes: gateway.maxBackpressureBytes,
    slowSoftBytes: fanout.slowSoftBytes,
    idleTimeoutMs: gateway.idleTimeoutMs,
    maxMessageBytes: gateway.maxMessageBytes,
  }))(defaultConfig()),
};
console.log(`fanout-ceiling: ${JSON.stringify(parameters)}`);

const runs: VariantRun[] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const order = round % 2 === 1 ? variants : [...variants].reverse();
  for (const variant of order) {
    const run = await runVariant(variant, round);
    runs.push(run);
    console.log(
      `round ${round} ${variant.padEnd(8)} delivered ${int(run.deliveredPerSec).padStart(10)} msgs/s` +
        `  (server CPU ${run.serverCpuPct}% = ${run.serverCpuNsPerEvent} ns/msg, clients CPU ${run.clientCpuPct}%,` +
        ` machine ${run.machineBusyPct ?? "?"}% of ${availableParallelism() * 100}%, GC ${run.serverGcMsPerSec} ms/s,` +
        ` loss ${run.lossPct}%,` +
        ` ${run.messagesPerClientPerTurn} msgs/client/turn, ${run.meanPayloadBytes} B payload,` +
        ` ${run.probesPerSec} probes/s, ${run.lagEpisodesInWindow} lag episodes, mean lag ${run.meanProbeLagMs ?? "n/a"} ms)`,
    );
    if (run.series.length > 0) console.log(`  series: ${seriesLine(run.series)}`);
  }
}

gcObserver.disconnect();

const summary = variants.map((variant) => {
  const mine = runs.filter((r) => r.variant === variant);
  return {
    variant,
    medianDeliveredPerSec: median(mine.map((r) => r.deliveredPerSec)),
    minDeliveredPerSec: Math.min(...mine.map((r) => r.deliveredPerSec)),
    maxDeliveredPerSec: Math.max(...mine.map((r) => r.deliveredPerSec)),
    medianServerCpuNsPerEvent: median(mine.map((r) => r.serverCpuNsPerEvent)),
  };
});
/**
 * Runs whose server was below this CPU share were not server-bound (other work on the machine, or
 * the clients): their rates say little about the server. The CPU cost per event still holds.
 */
const SATURATED_CPU_PCT = 90;
const unsaturated = runs.filter((r) => r.serverCpuPct < SATURATED_CPU_PCT);
const rawNs = summary.find((s) => s.variant === "raw-uws")?.medianServerCpuNsPerEvent;
const twNs = summary.find((s) => s.variant === "tickwire")?.medianServerCpuNsPerEvent;
/** raw ns/event ÷ tickwire ns/event: the throughput ratio if both servers had a core to themselves. */
const cpuCostRatio = rawNs !== undefined && twNs !== undefined && twNs > 0 ? rounded(rawNs / twNs, 3) : null;
const rawMedian = summary.find((s) => s.variant === "raw-uws")?.medianDeliveredPerSec;
const twMedian = summary.find((s) => s.variant === "tickwire")?.medianDeliveredPerSec;
const ratio =
  rawMedian !== undefined && twMedian !== undefined && rawMedian > 0 ? twMedian / rawMedian : null;
/** Ratio within each round (same conditions, back to back). */
const roundRatios: number[] = [];
for (let round = 1; round <= opts.rounds; round++) {
  const r = runs.find((x) => x.round === round && x.variant === "raw-uws");
  const t = runs.find((x) => x.round === round && x.variant === "tickwire");
  if (r !== undefined && t !== undefined && r.deliveredPerSec > 0)
    roundRatios.push(rounded(t.deliveredPerSec / r.deliveredPerSec, 3));
}
const verdict = ratioVerdict(opts.smoke, ratio, TARGET_RATIO);
/** tickwire-auth ÷ tickwire, same run (issue 13 target: ≥ 0.98). */
const authMedian = summary.find((s) => s.variant === "tickwire-auth")?.medianDeliveredPerSec;
const authRatio =
  authMedian !== undefined && twMedian !== undefined && twMedian > 0
    ? rounded(authMedian / twMedian, 3)
    : null;
if (authRatio !== null) console.log(`tickwire-auth/tickwire = ${authRatio} (target ≥ 0.98)`);
/** tickwire (probes at the default period) ÷ tickwire-no-probes, same run (issue 12 target: ≥ 0.97). */
const noProbesMedian = summary.find((s) => s.variant === "tickwire-no-probes")?.medianDeliveredPerSec;
const probesRatio =
  noProbesMedian !== undefined && twMedian !== undefined && noProbesMedian > 0
    ? rounded(twMedian / noProbesMedian, 3)
    : null;
/** The same for the server CPU per delivered message: no-probes ns ÷ tickwire ns. */
const noProbesNs = summary.find((s) => s.variant === "tickwire-no-probes")?.medianServerCpuNsPerEvent;
const probesCpuRatio =
  noProbesNs !== undefined && twNs !== undefined && twNs > 0 ? rounded(noProbesNs / twNs, 3) : null;
if (probesRatio !== null) {
  console.log(
    `tickwire/tickwire-no-probes = ${probesRatio} (target ≥ 0.97); CPU per msg ratio ${probesCpuRatio}`,
  );
}
console.log(
  summary.map((s) => `${s.variant}: median ${int(s.medianDeliveredPerSec)} msgs/s`).join("; ") +
    (ratio !== null
      ? `; tickwire/raw = ${ratio.toFixed(3)} (per round: ${roundRatios.join(", ")}); target ${verdict}` +
        `; server CPU per event raw/tickwire = ${cpuCostRatio ?? "n/a"}`
      : "") +
    (unsaturated.length > 0 ? `; ${unsaturated.length} run(s) with server CPU < ${SATURATED_CPU_PCT}%` : ""),
);

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: ${opts.clients} clients × ${opts.topicsPerClient} of ${opts.topics} topics ` +
    `(${parameters.subscribersPerTopic} subscribers per topic), ${opts.publishesPerTurn} publishes per ` +
    `setImmediate turn, ${opts.warmupS} s warm-up + ${opts.durationS} s counted, ${opts.rounds} round(s), ` +
    `clients in ${opts.clientProcesses} child process(es)` +
    (busyPoll ? " busy-polling (their CPU % is then ~100 by construction)" : "") +
    `; limits ${JSON.stringify(parameters.limits)}`,
  "",
  table(
    ["server variant", "delivered msgs/s (median)", "min–max", "vs raw uWS", "server CPU ns/msg (median)"],
    summary.map((s) => [
      s.variant,
      int(s.medianDeliveredPerSec),
      `${int(s.minDeliveredPerSec)}–${int(s.maxDeliveredPerSec)}`,
      rawMedian !== undefined && rawMedian > 0 ? (s.medianDeliveredPerSec / rawMedian).toFixed(3) : "n/a",
      s.medianServerCpuNsPerEvent,
    ]),
  ),
  "",
  ratio !== null
    ? `tickwire / raw uWS = **${ratio.toFixed(3)}** (per round: ${roundRatios.join(", ")}); target ${TARGET_RATIO}×: **${verdict}**. ` +
      `Server CPU per delivered message, raw ÷ tickwire: ${cpuCostRatio ?? "n/a"}.`
    : "",
  authRatio !== null
    ? `\ntickwire-auth / tickwire = **${authRatio}** (tokens verified at connect only; issue 13 target ≥ 0.98).`
    : "",
  probesRatio !== null
    ? `\ntickwire / tickwire-no-probes = **${probesRatio}** (lag probes at the default period; issue 12 target ≥ 0.97); ` +
      `server CPU per delivered message, no-probes ÷ probes: ${probesCpuRatio ?? "n/a"}.`
    : "",
  unsaturated.length > 0
    ? `\n${unsaturated.length} run(s) had server CPU < ${SATURATED_CPU_PCT}% (${unsaturated
        .map((r) => `round ${r.round} ${r.variant}: ${r.serverCpuPct}%`)
        .join(", ")}): the server was not the bottleneck there (other load on the machine, or the clients).`
    : "",
  "",
  table(
    [
      "round",
      "variant",
      "delivered/s",
      "published/s",
      "turns/s",
      "msgs/client/turn",
      "payload B",
      "frames/s",
      "server CPU %",
      "server CPU ns/msg",
      "server GC/s (ms/s)",
      "clients CPU %",
      "machine busy %",
      "loss %",
      "server drops",
      "probes/s",
      "lag episodes",
      "mean probe lag ms",
    ],
    runs.map((r) => [
      r.round,
      r.variant,
      int(r.deliveredPerSec),
      int(r.publishedPerSec),
      int(r.turnsPerSec),
      r.messagesPerClientPerTurn,
      r.meanPayloadBytes,
      int(r.framesPerSec),
      r.serverCpuPct,
      r.serverCpuNsPerEvent,
      `${r.serverGcPerSec} (${r.serverGcMsPerSec})`,
      r.clientCpuPct,
      r.machineBusyPct ?? "n/a",
      r.lossPct,
      r.serverDropsInWindow ?? "n/a",
      int(r.probesPerSec),
      r.lagEpisodesInWindow,
      r.meanProbeLagMs ?? "n/a",
    ]),
  ),
  ...(opts.seriesS > 0
    ? [
        "",
        `Series (\`--series-s ${opts.seriesS}\`, warm-up included): seconds since publishing started, delivered ` +
          "msgs/s / server CPU ns per msg / the machine's ACKs sent by delayed-ACK timers per second.",
        "",
        ...runs.map((r) => `- round ${r.round} ${r.variant}: ${seriesLine(r.series)}`),
      ]
    : []),
]
  .join("\n")
  .replace(/\n{3,}/g, "\n\n");

const files = writeResults(
  opts.resultsDir,
  "fanout-ceiling",
  "Fan-out ceiling: raw uWS vs tickwire",
  {
    info,
    parameters,
    summary,
    ratio,
    roundRatios,
    cpuCostRatio,
    authRatio,
    probesRatio,
    probesCpuRatio,
    target: TARGET_RATIO,
    smoke: opts.smoke,
    runs,
  },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);

if (runs.some((r) => r.deliveredPerSec <= 0)) {
  console.error("fanout-ceiling: a variant delivered nothing; the benchmark is broken");
  process.exitCode = 1;
}
