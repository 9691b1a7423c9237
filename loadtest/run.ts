/**
 * The coordinator of a load test: starts a local target when asked, forks the client workers, runs
 * the feed, samples every worker about once a second, and builds the result. Every wait is bounded;
 * every process and connection it opens is closed before it returns, also on failure.
 */
import type { ChildProcess } from "node:child_process";
import { availableParallelism, cpus, hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { forkTs } from "./fork.ts";
import { LatencyHistogram } from "./histogram.ts";
import { LocalTarget, sampleProcess, type ProcessSample } from "./local-target.ts";
import { modelOf, planOf, subscribersPerTopic, topicNames, topicsOfPlan } from "./model.ts";
import type { LoadTestOptions } from "./options.ts";
import { Feed } from "./publisher.ts";
import { WORKER_CPU_LIMIT_PCT, WORKER_REPLY_LIMIT_MS, defaultWorkers, judgeValidity } from "./validity.ts";
import {
  addCounts,
  expectedDeliveries,
  fairness,
  type LoadTestResult,
  type SeriesPoint,
  type ServerFigures,
} from "./result.ts";
import {
  emptyCounters,
  type FinalReport,
  type FromWorker,
  type SampleReport,
  type StartCommand,
  type ToWorker,
  type WorkerCounters,
} from "./worker-protocol.ts";

const WORKER = new URL("./worker.ts", import.meta.url);
/** One worker holds at most this many sockets (the process limit here is 20,000 open files). */
export const CLIENTS_PER_WORKER = 15_000;
/** Ephemeral ports per source address are 32768–60999; stay well below. */
const CLIENTS_PER_SOURCE_ADDRESS = 20_000;
const SAMPLE_MS = 1000;
const DRAIN_SAMPLE_MS = 250;

export interface RunHooks {
  /** Called with each interval's figures (the CLI draws its progress line from it). */
  readonly onSample?: (
    point: SeriesPoint,
    phase: string,
    totals: { delivered: number; published: number; errors: number },
  ) => void;
  /** Log lines (phases, warnings). */
  readonly log?: (line: string) => void;
}

/** Source addresses for a target host: 127.0.0.x, one per 20,000 clients, on loopback; none elsewhere. */
export function sourceAddressesFor(url: string, clients: number, explicit: string): string[] {
  if (explicit !== "")
    return explicit
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);
  const host = new URL(url).hostname;
  if (!/^127\./.test(host) && host !== "localhost") return [];
  const count = Math.ceil(clients / CLIENTS_PER_SOURCE_ADDRESS);
  return count <= 1 ? [] : Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
}

class Worker {
  readonly exited: Promise<void>;
  #listeners = new Set<(m: FromWorker) => void>();
  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.on("message", (m: FromWorker) => {
      for (const l of [...this.#listeners]) l(m);
    });
  }
  /** Sends `command` (if any) and resolves with the first reply of `type`; rejects on error, exit or timeout. */
  request<T extends FromWorker["type"]>(
    command: ToWorker | undefined,
    type: T,
    timeoutMs: number,
  ): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`worker ${this.child.pid} did not send "${type}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onExit = (code: number | null): void =>
        done(new Error(`worker ${this.child.pid} exited (code ${code}) waiting for "${type}"`));
      const listener = (m: FromWorker): void => {
        if (m.type === "error") done(new Error(`worker ${this.child.pid}: ${m.message}`));
        else if (m.type === type) done(undefined, m as Extract<FromWorker, { type: T }>);
      };
      const done = (error: Error | undefined, value?: Extract<FromWorker, { type: T }>): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        this.child.off("exit", onExit);
        if (error !== undefined) reject(error);
        else resolve(value!);
      };
      this.#listeners.add(listener);
      this.child.once("exit", onExit);
      if (command !== undefined) this.child.send(command);
    });
  }
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** Waits until the gateway's NATS connection holds every pattern clients asked for (nats-server monitoring). */
async function waitForInterest(
  monitorUrl: string,
  subjects: ReadonlySet<string>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const body = (await (await fetch(`${monitorUrl}/connz?subs=1&limit=1024`)).json()) as {
        connections?: { subscriptions_list?: string[] }[];
      };
      const held = new Set<string>();
      for (const c of body.connections ?? []) for (const s of c.subscriptions_list ?? []) held.add(s);
      if ([...subjects].every((s) => held.has(s))) return true;
    } catch {
      // monitoring not up yet, or not reachable: retry until the deadline
    }
    await sleep(50);
  }
  return false;
}

function sumCounters(reports: readonly SampleReport[]): WorkerCounters {
  const total = emptyCounters();
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.counters)) {
      if (typeof v === "number") (total as unknown as Record<string, number>)[k]! += v;
    }
    addCounts(total.closesByCode, r.counters.closesByCode);
    addCounts(total.errorsByCode, r.counters.errorsByCode);
  }
  return total;
}

/** Resolves when `promise` settles or after `ms`, whichever is first, leaving no timer behind. */
async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

const errorTotal = (c: WorkerCounters): number => Object.values(c.errorsByCode).reduce((a, b) => a + b, 0);

/** Runs one load test to the end and returns its result. */
export async function runLoadTest(options: LoadTestOptions, hooks: RunHooks = {}): Promise<LoadTestResult> {
  const log = hooks.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const model = modelOf(options);
  const topics = topicNames(model);
  const subscribers = subscribersPerTopic(model, options.clients);
  let local: LocalTarget | undefined;
  let feed: Feed | undefined;
  const workers: Worker[] = [];
  let stopFeedTimer: NodeJS.Timeout | undefined;
  try {
    if (options.url === "") {
      log("starting nats-server and a tickwire gateway on loopback");
      local = await LocalTarget.start(options.gatewayArgs.split(/\s+/).filter((arg) => arg !== ""));
    }
    const url = local?.url ?? options.url;
    const natsUrl = local?.natsUrl ?? options.nats;
    const monitorUrl = local?.nats?.monitorUrl ?? options.natsMonitorUrl;
    const serverPid = options.serverPid > 0 ? options.serverPid : (local?.pid ?? 0);
    if (natsUrl !== "") {
      feed = await Feed.connect({
        natsUrl,
        subjectPrefix: options.subjectPrefix,
        topics,
        ratePerS: options.rate,
        messages: options.messages,
        feedBytes: options.feedBytes,
      });
    } else {
      log("no NATS URL: publishing nothing, measuring the target's own feed (latency from its te stamps)");
    }
    const serverBefore = serverPid > 0 ? sampleProcess(serverPid) : undefined;

    // Workers and the connection ramp.
    const workerCount =
      options.workers > 0
        ? options.workers
        : defaultWorkers(options.clients, availableParallelism(), local !== undefined, CLIENTS_PER_WORKER);
    const sourceAddresses = sourceAddressesFor(url, options.clients, options.sourceAddresses);
    const startAtMs = Date.now() + 200;
    for (let w = 0; w < workerCount; w++) workers.push(new Worker(forkTs(WORKER)));
    log(`connecting ${options.clients} clients over ${workerCount} worker(s) to ${url}`);
    const readyTimeoutMs = (options.rampS + options.connectTimeoutS) * 1000 + 15_000;
    const ready = await Promise.all(
      workers.map((worker, w) => {
        const from = Math.floor((options.clients * w) / workerCount);
        const to = Math.floor((options.clients * (w + 1)) / workerCount);
        const command: StartCommand = {
          type: "start",
          options: { ...options, url },
          from,
          count: to - from,
          startAtMs,
          sourceAddresses,
        };
        return worker.request(command, "ready", readyTimeoutMs);
      }),
    );
    const connectHistogram = new LatencyHistogram();
    let subscribed = 0;
    let failed = 0;
    for (const r of ready) {
      connectHistogram.add(r.connect);
      subscribed += r.subscribed;
      failed += r.failed;
    }
    log(`${subscribed} clients subscribed, ${failed} failed`);

    if (feed !== undefined) {
      const subjects = new Set<string>();
      if (options.adapter === "tickwire" && monitorUrl !== "") {
        for (let i = 0; i < options.clients; i++)
          for (const p of planOf(model, i).patterns) subjects.add(`${options.subjectPrefix}.${p}`);
        if (!(await waitForInterest(monitorUrl, subjects, 10_000)))
          log(
            "warning: the gateway did not hold NATS interest in every pattern within 10 s; publishing anyway",
          );
      }
    }
    // Settle before publishing, and before reading the server's RSS with every client subscribed.
    await sleep(options.settleMs);
    const serverConnected = serverPid > 0 ? sampleProcess(serverPid) : undefined;

    // Publishing and sampling.
    const series: SeriesPoint[] = [];
    const window = new LatencyHistogram();
    const all = new LatencyHistogram();
    let previous = emptyCounters();
    let previousPublished = 0;
    let previousCpuUs = workers.map(() => 0);
    let clientCpuUs = 0;
    // Per worker CPU while publishing, and each measured interval's p50: what judgeValidity reads.
    const publishingCpuUs = workers.map(() => 0);
    const publishingReplyMs = workers.map(() => 0);
    let publishingS = 0;
    let publishingSamples = 0;
    const intervalP50Us: number[] = [];
    const warnedWorkers = new Set<number>();
    let lastSampleMs = performance.now();
    let lastServer: ProcessSample | undefined = serverConnected;
    let rssPeak = serverConnected?.rssBytes ?? 0;
    let windowEvents = 0;
    let windowS = 0;
    let windowCpuS = 0;
    let lastOpen = 0;
    const publishStartMs = performance.now();
    const inWindow = (tS: number): boolean => tS > options.warmupS;
    const sampleAll = async (phase: string): Promise<WorkerCounters> => {
      const askedMs = performance.now();
      const replyMs = workers.map(() => 0);
      const reports = await Promise.all(
        workers.map(async (w, i) => {
          const report = await w.request({ type: "sample" }, "sample", 60_000);
          replyMs[i] = performance.now() - askedMs;
          return report;
        }),
      );
      const now = performance.now();
      const dtS = (now - lastSampleMs) / 1000;
      lastSampleMs = now;
      const tS = (now - publishStartMs) / 1000;
      const totals = sumCounters(reports);
      const interval = new LatencyHistogram();
      for (const r of reports) interval.add(r.latency);
      all.add(interval);
      const deliveredDelta = totals.events - previous.events;
      const published = feed?.published ?? 0;
      const server = serverPid > 0 ? sampleProcess(serverPid) : undefined;
      let serverCpuPct: number | null = null;
      if (server !== undefined && lastServer !== undefined && server.atMs > lastServer.atMs) {
        serverCpuPct = ((server.cpuS - lastServer.cpuS) / ((server.atMs - lastServer.atMs) / 1000)) * 100;
        if (inWindow(tS) && phase === "publishing") windowCpuS += server.cpuS - lastServer.cpuS;
      }
      if (server !== undefined) {
        lastServer = server;
        rssPeak = Math.max(rssPeak, server.rssBytes);
      }
      // The first publishing sample's interval also holds the worker's start-up and connections: its CPU
      // is not the load's, so the CPU mean starts at the second.
      const countCpu = phase === "publishing" && ++publishingSamples > 1;
      reports.forEach((r, i) => {
        const cpuUs = r.cpuUs - previousCpuUs[i]!;
        clientCpuUs += cpuUs;
        if (phase !== "publishing") return;
        publishingReplyMs[i] = Math.max(publishingReplyMs[i]!, replyMs[i]!);
        const pct = cpuUs / 1e4 / dtS;
        if (countCpu) publishingCpuUs[i]! += cpuUs;
        const busy = (countCpu && pct >= WORKER_CPU_LIMIT_PCT) || replyMs[i]! > WORKER_REPLY_LIMIT_MS;
        if (busy && !warnedWorkers.has(i)) {
          warnedWorkers.add(i);
          log(
            `warning: client worker ${i} at ${pct.toFixed(0)}% of a core, answered a sample in ${replyMs[i]!.toFixed(0)} ms: ` +
              "the harness may be the bottleneck (see the result's validity)",
          );
        }
      });
      if (countCpu) publishingS += dtS;
      previousCpuUs = reports.map((r) => r.cpuUs);
      if (phase !== "ramp" && inWindow(tS)) {
        window.add(interval);
        if (phase === "publishing") {
          windowEvents += deliveredDelta;
          windowS += dtS;
          if (interval.count > 0) intervalP50Us.push(interval.percentileUs(50));
        }
      }
      lastOpen = reports.reduce((a, r) => a + r.open, 0);
      const point: SeriesPoint = {
        tS: Math.round(tS * 1000) / 1000,
        publishedPerS: Math.round((published - previousPublished) / dtS),
        deliveredPerS: Math.round(deliveredDelta / dtS),
        p50Us: interval.percentileUs(50),
        p99Us: interval.percentileUs(99),
        maxUs: interval.maxUs,
        open: lastOpen,
        gaps: totals.gaps - previous.gaps,
        serverCpuPct: serverCpuPct === null ? null : Math.round(serverCpuPct * 10) / 10,
        serverRssBytes: server?.rssBytes ?? null,
      };
      series.push(point);
      hooks.onSample?.(point, phase, { delivered: totals.events, published, errors: errorTotal(totals) });
      previous = totals;
      previousPublished = published;
      return totals;
    };

    log(
      `publishing ${options.rate}/s over ${topics.length} topics: ${options.warmupS} s warm-up, ${options.durationS} s measured`,
    );
    for (const w of workers) w.child.send({ type: "publishing", atMs: Date.now() } satisfies ToWorker);
    const publishing = feed?.start();
    const endMs = publishStartMs + (options.warmupS + options.durationS) * 1000;
    // The feed stops on time even when overloaded workers answer samples late.
    stopFeedTimer = setTimeout(() => feed?.stop(), endMs - performance.now());
    let publishingDone = false;
    void publishing?.then(() => (publishingDone = true));
    while (performance.now() < endMs && !(publishingDone && feed !== undefined && options.messages > 0)) {
      await atMost(
        publishing ?? new Promise(() => undefined),
        Math.min(SAMPLE_MS, Math.max(0, endMs - performance.now())),
      );
      if (performance.now() - lastSampleMs >= SAMPLE_MS * 0.9 || publishingDone)
        await sampleAll("publishing");
    }
    feed?.stop();
    await feed?.flush();
    // Drain: until the clients stop receiving (two quiet samples in a row) or drainS passes.
    const drainEnd = performance.now() + options.drainS * 1000;
    let quiet = 0;
    let totals = previous;
    while (performance.now() < drainEnd && quiet < 2) {
      await sleep(DRAIN_SAMPLE_MS);
      const before = totals.events + totals.snapshots;
      totals = await sampleAll("draining");
      quiet = totals.events + totals.snapshots === before ? quiet + 1 : 0;
    }
    totals = await sampleAll("draining");
    const serverEnd = serverPid > 0 ? sampleProcess(serverPid) : undefined;

    // Listen for "closed" before asking: a quick worker may send it while another is still reporting.
    const closed = Promise.all(workers.map((w) => w.request(undefined, "closed", 20_000)));
    closed.catch(() => undefined);
    const finals = await Promise.all(workers.map((w) => w.request({ type: "finish" }, "final", 15_000)));
    await closed;
    await Promise.all(workers.map((w) => atMost(w.exited, 10_000)));

    // Per-client expectations for fairness: events published on each client's topics.
    const published = feed?.perTopic ?? topics.map(() => 0);
    const perClient = (f: FinalReport, key: keyof Omit<FinalReport, "type">): number[] => [...f[key]];
    const events = finals.flatMap((f) => perClient(f, "events"));
    const expectedPerClient = events.map((_, i) =>
      topicsOfPlan(model, planOf(model, i)).reduce((sum, t) => sum + published[t]!, 0),
    );
    const server: ServerFigures | null =
      serverBefore !== undefined && serverConnected !== undefined
        ? {
            pid: serverPid,
            rssBeforeBytes: serverBefore.rssBytes,
            rssConnectedBytes: serverConnected.rssBytes,
            rssAnonBeforeBytes: serverBefore.rssAnonBytes,
            rssAnonConnectedBytes: serverConnected.rssAnonBytes,
            rssPeakBytes: Math.max(rssPeak, serverEnd?.rssBytes ?? 0),
            rssPerConnectionBytes:
              subscribed > 0 ? (serverConnected.rssBytes - serverBefore.rssBytes) / subscribed : 0,
            rssAnonPerConnectionBytes:
              subscribed > 0 ? (serverConnected.rssAnonBytes - serverBefore.rssAnonBytes) / subscribed : 0,
            cpuPct: windowS > 0 ? Math.round((windowCpuS / windowS) * 1000) / 10 : 0,
          }
        : null;
    const publishedTotal = feed?.published ?? 0;
    const publishS = Math.max(1e-3, (feed?.lastPublishMs ?? publishStartMs) - publishStartMs) / 1000;
    const headline = window.count > 0 ? window : all;
    const validity = judgeValidity({
      workerCpuPct: publishingCpuUs.map((us) => (publishingS > 0 ? us / 1e4 / publishingS : 0)),
      workerReplyMs: publishingReplyMs,
      intervalP50Us,
    });
    for (const reason of validity.reasons) log(`result invalid: ${reason}`);
    const subs = subscribers;
    return {
      tool: "tickwire-loadtest",
      version: 1,
      startedAt,
      options,
      target: { url, local: local !== undefined, adapter: options.adapter },
      environment: {
        node: process.version,
        cpu: cpus()[0]?.model.trim() ?? "unknown",
        cores: availableParallelism(),
        host: hostname(),
      },
      clients: {
        requested: options.clients,
        subscribed,
        failed,
        workers: workerCount,
        connectUs: connectHistogram.summary(),
        openAtEnd: lastOpen,
        reconnects: totals.reconnects,
        churned: totals.churned,
        clientCpuPct:
          Math.round((clientCpuUs / 1e4 / Math.max(1e-3, (performance.now() - publishStartMs) / 1000)) * 10) /
          10,
      },
      feed: {
        published: publishedTotal,
        publishedPerS: Math.round(publishedTotal / publishS),
        messageBytes: {
          min: feed !== undefined && feed.published > 0 ? feed.minBytes : 0,
          max: feed?.maxBytes ?? 0,
        },
        topics: topics.length,
        subscribersPerTopic: {
          min: Math.min(...subs),
          mean: subs.reduce((a, b) => a + b, 0) / subs.length,
          max: Math.max(...subs),
        },
      },
      delivery: {
        delivered: totals.events,
        expected: expectedDeliveries(published, subscribers),
        measuredS: Math.round(windowS * 1000) / 1000,
        deliveredPerS: windowS > 0 ? Math.round(windowEvents / windowS) : 0,
        frames: totals.frames,
        meanEventBytes:
          totals.events + totals.snapshots > 0
            ? Math.round((totals.bytes / (totals.events + totals.snapshots)) * 10) / 10
            : 0,
        eventsPerFrame:
          totals.frames > 0
            ? Math.round(((totals.events + totals.snapshots) / totals.frames) * 100) / 100
            : 0,
        snapshots: totals.snapshots,
        snapshotEnds: totals.snapshotEnds,
        heartbeats: totals.heartbeats,
        gaps: totals.gaps,
        missedUpdates: totals.missedUpdates,
        conflatedEvents: totals.conflatedEvents,
        conflatedUpdates: totals.conflatedUpdates,
        duplicates: totals.duplicates,
        unstamped: totals.unstamped,
      },
      latencyUs: { ...headline.summary(), negative: headline.negative },
      latencyHistogram: headline.serialize(),
      errorsByCode: totals.errorsByCode,
      closesByCode: totals.closesByCode,
      fairness: fairness(
        events,
        expectedPerClient,
        finals.flatMap((f) => perClient(f, "latencySumUs")),
        finals.flatMap((f) => perClient(f, "latencyMaxUs")),
      ),
      server,
      validity,
      series,
      durationS: Math.round(((performance.now() - publishStartMs) / 1000) * 10) / 10,
    };
  } finally {
    clearTimeout(stopFeedTimer);
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => atMost(w.exited, 5000)));
    await feed?.close().catch(() => undefined);
    await local?.stop();
  }
}
