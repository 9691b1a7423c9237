/**
 * A client worker process: holds up to ~15,000 WebSocket clients (the process limit here is 20,000
 * open files), ramps them up, plays the misbehaviour parts (slow readers, churn, reconnect storm) and
 * counts everything per client. Driven over IPC by the coordinator; exits by itself after `finish`
 * or when the coordinator goes away.
 */
import WebSocket from "ws";
import { loadAdapter, type AdapterSink, type ClientAdapter, type ConnectionHandler } from "./adapter.ts";
import { loadSecretFile, mintTestToken } from "../src/auth/index.ts";
import { LatencyHistogram } from "./histogram.ts";
import { inShare, modelOf, planOf, type ClientPlan } from "./model.ts";
import type { LoadTestOptions } from "./options.ts";
import { SequenceTracker, addSequenceCounts, emptySequenceCounts } from "./sequence.ts";
import { nowUs } from "./clock.ts";
import {
  emptyCounters,
  type FromWorker,
  type StartCommand,
  type ToWorker,
  type WorkerCounters,
} from "./worker-protocol.ts";

const CLOSE_GRACE_MS = 3000;
/** Longest reconnect delay honoured from a close reason's retryAfterMs. */
const MAX_RETRY_AFTER_MS = 30_000;

const counters: WorkerCounters = emptyCounters();
const latency = new LatencyHistogram();
const connectTimes = new LatencyHistogram();
const clients: LoadClient[] = [];
let adapter: ClientAdapter;
let options: LoadTestOptions;
let finishing = false;
const timers: NodeJS.Timeout[] = [];

function send(message: FromWorker): void {
  process.send?.(message);
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/** One load client: reconnects keep the same plan, and its counters span all its connections. */
class LoadClient implements AdapterSink {
  ws: WebSocket | undefined;
  handler: ConnectionHandler | undefined;
  readonly tracker = new SequenceTracker(emptySequenceCounts());
  /** Ready: subscribed once, or failed before ever opening. */
  settled = false;
  failed = false;
  subscribedOnce = false;
  closingByUs = false;
  latencySumUs = 0;
  latencyMaxUs = 0;
  #frameNowUs = 0;

  constructor(
    readonly plan: ClientPlan,
    readonly slow: boolean,
    readonly localAddress: string | undefined,
    private readonly onSettled: () => void,
    /** `--jwt-secret-file`: this client's token, sent at the upgrade. */
    readonly token: string | undefined = undefined,
  ) {}

  connect(): void {
    const started = nowUs();
    const ws = new WebSocket(adapter.url(options.url), [...adapter.protocols], {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: options.connectTimeoutS * 1000,
      ...(this.localAddress !== undefined ? { localAddress: this.localAddress } : {}),
      ...(this.token !== undefined ? { headers: { authorization: `Bearer ${this.token}` } } : {}),
    });
    this.ws = ws;
    this.closingByUs = false;
    this.tracker.reset();
    const handler = adapter.connection(this, this.plan);
    this.handler = handler;
    ws.on("open", () => {
      counters.opens++;
      connectTimes.record(nowUs() - started);
      handler.open();
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      counters.frames++;
      counters.bytes += data.length;
      this.#frameNowUs = nowUs();
      handler.message(data, isBinary);
    });
    ws.on("unexpected-response", (_request, response) => {
      bump(counters.errorsByCode, `http ${response.statusCode ?? "?"}`);
      ws.terminate();
    });
    ws.on("error", (error: NodeJS.ErrnoException) => {
      bump(counters.errorsByCode, error.code ?? error.message.slice(0, 40));
    });
    ws.on("close", (code: number, reason: Buffer) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (!this.closingByUs && !finishing) bump(counters.closesByCode, String(code));
      if (!this.subscribedOnce && !this.settled) {
        this.failed = true;
        this.#settle();
        return;
      }
      if (!this.closingByUs && !finishing && options.reconnect) {
        const delayMs = Math.min(retryAfterMs(reason), MAX_RETRY_AFTER_MS) * (1 + Math.random() * 0.5);
        timers.push(
          setTimeout(() => {
            if (finishing) return;
            counters.reconnects++;
            this.connect();
          }, delayMs),
        );
      }
    });
  }

  /** Closes on purpose (churn, storm, end of run): `abrupt` drops the TCP connection without a close frame. */
  close(abrupt: boolean): void {
    const ws = this.ws;
    if (ws === undefined) return;
    this.closingByUs = true;
    if (abrupt || ws.readyState !== WebSocket.OPEN) ws.terminate();
    else ws.close(1000);
  }

  // AdapterSink
  event(topic: string, q: number, flags: number, n: number, teUs: number): void {
    this.tracker.observe(topic, q, flags, n);
    if ((flags & 1) !== 0) return; // snapshots are old values: no latency
    if (Number.isNaN(teUs)) {
      counters.unstamped++;
      return;
    }
    const us = this.#frameNowUs - teUs;
    latency.record(us);
    this.latencySumUs += us;
    if (us > this.latencyMaxUs) this.latencyMaxUs = us;
  }
  subscribed(): void {
    this.subscribedOnce = true;
    if (this.slow && options.slowMode === "pause") this.ws?.pause();
    this.#settle();
  }
  error(code: number): void {
    bump(counters.errorsByCode, String(code));
  }
  heartbeat(): void {
    counters.heartbeats++;
  }
  snapshotEnd(): void {
    counters.snapshotEnds++;
  }
  send(data: string | Buffer): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  #settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled();
  }
}

/** `retryAfterMs` from a JSON close reason (`{"msg":…,"retryAfterMs":N}`), else 1000 ms. */
function retryAfterMs(reason: Buffer): number {
  try {
    const value = (JSON.parse(reason.toString("utf8")) as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof value === "number" && value >= 0) return value;
  } catch {
    // not JSON: the default below
  }
  return 1000;
}

/**
 * One HS256 token per client (`sub` load-N, every topic granted, valid 24 h), minted before the ramp so
 * signing costs nothing during the measurement; none without `--jwt-secret-file`.
 */
async function mintTokens(secretFile: string, from: number, count: number): Promise<(string | undefined)[]> {
  if (secretFile === "") return new Array<undefined>(count).fill(undefined);
  const secret = await loadSecretFile(secretFile);
  const tokens: string[] = [];
  for (let k = 0; k < count; k++) {
    tokens.push(
      await mintTestToken({ secret, sub: `load-${from + k}`, grants: { topics: [">"] }, ttlMs: 86_400_000 }),
    );
  }
  return tokens;
}

async function start(command: StartCommand): Promise<void> {
  options = command.options;
  adapter = await loadAdapter(options);
  const model = modelOf(options);
  let settled = 0;
  let subscribed = 0;
  const onSettled = (): void => {
    if (++settled === command.count) {
      for (const c of clients) if (c.subscribedOnce) subscribed++;
      send({
        type: "ready",
        subscribed,
        failed: command.count - subscribed,
        connect: connectTimes.serialize(),
      });
    }
  };
  const addresses = command.sourceAddresses;
  const tokens = await mintTokens(options.jwtSecretFile, command.from, command.count);
  for (let k = 0; k < command.count; k++) {
    const index = command.from + k;
    clients.push(
      new LoadClient(
        planOf(model, index),
        inShare(index, options.slowShare, 4),
        addresses.length > 0 ? addresses[index % addresses.length] : undefined,
        onSettled,
        tokens[k],
      ),
    );
  }
  if (command.count === 0)
    send({ type: "ready", subscribed: 0, failed: 0, connect: connectTimes.serialize() });
  // Ramp: client i may start at startAtMs + rampS·i/clients, with at most connectConcurrency handshakes in flight.
  const rampMs = options.rampS * 1000;
  let next = 0;
  const launch = (): void => {
    const now = Date.now();
    let inFlight = 0;
    for (let k = 0; k < next; k++) {
      const c = clients[k]!;
      if (!c.settled && c.ws?.readyState === WebSocket.CONNECTING) inFlight++;
    }
    while (next < clients.length && inFlight < options.connectConcurrency) {
      const dueAt = command.startAtMs + (rampMs * (command.from + next)) / options.clients;
      if (dueAt > now) break;
      clients[next++]!.connect();
      inFlight++;
    }
    if (next < clients.length) timers.push(setTimeout(launch, 5));
  };
  launch();
  if (options.slowShare > 0 && options.slowMode === "throttle") {
    // Every slow client reads slowDuty of each second: paused for the rest, so the server sees backpressure.
    const readMs = Math.max(1, Math.round(options.slowDuty * 1000));
    timers.push(
      setInterval(() => {
        for (const c of clients) if (c.slow) c.ws?.resume();
        timers.push(setTimeout(() => clients.forEach((c) => c.slow && c.ws?.pause()), readMs));
      }, 1000),
    );
  }
}

function onPublishing(atMs: number): void {
  if (options.churnPerS > 0) {
    // This worker's share of the churn, in 100 ms steps; fractions carry over.
    const perTick = (options.churnPerS * clients.length) / options.clients / 10;
    let owed = 0;
    timers.push(
      setInterval(() => {
        owed += perTick;
        for (; owed >= 1; owed--) {
          const c = clients[Math.floor(Math.random() * clients.length)];
          if (c?.ws?.readyState !== WebSocket.OPEN) continue;
          counters.churned++;
          c.close(false);
          c.connect();
        }
      }, 100),
    );
  }
  if (options.stormAtS > 0) {
    timers.push(
      setTimeout(
        () => {
          for (const c of clients) {
            if (!inShare(c.plan.index, options.stormShare, 5) || c.ws?.readyState !== WebSocket.OPEN)
              continue;
            counters.churned++;
            c.close(true);
            c.connect();
          }
        },
        Math.max(0, atMs + options.stormAtS * 1000 - Date.now()),
      ),
    );
  }
}

function sample(): void {
  let open = 0;
  for (const c of clients) if (c.ws?.readyState === WebSocket.OPEN) open++;
  // Per-client sequence counts roll up into the worker's totals at sample time.
  const totals = emptySequenceCounts();
  for (const c of clients) addSequenceCounts(totals, c.tracker.counts);
  const cpu = process.cpuUsage();
  send({
    type: "sample",
    counters: { ...counters, ...totals },
    latency: latency.serialize(),
    open,
    cpuUs: cpu.user + cpu.system,
  });
  latency.reset();
}

async function finish(): Promise<void> {
  finishing = true;
  for (const t of timers) clearTimeout(t);
  send({
    type: "final",
    events: clients.map((c) => c.tracker.counts.events),
    latencySumUs: clients.map((c) => c.latencySumUs),
    latencyMaxUs: clients.map((c) => c.latencyMaxUs),
    missedUpdates: clients.map((c) => c.tracker.counts.missedUpdates),
  });
  const open = clients.filter((c) => c.ws !== undefined);
  const closed = open.map(
    (c) =>
      new Promise<void>((resolve) => (c.ws === undefined ? resolve() : c.ws.once("close", () => resolve()))),
  );
  for (const c of open) {
    c.ws?.resume();
    c.close(false);
  }
  let destroyed = 0;
  const timer = setTimeout(() => {
    for (const c of open) {
      if (c.ws !== undefined) {
        destroyed++;
        c.ws.terminate();
      }
    }
  }, CLOSE_GRACE_MS);
  await Promise.all(closed);
  clearTimeout(timer);
  send({ type: "closed", destroyed });
  process.disconnect();
}

function fail(error: unknown): void {
  send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  finishing = true;
  for (const t of timers) clearTimeout(t);
  for (const c of clients) c.ws?.terminate();
  process.exitCode = 1;
  process.disconnect();
}

process.on("message", (message: ToWorker) => {
  try {
    switch (message.type) {
      case "start":
        start(message).catch(fail);
        return;
      case "publishing":
        onPublishing(message.atMs);
        return;
      case "sample":
        sample();
        return;
      case "finish":
        finish().catch(fail);
        return;
    }
  } catch (error) {
    fail(error);
  }
});

// The coordinator died or closed the channel: drop everything so this process cannot linger.
process.on("disconnect", () => {
  finishing = true;
  for (const t of timers) clearTimeout(t);
  for (const c of clients) c.ws?.terminate();
});
