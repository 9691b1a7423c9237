/**
 * 100,000 concurrent connections on one machine (issue 14): the real gateway as a child process,
 * `tickwire serve --workers N` (each worker process has its own descriptor budget: 20,000 here), fed by
 * a NATS publisher at a steady rate, heartbeats on; C clients in several client processes, from several
 * 127.0.0.x source addresses, each subscribing to T of M topics. Reported:
 *
 *   - every connection received: clients that got at least one market event after subscribing;
 *   - memory per connection: Σ over the worker processes of VmRSS (and RssAnon) from /proc, with all
 *     connections less the same before any (the idle baseline), ÷ C; 1 s after connecting and settled;
 *   - time to connect them all (upgrade + subscribe reply), and connections/s;
 *   - event-loop lag p99 per worker (the gateway's /metrics, `worker` label), and CPU of every process;
 *   - what limits the run: kernel and process limits checked before it starts (a STOP says which one
 *     makes the plan impossible), and whether the client processes were the bottleneck (CPU).
 *
 *   cd bench && node --import tsx connections-100k.ts [--connections 100000] [--smoke]
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Feed, LocalTarget, sampleProcess, type ProcessSample } from "../loadtest/index.ts";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { parseOptions, SMOKE_VERDICT } from "./lib/args.ts";
import { ClientFleet, sourceAddressesFor, type FleetMark } from "./lib/client-fleet.ts";
import {
  connectionsByWorker,
  eventLoopLagByWorker,
  gatewayCpuS,
  metricByLabel,
  metricValue,
  sampleGateway,
  scrapeMetrics,
  sumWorkers,
  waitForWorkers,
  waitReady,
  type GatewayPids,
  type GatewaySample,
} from "./lib/gateway-processes.ts";
import {
  checkPlan,
  connectionsPerWorker,
  readKernelLimits,
  WORKER_HEADROOM,
  type LimitCheck,
} from "./lib/kernel-limits.ts";
import { infoMarkdown, int, machineCpuTicks, median, runInfo, table, writeResults } from "./lib/run-info.ts";
import { HOST, STREAM_PATH, topicNames } from "./lib/servers.ts";

const TARGET_BYTES = 4096;
/** Sockets per client process by default (its limit is 20,000 descriptors here, as the workers'). */
const CLIENTS_PER_PROCESS = 15_000;
/** A process at or above this share of one core was saturated in that phase. */
const SATURATED = 0.9;

const opts = parseOptions(
  "connections-100k: C concurrent connections over `tickwire serve --workers N`: received, RSS/conn, connect time, loop lag",
  {
    connections: 100_000,
    workers: 0,
    clientProcesses: 0,
    topicsPerConnection: 10,
    topics: 1000,
    feedRate: 200,
    heartbeatMs: 1000,
    concurrency: 512,
    settleS: 15,
    measureS: 20,
    receiveTimeoutS: 60,
    connectTimeoutS: 0,
    scrapeMs: 2000,
    sourceAddresses: 0,
    retryAttempts: 8,
    gatewayNodeArgs: "",
    gatewayArgs: "",
    planOnly: 0,
  },
  {
    connections: 2000,
    workers: 2,
    clientProcesses: 2,
    sourceAddresses: 2,
    settleS: 2,
    measureS: 3,
    feedRate: 1000,
    scrapeMs: 1500,
  },
  {
    connections: { help: "concurrent WebSocket connections" },
    workers: {
      help: `gateway worker processes (--workers); 0 = enough for the connections at the default per-worker cap plus ${Math.round((WORKER_HEADROOM - 1) * 100)}%`,
    },
    clientProcesses: {
      help: `client processes; 0 = one per ${CLIENTS_PER_PROCESS} connections (at least 2)`,
    },
    topicsPerConnection: { help: "subscriptions per connection" },
    topics: { help: "distinct topics (subscribers per topic = connections × T / M)" },
    feedRate: { help: "feed messages/s over all topics, round-robin (each topic every topics/rate s)" },
    heartbeatMs: { help: "the gateway's --heartbeat-ms (0 = off)" },
    concurrency: { help: "handshakes in flight over all client processes" },
    settleS: {
      help: "seconds idle (feed on, no clients) before the baseline; least seconds from connected to the settled memory sample",
    },
    measureS: { help: "seconds of the steady window (CPU, delivered events, loop lag)" },
    receiveTimeoutS: {
      help: "longest wait, after connecting, for every connection to receive a market event",
    },
    connectTimeoutS: {
      help: "longest wait for every client process to have connected its share; 0 = max(120, connections × 5 ms)",
    },
    scrapeMs: { help: "how often /metrics is read in the steady window (lag p99 is per scrape interval)" },
    sourceAddresses: { help: "127.0.0.x source addresses; 0 = one per 20,000 connections" },
    retryAttempts: {
      help: "retries per client of a connect a real client retries (503, reset or close before the subscribe reply), with backoff; each counted in the results; 0 = the first failure fails the run",
    },
    gatewayNodeArgs: {
      help: 'options for the gateway\'s node, passed on to its workers, space-separated, given with = (e.g. --gateway-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof", "--heapsnapshot-signal=SIGUSR2")',
    },
    gatewayArgs: {
      help: 'more `tickwire serve` flags, space-separated, given with = (e.g. --gateway-args="--probe-interval-ms 5000"); recorded with the results',
    },
    planOnly: { help: "1 = print the plan and the limits it is checked against, start nothing" },
  },
);

const limits = readKernelLimits();
const perWorkerCap = connectionsPerWorker(limits);
const workers =
  opts.workers > 0
    ? opts.workers
    : Math.max(2, Math.ceil((opts.connections * WORKER_HEADROOM) / perWorkerCap));
const clientProcesses =
  opts.clientProcesses > 0
    ? opts.clientProcesses
    : Math.max(2, Math.ceil(opts.connections / CLIENTS_PER_PROCESS));
const sourceAddresses = sourceAddressesFor(opts.connections, opts.sourceAddresses);
const checks = checkPlan(limits, {
  connections: opts.connections,
  workers,
  clientProcesses,
  sourceAddresses: sourceAddresses.length,
  concurrency: opts.concurrency,
});
const checkTable = table(
  ["limit", "needed", "available", "verdict", "note"],
  checks.map((c) => [c.limit, c.needed, c.available, c.verdict, c.note]),
);
const info = runInfo();
const parameters = {
  connections: opts.connections,
  workers,
  clientProcesses,
  sourceAddresses,
  topicsPerConnection: opts.topicsPerConnection,
  topics: opts.topics,
  subscribersPerTopic: (opts.connections * opts.topicsPerConnection) / opts.topics,
  feedRate: opts.feedRate,
  heartbeatMs: opts.heartbeatMs,
  concurrency: opts.concurrency,
  settleS: opts.settleS,
  measureS: opts.measureS,
  perWorkerCap,
  gatewayArgs: opts.gatewayArgs,
};
console.log(`connections-100k: ${JSON.stringify(parameters)}`);
console.log(`limits (checked before starting):\n${checkTable}`);
const stops = checks.filter((c) => c.verdict === "STOP");
if (stops.length > 0) {
  console.error(
    `connections-100k: not started: ${stops.map((c) => `${c.limit}: needs ${c.needed}, has ${c.available} (${c.note})`).join("; ")}`,
  );
  process.exit(2);
}
if (opts.planOnly > 0) process.exit(0);

// --- the stack ---------------------------------------------------------------------------------------------

/** CPU of a set of processes and of the machine at one instant. */
interface CpuSnapshot {
  readonly atMs: number;
  readonly gateway: GatewaySample;
  readonly clients: (ProcessSample | undefined)[];
  readonly nats: ProcessSample | undefined;
  readonly self: NodeJS.CpuUsage;
  readonly machine: ReturnType<typeof machineCpuTicks>;
}

/** CPU over a phase, as a share of one core (1 = a full core). */
interface PhaseCpu {
  readonly seconds: number;
  readonly workers: number[];
  readonly supervisor: number;
  readonly clients: number[];
  readonly nats: number;
  /** This process: the feed publisher and the harness. */
  readonly publisher: number;
  /** Both cores busy = cores (2 here); includes kernel softirq time that belongs to no process. */
  readonly machine: number | undefined;
}

const nats = await NatsServerProcess.start({});
const topics = topicNames(opts.topics);
const feed = await Feed.connect({
  natsUrl: nats.url,
  subjectPrefix: "md",
  topics,
  ratePerS: opts.feedRate,
  messages: 0,
  feedBytes: 0,
});
void feed.start();
let gateway: LocalTarget | undefined;
let fleet: ClientFleet | undefined;

function cpuSnapshot(pids: GatewayPids): CpuSnapshot {
  return {
    atMs: performance.now(),
    gateway: sampleGateway(pids),
    clients: (fleet?.pids ?? []).map((pid) => sampleProcess(pid)),
    nats: nats.pid === undefined ? undefined : sampleProcess(nats.pid),
    self: process.cpuUsage(),
    machine: machineCpuTicks(),
  };
}

function phaseCpu(from: CpuSnapshot, to: CpuSnapshot): PhaseCpu {
  const seconds = (to.atMs - from.atMs) / 1000;
  const share = (cpuS: number): number => cpuS / seconds;
  const server = gatewayCpuS(from.gateway, to.gateway);
  const selfUs = to.self.user + to.self.system - (from.self.user + from.self.system);
  return {
    seconds,
    workers: server.workers.map(share),
    supervisor: share(server.supervisor),
    clients: to.clients.map((s, i) => {
      const before = from.clients[i];
      return s === undefined || before === undefined ? 0 : share(s.cpuS - before.cpuS);
    }),
    nats: to.nats === undefined || from.nats === undefined ? 0 : share(to.nats.cpuS - from.nats.cpuS),
    publisher: share(selfUs / 1e6),
    machine:
      from.machine === undefined || to.machine === undefined
        ? undefined
        : ((to.machine.busy - from.machine.busy) / (to.machine.total - from.machine.total)) * limits.cores,
  };
}

/** CPU of the machine not accounted to this run's processes: other work, and kernel softirq (loopback TCP). */
function others(cpu: PhaseCpu): number | undefined {
  if (cpu.machine === undefined) return undefined;
  const ours =
    cpu.workers.reduce((a, b) => a + b, 0) +
    cpu.supervisor +
    cpu.clients.reduce((a, b) => a + b, 0) +
    cpu.nats +
    cpu.publisher;
  return Math.max(0, cpu.machine - ours);
}

/** What limited a phase, read from its CPU figures. */
function bottleneck(cpu: PhaseCpu, idle: string): string {
  const saturatedClients = cpu.clients.filter((c) => c >= SATURATED).length;
  const saturatedWorkers = cpu.workers.filter((c) => c >= SATURATED).length;
  const parts: string[] = [];
  if (saturatedClients > 0)
    parts.push(
      `CLIENTS: ${saturatedClients} of ${cpu.clients.length} client processes ≥ ${SATURATED * 100}% of a core (the harness limited this phase, not the gateway)`,
    );
  if (saturatedWorkers > 0)
    parts.push(`gateway: ${saturatedWorkers} worker(s) ≥ ${SATURATED * 100}% of a core`);
  if (cpu.machine !== undefined && cpu.machine >= limits.cores * SATURATED)
    parts.push(
      `MACHINE: ${pct(cpu.machine)} busy of ${limits.cores * 100}%, ${pct(others(cpu) ?? 0)} of it outside this run's processes ` +
        `(other work, kernel softirq): every process shares the ${limits.cores} cores`,
    );
  return parts.length === 0 ? idle : parts.join("; ");
}

const CONNECT_IDLE = "no process saturated: latency-bound (handshake round trips, listen backlog)";
const STEADY_IDLE = "no process saturated (the feed rate, not CPU, sets the load)";
const pct = (share: number): string => `${Math.round(share * 100)}%`;
const kib = (bytes: number): string => `${int(bytes)} B (${(bytes / 1024).toFixed(2)} KiB)`;

interface MemorySample {
  readonly vmRss: number;
  readonly rssAnon: number;
  readonly perWorkerVmRss: number[];
}

function memory(pids: GatewayPids): MemorySample {
  const sample = sampleGateway(pids);
  return {
    vmRss: sumWorkers(sample, (s) => s.rssBytes),
    rssAnon: sumWorkers(sample, (s) => s.rssAnonBytes),
    perWorkerVmRss: sample.workers.map((w) => w.sample?.rssBytes ?? 0),
  };
}

async function markUntilAllReceive(timeoutMs: number): Promise<{ mark: FleetMark; ms: number }> {
  const started = performance.now();
  for (;;) {
    const mark = await (fleet as ClientFleet).mark(30_000);
    if (mark.receiving >= opts.connections || performance.now() - started > timeoutMs)
      return { mark, ms: performance.now() - started };
    await sleep(500);
  }
}

/** Lines of the gateway's log that explain a failed or retried connect: warnings, errors, worker exits. */
const NOTABLE = /"level":(40|50|60)|worker exited|worker restarted|connection limit|uncaught|FATAL|Error/;
let reported = false;

/** Prints the gateway's worker restarts and the notable lines of its log (once per run). */
async function reportGateway(target: LocalTarget): Promise<void> {
  if (reported) return;
  reported = true;
  const restartsNow = await scrapeMetrics(target.port).then(
    (text) => String(metricValue(text, "tickwire_worker_restarts_total") ?? "n/a"),
    (error: unknown) => `/metrics unreadable (${String(error)})`,
  );
  const lines = target.output.split("\n").filter((line) => NOTABLE.test(line));
  console.error(
    `gateway: worker restarts ${restartsNow}; ${lines.length} warning/error lines in its log` +
      (lines.length === 0 ? "" : ` (last 40):\n${lines.slice(-40).join("\n")}`),
  );
}

try {
  gateway = await LocalTarget.start(
    [
      "--workers",
      String(workers),
      "--heartbeat-ms",
      String(opts.heartbeatMs),
      ...opts.gatewayArgs.split(" ").filter((arg) => arg !== ""),
    ],
    nats.url,
    opts.gatewayNodeArgs.split(" ").filter((arg) => arg !== ""),
  );
  await waitReady(gateway.port, 60_000);
  const pids = await waitForWorkers(gateway.pid, workers, 30_000);
  console.log(
    `gateway on port ${gateway.port}: supervisor ${pids.supervisor ?? "none"}, workers ${pids.workers.join(", ")}`,
  );

  // Baseline: workers up, feed running (nobody subscribed: the workers hold no NATS interest yet).
  await sleep(opts.settleS * 1000);
  const baseline = memory(pids);
  await scrapeMetrics(gateway.port);

  fleet = ClientFleet.spawn(clientProcesses);
  const target = {
    host: HOST,
    port: gateway.port,
    path: STREAM_PATH,
    topicNames: topics,
    topicsPerClient: opts.topicsPerConnection,
    sourceAddresses,
    concurrency: Math.max(8, Math.floor(opts.concurrency / clientProcesses)),
    watchFirstData: true,
    retryAttempts: opts.retryAttempts,
  };
  await sleep(500); // the client processes load their modules
  const connectFrom = cpuSnapshot(pids);
  const connectMs = await fleet
    .connect(
      target,
      0,
      opts.connections,
      opts.connectTimeoutS > 0 ? opts.connectTimeoutS * 1000 : Math.max(120_000, opts.connections * 5),
    )
    .catch(async (error: unknown) => {
      await reportGateway(gateway as LocalTarget);
      throw new Error(
        `connecting ${opts.connections} clients failed (${String(error)}). A 503 means a worker reached its cap ` +
          `(${perWorkerCap}; ${pids.workers.length} workers: raise --workers); EADDRINUSE/EADDRNOTAVAIL, the ` +
          `ephemeral ports of a source address (raise --source-addresses); EMFILE, a client process's ` +
          `descriptors (raise --client-processes). See the limits table above.`,
      );
    });
  const connectTo = cpuSnapshot(pids);
  const retried = fleet.retried;
  const retriedTotal = Object.values(retried).reduce((a, b) => a + b, 0);
  const connectCpu = phaseCpu(connectFrom, connectTo);
  const connectedAtMs = performance.now();
  console.log(
    `connected ${int(opts.connections)} in ${int(connectMs)} ms (${int((opts.connections * 1000) / connectMs)}/s); ` +
      `connects retried: ${retriedTotal === 0 ? "none" : JSON.stringify(retried)}; ${bottleneck(connectCpu, CONNECT_IDLE)}`,
  );
  if (retriedTotal > 0) await reportGateway(gateway);

  await sleep(1000);
  const early = memory(pids);
  const received = await markUntilAllReceive(opts.receiveTimeoutS * 1000);
  console.log(
    `receiving: ${int(received.mark.receiving)} of ${int(opts.connections)} (${int(received.ms)} ms after the 1 s sample)`,
  );

  // Steady window: CPU, delivered events, loop lag per worker (p99 per scrape interval).
  await scrapeMetrics(gateway.port);
  const steadyMarkFrom = await fleet.mark();
  const steadyFrom = cpuSnapshot(pids);
  const lagSamples = new Map<number, number[]>();
  const steadyEnd = performance.now() + opts.measureS * 1000;
  while (performance.now() < steadyEnd) {
    await sleep(Math.min(opts.scrapeMs, Math.max(0, steadyEnd - performance.now())));
    for (const [worker, lag] of eventLoopLagByWorker(await scrapeMetrics(gateway.port))) {
      lagSamples.set(worker, [...(lagSamples.get(worker) ?? []), lag]);
    }
  }
  const steadyTo = cpuSnapshot(pids);
  const steadyMarkTo = await fleet.mark();
  const steadyCpu = phaseCpu(steadyFrom, steadyTo);
  const deliveredPerS = (steadyMarkTo.events - steadyMarkFrom.events) / steadyCpu.seconds;
  console.log(
    `steady ${opts.measureS} s: ${int(deliveredPerS)} frames/s to the clients; ${bottleneck(steadyCpu, STEADY_IDLE)}`,
  );

  const waitMore = opts.settleS * 1000 - (performance.now() - connectedAtMs);
  if (waitMore > 0) await sleep(waitMore);
  const settled = memory(pids);
  const finalText = await scrapeMetrics(gateway.port);
  const finalMark = await fleet.mark();
  const byWorker = connectionsByWorker(finalText);
  const heldByGateway = [...byWorker.values()].reduce((a, b) => a + b, 0);
  const restarts = metricValue(finalText, "tickwire_worker_restarts_total") ?? 0;
  // Connections the gateway saw close during the run (the clients close none before the end), by reason.
  const closedByReason = Object.fromEntries(
    [...metricByLabel(finalText, "tickwire_connections_closed_total", "reason")].filter(([, n]) => n > 0),
  );
  const closedText =
    Object.keys(closedByReason).length === 0
      ? "none"
      : Object.entries(closedByReason)
          .map(([reason, n]) => `${int(n)} ${reason}`)
          .join(", ");

  const perConn = (to: MemorySample, read: (m: MemorySample) => number): number =>
    (read(to) - read(baseline)) / opts.connections;
  const rssSettled = perConn(settled, (m) => m.vmRss);
  const anonSettled = perConn(settled, (m) => m.rssAnon);
  const rssEarly = perConn(early, (m) => m.vmRss);
  const anonEarly = perConn(early, (m) => m.rssAnon);
  const everyoneReceived = finalMark.receiving === opts.connections && finalMark.open === opts.connections;
  const verdictOf = (bytes: number): string =>
    opts.smoke
      ? SMOKE_VERDICT
      : bytes <= TARGET_BYTES
        ? `met (${int(bytes)} B ≤ ${TARGET_BYTES} B)`
        : `MISSED (${int(bytes)} B > ${TARGET_BYTES} B)`;
  const memoryVerdict = verdictOf(rssSettled);
  const receiveVerdict = everyoneReceived
    ? `every connection received (${int(finalMark.receiving)} of ${int(opts.connections)}, all open)`
    : `NOT every connection: ${int(finalMark.receiving)} received, ${int(finalMark.open)} open, of ${int(opts.connections)}`;
  console.log(
    `${receiveVerdict}; closed by the gateway: ${closedText}; worker restarts: ${restarts}; ` +
      `VmRSS per connection settled ${int(rssSettled)} B: ${memoryVerdict}`,
  );

  const lagRows = [...lagSamples.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([worker, lags]) => [
      worker,
      int(byWorker.get(worker) ?? 0),
      `${(median(lags) * 1000).toFixed(1)} ms`,
      `${(Math.max(...lags) * 1000).toFixed(1)} ms`,
      pct(steadyCpu.workers[worker] ?? 0),
      pct(connectCpu.workers[worker] ?? 0),
      `${int((settled.perWorkerVmRss[worker] ?? 0) / 2 ** 20)} MiB`,
    ]);
  const cpuRow = (name: string, cpu: PhaseCpu, idle: string): (string | number)[] => [
    name,
    `${cpu.seconds.toFixed(1)} s`,
    cpu.workers.map(pct).join(" "),
    pct(cpu.supervisor),
    cpu.clients.map(pct).join(" "),
    pct(cpu.nats),
    pct(cpu.publisher),
    cpu.machine === undefined ? "n/a" : `${pct(cpu.machine)} of ${limits.cores * 100}%`,
    pct(others(cpu) ?? 0),
    bottleneck(cpu, idle),
  ];
  const markdown = [
    `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
    "",
    infoMarkdown(info),
    `- parameters: ${int(opts.connections)} connections over \`tickwire serve --workers ${workers}\` ` +
      `(default per-worker cap ${int(perWorkerCap)}), each subscribed to ${opts.topicsPerConnection} of ${opts.topics} topics ` +
      `(${int(parameters.subscribersPerTopic)} subscribers per topic); feed ${opts.feedRate} msgs/s round-robin through nats-server; ` +
      `heartbeats every ${opts.heartbeatMs} ms${opts.gatewayArgs === "" ? "" : `; gateway flags \`${opts.gatewayArgs}\``}; clients in ${clientProcesses} processes from ${sourceAddresses.join(", ")}, ` +
      `${opts.concurrency} handshakes in flight; baseline after ${opts.settleS} s idle with the feed on`,
    "",
    "Limits checked before the run:",
    "",
    checkTable,
    "",
    `- **received**: ${receiveVerdict}; all receiving ${int(received.ms)} ms after the 1 s memory sample` +
      `; the gateway's /metrics counts ${int(heldByGateway)} connections; worker restarts: ${restarts}` +
      `; connections the gateway saw close before the end: ${closedText}`,
    `- **time to connect them all**: ${int(connectMs)} ms (${int((opts.connections * 1000) / connectMs)} connections/s, upgrade + subscribe reply); ` +
      `connects retried (up to ${opts.retryAttempts} per client, with backoff): ` +
      `${
        retriedTotal === 0
          ? "none"
          : Object.entries(retried)
              .map(([cause, n]) => `${int(n)} × ${cause}`)
              .join(", ")
      }`,
    `- **memory per connection** (Σ over ${workers} workers, minus the baseline, ÷ ${int(opts.connections)}): ` +
      `VmRSS ${kib(rssSettled)} settled (≥ ${opts.settleS} s after connecting), ${kib(rssEarly)} 1 s after; ` +
      `RssAnon ${kib(anonSettled)} settled, ${kib(anonEarly)} 1 s after. Target ≤ ${TARGET_BYTES} B: **${memoryVerdict}**` +
      (finalMark.open < opts.connections && finalMark.open > 0
        ? `. Only ${int(finalMark.open)} were still open when it was settled: ` +
          `${kib((settled.vmRss - baseline.vmRss) / finalMark.open)} VmRSS per open connection`
        : ""),
    `- **delivered** in the steady window: ${int(deliveredPerS)} frames/s (market events + heartbeats)`,
    "",
    table(
      [
        "worker",
        "connections",
        "loop lag p99 (median of scrapes)",
        "loop lag p99 (max)",
        "CPU steady",
        "CPU connecting",
        "VmRSS settled",
      ],
      lagRows,
    ),
    "",
    "Loop lag p99 is the gateway's `tickwire_worker_event_loop_lag_p99_seconds` per scrape interval; it samples " +
      "with `monitorEventLoopDelay({ resolution: 10 })`, so an idle worker reads about 10–11 ms: the lag is what " +
      "exceeds that.",
    "",
    table(
      [
        "phase",
        "length",
        "workers CPU",
        "supervisor",
        "client processes CPU",
        "nats-server",
        "publisher (harness)",
        "machine busy",
        "not this run's processes",
        "what limited it",
      ],
      [cpuRow("connecting", connectCpu, CONNECT_IDLE), cpuRow("steady", steadyCpu, STEADY_IDLE)],
    ),
    "",
    table(
      ["sample", "Σ VmRSS", "Σ RssAnon"],
      [
        [
          "baseline (no clients)",
          `${int(baseline.vmRss / 2 ** 20)} MiB`,
          `${int(baseline.rssAnon / 2 ** 20)} MiB`,
        ],
        ["1 s after connecting", `${int(early.vmRss / 2 ** 20)} MiB`, `${int(early.rssAnon / 2 ** 20)} MiB`],
        ["settled", `${int(settled.vmRss / 2 ** 20)} MiB`, `${int(settled.rssAnon / 2 ** 20)} MiB`],
      ],
    ),
    "",
    "CPU is a share of one core (100% = a core) of what each process got: the workers, the client processes, " +
      "nats-server and the publisher all share this machine's cores, so a saturated client process or a busy " +
      "machine means the connect rate and the lag figures are the machine's, not the gateway's alone.",
  ].join("\n");
  const files = writeResults(
    opts.resultsDir,
    "connections-100k",
    "Concurrent connections across worker processes",
    {
      info,
      parameters,
      smoke: opts.smoke,
      limits,
      checks: checks satisfies LimitCheck[],
      connectMs,
      retried,
      connectCpu,
      steadyCpu,
      receiving: finalMark.receiving,
      open: finalMark.open,
      allReceivingAfterMs: received.ms,
      connectionsByWorker: Object.fromEntries(byWorker),
      restarts,
      closedByReason,
      eventLoopLagP99SecondsByWorker: Object.fromEntries(lagSamples),
      deliveredFramesPerS: deliveredPerS,
      memory: { baseline, early, settled },
      perConnectionBytes: {
        vmRssSettled: rssSettled,
        vmRssEarly: rssEarly,
        rssAnonSettled: anonSettled,
        rssAnonEarly: anonEarly,
      },
      target: { vmRssBytesPerConnection: TARGET_BYTES },
      memoryVerdict,
      everyoneReceived,
    },
    markdown,
  );
  console.log(`results: ${files.markdown} and ${files.json}`);
  if (!everyoneReceived) {
    await reportGateway(gateway);
    process.exitCode = 1;
  }
} catch (error) {
  if (gateway !== undefined) await reportGateway(gateway);
  throw error;
} finally {
  await fleet?.close(60_000).catch((error: unknown) => {
    console.error(`closing the clients: ${String(error)}`);
    fleet?.kill();
  });
  await gateway?.stop();
  await feed.close();
  await nats.dispose();
}
