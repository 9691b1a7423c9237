/**
 * `--workers 1` vs `--workers 2` on the ceiling workload, in the same run (issue 14): the real gateway
 * (`tickwire serve`, a child process) fed through nats-server by a publisher at a fixed high rate; C
 * clients in child processes, each subscribed to T of M topics (fanout-ceiling.ts's 1000 × 10 of 100).
 * Each round starts a fresh gateway per variant, in alternating order, and counts over a window after a
 * warm-up:
 *
 *   delivered/s          events received by all clients per second
 *   server CPU ns/event  CPU time (user + system, /proc) of every gateway process (workers + supervisor)
 *                        per delivered event
 *   loss                 1 − (delivered − heartbeats) ÷ (published × subscribers per topic) in the window
 *
 * With `--workers 1` the gateway is one process (no supervisor); with 2, a supervisor and two workers
 * sharing the port. Everything (publisher, nats-server, clients, workers) shares this machine's cores.
 *
 *   cd bench && node --import tsx workers-ceiling.ts [--rounds 3] [--rate 20000] [--smoke]
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Feed, LocalTarget, sampleProcess, type ProcessSample } from "../loadtest/index.ts";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { parseOptions } from "./lib/args.ts";
import { ClientFleet, sourceAddressesFor } from "./lib/client-fleet.ts";
import {
  connectionsByWorker,
  gatewayCpuS,
  sampleGateway,
  scrapeMetrics,
  waitForWorkers,
  waitReady,
} from "./lib/gateway-processes.ts";
import { infoMarkdown, int, machineCpuTicks, median, runInfo, table, writeResults } from "./lib/run-info.ts";
import { HOST, STREAM_PATH, topicNames } from "./lib/servers.ts";

const opts = parseOptions(
  "workers-ceiling: delivered events/s and server CPU per event, `tickwire serve --workers 1` vs `--workers 2`, through NATS",
  {
    rounds: 3,
    variants: "1,2",
    clients: 1000,
    topics: 100,
    topicsPerClient: 10,
    rate: 20_000,
    warmupS: 3,
    measureS: 10,
    clientProcesses: 1,
  },
  { rounds: 1, clients: 50, rate: 2000, warmupS: 1, measureS: 2 },
  {
    rounds: { help: "rounds; each runs every variant once, order alternating" },
    variants: { help: "comma-separated --workers values" },
    clients: { help: "WebSocket clients" },
    topics: { help: "distinct topics" },
    topicsPerClient: { help: "subscriptions per client" },
    rate: { help: "feed messages/s published to NATS, round-robin over the topics" },
    warmupS: { help: "seconds after connecting before the window" },
    measureS: { help: "seconds counted" },
    clientProcesses: { help: "client processes" },
  },
);
const variants = opts.variants.split(",").map((v) => Number(v.trim()));
for (const v of variants)
  if (!Number.isInteger(v) || v < 1) throw new Error(`--variants: "${v}" is not a worker count`);
const subscribersPerTopic = (opts.clients * opts.topicsPerClient) / opts.topics;

interface VariantRun {
  readonly round: number;
  readonly workers: number;
  readonly seconds: number;
  readonly delivered: number;
  readonly deliveredPerS: number;
  readonly published: number;
  readonly publishedPerS: number;
  /** 1 − (delivered − heartbeats) ÷ (published × subscribers per topic); heartbeats ≈ clients × seconds. */
  readonly loss: number;
  /** CPU seconds of each worker process (the single process with --workers 1) and of the supervisor. */
  readonly workerCpuS: number[];
  readonly supervisorCpuS: number;
  readonly serverCpuNsPerEvent: number;
  /** Shares of one core over the window. */
  readonly serverCpu: number;
  readonly clientsCpu: number;
  readonly natsCpu: number;
  readonly publisherCpu: number;
  readonly machineBusy: number | undefined;
  readonly connectionsByWorker: Record<string, number>;
}

const info = runInfo();
const nats = await NatsServerProcess.start({});
const topics = topicNames(opts.topics);
const feed = await Feed.connect({
  natsUrl: nats.url,
  subjectPrefix: "md",
  topics,
  ratePerS: opts.rate,
  messages: 0,
  feedBytes: 0,
});
void feed.start();
const natsSample = (): ProcessSample | undefined =>
  nats.pid === undefined ? undefined : sampleProcess(nats.pid);

async function runVariant(round: number, workers: number): Promise<VariantRun> {
  const gateway = await LocalTarget.start(["--workers", String(workers)], nats.url);
  let fleet: ClientFleet | undefined;
  try {
    await waitReady(gateway.port, 60_000);
    const pids = await waitForWorkers(gateway.pid, workers, 30_000);
    fleet = ClientFleet.spawn(opts.clientProcesses);
    await fleet.connect(
      {
        host: HOST,
        port: gateway.port,
        path: STREAM_PATH,
        topicNames: topics,
        topicsPerClient: opts.topicsPerClient,
        sourceAddresses: sourceAddressesFor(opts.clients),
        concurrency: 64,
      },
      0,
      opts.clients,
      120_000,
    );
    await sleep(opts.warmupS * 1000);
    const fromMark = await fleet.mark();
    const from = {
      gateway: sampleGateway(pids),
      clients: fleet.pids.map((pid) => sampleProcess(pid)),
      nats: natsSample(),
      self: process.cpuUsage(),
      machine: machineCpuTicks(),
      published: feed.published,
      atMs: performance.now(),
    };
    await sleep(opts.measureS * 1000);
    const to = {
      gateway: sampleGateway(pids),
      clients: fleet.pids.map((pid) => sampleProcess(pid)),
      nats: natsSample(),
      self: process.cpuUsage(),
      machine: machineCpuTicks(),
      published: feed.published,
      atMs: performance.now(),
    };
    const toMark = await fleet.mark();
    const connections = connectionsByWorker(await scrapeMetrics(gateway.port));
    const seconds = (to.atMs - from.atMs) / 1000;
    const cpu = gatewayCpuS(from.gateway, to.gateway);
    const serverCpuS = cpu.workers.reduce((a, b) => a + b, 0) + cpu.supervisor;
    const delivered = toMark.events - fromMark.events;
    const published = to.published - from.published;
    const clientsCpuS = to.clients.reduce(
      (sum, s, i) =>
        sum +
        (s === undefined || from.clients[i] === undefined
          ? 0
          : s.cpuS - (from.clients[i] as ProcessSample).cpuS),
      0,
    );
    const selfUs = to.self.user + to.self.system - (from.self.user + from.self.system);
    const run: VariantRun = {
      round,
      workers,
      seconds,
      delivered,
      deliveredPerS: delivered / seconds,
      published,
      publishedPerS: published / seconds,
      // Heartbeats (one per client per second at the default --heartbeat-ms) are events too: left out here.
      loss: published > 0 ? 1 - (delivered - opts.clients * seconds) / (published * subscribersPerTopic) : 0,
      workerCpuS: cpu.workers,
      supervisorCpuS: cpu.supervisor,
      serverCpuNsPerEvent: delivered > 0 ? (serverCpuS * 1e9) / delivered : Number.NaN,
      serverCpu: serverCpuS / seconds,
      clientsCpu: clientsCpuS / seconds,
      natsCpu:
        to.nats === undefined || from.nats === undefined ? 0 : (to.nats.cpuS - from.nats.cpuS) / seconds,
      publisherCpu: selfUs / 1e6 / seconds,
      machineBusy:
        from.machine === undefined || to.machine === undefined
          ? undefined
          : ((to.machine.busy - from.machine.busy) / (to.machine.total - from.machine.total)) * info.cores,
      connectionsByWorker: Object.fromEntries([...connections].map(([w, c]) => [String(w), c])),
    };
    await fleet.close(30_000);
    fleet = undefined;
    return run;
  } finally {
    fleet?.kill();
    await gateway.stop();
  }
}

const pct = (share: number): string => `${Math.round(share * 100)}%`;
const parameters = { ...opts, variants, subscribersPerTopic, resultsDir: undefined };
console.log(`workers-ceiling: ${JSON.stringify(parameters)}`);
const runs: VariantRun[] = [];
try {
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 === 1 ? variants : [...variants].reverse();
    for (const workers of order) {
      const run = await runVariant(round, workers);
      runs.push(run);
      console.log(
        `round ${round} --workers ${workers}: ${int(run.deliveredPerS)} delivered/s, ${int(run.serverCpuNsPerEvent)} ns server CPU/event, ` +
          `server ${pct(run.serverCpu)} (${run.workerCpuS.map((s) => pct(s / run.seconds)).join(" + ")}${run.workers > 1 ? ` + supervisor ${pct(run.supervisorCpuS / run.seconds)}` : ""}), ` +
          `clients ${pct(run.clientsCpu)}, nats-server ${pct(run.natsCpu)}, publisher ${pct(run.publisherCpu)}, ` +
          `machine ${run.machineBusy === undefined ? "n/a" : pct(run.machineBusy)}, loss ${(run.loss * 100).toFixed(1)}%`,
      );
    }
  }
} finally {
  await feed.close();
  await nats.dispose();
}

const summary = variants.map((workers) => {
  const of = runs.filter((r) => r.workers === workers);
  return {
    workers,
    deliveredPerS: median(of.map((r) => r.deliveredPerS)),
    deliveredMin: Math.min(...of.map((r) => r.deliveredPerS)),
    deliveredMax: Math.max(...of.map((r) => r.deliveredPerS)),
    serverCpuNsPerEvent: median(of.map((r) => r.serverCpuNsPerEvent)),
    serverCpu: median(of.map((r) => r.serverCpu)),
    machineBusy: median(of.map((r) => r.machineBusy ?? 0)),
    loss: median(of.map((r) => r.loss)),
  };
});
const base = summary[0];
/** Per round, each variant against the first, from runs back to back (least exposed to drift). */
const perRound = (read: (r: VariantRun) => number): string =>
  Array.from({ length: opts.rounds }, (_, i) => {
    const inRound = runs.filter((r) => r.round === i + 1);
    const first = inRound.find((r) => r.workers === variants[0]);
    return inRound
      .filter((r) => r.workers !== variants[0])
      .map((r) => (first === undefined ? "n/a" : (read(r) / read(first)).toFixed(2)))
      .join("/");
  }).join(", ");
for (const s of summary) {
  console.log(
    `--workers ${s.workers}: median ${int(s.deliveredPerS)} delivered/s (${int(s.deliveredMin)}–${int(s.deliveredMax)}), ` +
      `${int(s.serverCpuNsPerEvent)} ns server CPU/event` +
      (base !== undefined && s !== base
        ? `; vs --workers ${base.workers}: ×${(s.deliveredPerS / base.deliveredPerS).toFixed(2)} delivered/s, ×${(s.serverCpuNsPerEvent / base.serverCpuNsPerEvent).toFixed(2)} CPU/event`
        : ""),
  );
}

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: ${opts.clients} clients × ${opts.topicsPerClient} of ${opts.topics} topics (${subscribersPerTopic} subscribers per topic) ` +
    `in ${opts.clientProcesses} client process(es); feed ${int(opts.rate)} msgs/s to nats-server from this process; ` +
    `gateway = \`tickwire serve --workers N\` with its defaults (heartbeats on: ${int(opts.clients)} frames/s, counted as events); ` +
    `${opts.rounds} rounds, order alternating; ${opts.warmupS} s warm-up, ${opts.measureS} s counted; a fresh gateway per variant and round`,
  "",
  table(
    [
      "--workers",
      "delivered/s (median)",
      "min–max",
      "server CPU ns/event",
      "server CPU",
      "machine busy",
      "loss",
      "vs first: delivered/s",
      "vs first: CPU/event",
      "per round (delivered/s ratio)",
    ],
    summary.map((s) => [
      s.workers,
      int(s.deliveredPerS),
      `${int(s.deliveredMin)}–${int(s.deliveredMax)}`,
      int(s.serverCpuNsPerEvent),
      pct(s.serverCpu),
      `${pct(s.machineBusy)} of ${info.cores * 100}%`,
      `${(s.loss * 100).toFixed(1)}%`,
      base === undefined ? "n/a" : (s.deliveredPerS / base.deliveredPerS).toFixed(2),
      base === undefined ? "n/a" : (s.serverCpuNsPerEvent / base.serverCpuNsPerEvent).toFixed(2),
      s === base ? "—" : perRound((r) => r.deliveredPerS),
    ]),
  ),
  "",
  table(
    [
      "round",
      "--workers",
      "delivered/s",
      "server CPU ns/event",
      "workers CPU",
      "supervisor",
      "clients",
      "nats-server",
      "publisher",
      "machine busy",
      "published/s",
      "loss",
      "connections per worker",
    ],
    runs.map((r) => [
      r.round,
      r.workers,
      int(r.deliveredPerS),
      int(r.serverCpuNsPerEvent),
      r.workerCpuS.map((s) => pct(s / r.seconds)).join(" "),
      r.workers > 1 ? pct(r.supervisorCpuS / r.seconds) : "—",
      pct(r.clientsCpu),
      pct(r.natsCpu),
      pct(r.publisherCpu),
      r.machineBusy === undefined ? "n/a" : pct(r.machineBusy),
      int(r.publishedPerS),
      `${(r.loss * 100).toFixed(1)}%`,
      Object.values(r.connectionsByWorker).map(int).join(" / "),
    ]),
  ),
  "",
  "**What this machine allows one to conclude.** It has 2 cores, and the clients, nats-server and the " +
    "publisher run on them beside the gateway. With `--workers 2` the two workers can use at most what the " +
    "other processes leave, so a higher delivered/s is not to be expected here, and a lower one does not show " +
    "that workers scale badly: the machine is saturated either way (see machine busy). What the run does show: " +
    "(1) **server CPU per delivered event**, which moves far less with the share of CPU each process gets: a " +
    "`--workers 2` figure close to `--workers 1` means the split costs little per event (two NATS connections " +
    "and subscriptions, each topic's feed decoded once per worker that has a client on it, the supervisor); a " +
    "higher one is that overhead; (2) that connections spread over both workers and every client is served. " +
    "The speed-up of N workers needs the clients elsewhere (another machine) and more cores than workers + " +
    "nats-server + publisher; until then, per-core capacity × cores, from the CPU per event here, is the estimate " +
    "(docs/CAPACITY.md).",
].join("\n");
const files = writeResults(
  opts.resultsDir,
  "workers-ceiling",
  "Fan-out ceiling through NATS: --workers 1 vs --workers 2",
  { info, parameters, smoke: opts.smoke, summary, runs },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);
