import { fork, type ChildProcess } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { EmbeddedStack } from "../process/index.ts";
import { WorkerStartError } from "../errors/index.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../logging/index.ts";
import type { FleetScrape, FromWorker, ToWorker, WorkerSnapshot } from "./messages.ts";
import { sendToChild } from "./ipc.ts";
import { claimPort } from "./port.ts";

/** The worker entry beside this file (`.ts` under tsx, `.js` once built). */
const WORKER_ENTRY = fileURLToPath(
  new URL(`./worker-main${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);
/** First restart delay after a crash; doubles per crash in a row, up to {@link MAX_RESTART_DELAY_MS}. */
const FIRST_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 10_000;
/**
 * On shutdown a worker gets the drain delay, twice the shutdown grace (clients, then NATS) and this
 * margin (ms) before the supervisor kills it; a deployment's stop timeout must cover the sum.
 */
export const WORKER_STOP_MARGIN_MS = 5000;

/** A worker up this long before it exits counts as healthy: its next restart starts from the first delay. */
const HEALTHY_AFTER_MS = 10_000;
/** How long the supervisor waits for every worker's numbers for one scrape. */
const COLLECT_TIMEOUT_MS = 1000;

/**
 * The wait before restarting a worker that exited, by its crashes in a row (1 for the first, or after it
 * ran healthy for {@link HEALTHY_AFTER_MS}): 0.25 s, doubling per crash in a row, at most 10 s. A worker
 * that crashes at once on every start (a bad host, a port taken) costs a restart every 10 s, not a loop.
 */
export function restartDelayMs(crashesInRow: number): number {
  return Math.min(FIRST_RESTART_DELAY_MS * 2 ** Math.max(0, crashesInRow - 1), MAX_RESTART_DELAY_MS);
}

/** One worker slot: the index is stable across restarts (the `worker` label of its metrics). */
interface Slot {
  readonly index: number;
  child: ChildProcess | undefined;
  listening: boolean;
  ready: boolean;
  startedMs: number;
  crashesInRow: number;
  restartTimer: NodeJS.Timeout | undefined;
}

interface Collecting {
  readonly asker: Slot;
  readonly askerId: number;
  readonly snapshots: WorkerSnapshot[];
  readonly waiting: Set<number>;
  readonly timer: NodeJS.Timeout;
}

/**
 * `tickwire serve --workers N`: what runs once per machine (embedded nats-server and demo feed,
 * signals, the port), and N worker processes each running a full gateway node on the same port
 * (SO_REUSEPORT: the kernel spreads new connections over them) with its own NATS connection. A worker
 * that exits is restarted with backoff (counted, logged); its clients reconnect to the others and to it.
 * Processes, not threads: each has its own file-descriptor budget, and a crash costs only its clients.
 */
export class Supervisor {
  readonly #slots: Slot[];
  readonly #collecting = new Map<number, Collecting>();
  #nextCollectId = 0;
  #restarts = 0;
  /** IPC messages to workers that failed (the worker was exiting). */
  #undelivered = 0;
  #stopping = false;
  #workersReady = -1;
  #stopped: Promise<void> | undefined;

  private constructor(
    private readonly config: Readonly<Config>,
    private readonly argv: readonly string[],
    private readonly log: Logger,
    readonly port: number,
    readonly natsUrls: readonly string[],
    private readonly embedded: EmbeddedStack | undefined,
    workers: number,
  ) {
    this.#slots = Array.from({ length: workers }, (_, index) => ({
      index,
      child: undefined,
      listening: false,
      ready: false,
      startedMs: 0,
      crashesInRow: 0,
      restartTimer: undefined,
    }));
  }

  /**
   * Claims the port and any --metrics-port (failing with "port in use" when any process holds one),
   * starts embedded mode's nats-server and history stream, then the workers; resolves once every worker
   * listens.
   */
  static async start(
    config: Readonly<Config>,
    argv: readonly string[],
    workers: number,
    log: Logger,
  ): Promise<Supervisor> {
    const port = await claimPort(config.gateway.host, config.gateway.port);
    // The workers share --metrics-port too (each answers with the fleet's totals): claimed the same way.
    const { metricsHost, metricsPort } = config.gateway;
    if (metricsPort !== 0) await claimPort(metricsHost, metricsPort);
    let embedded: EmbeddedStack | undefined;
    let urls: readonly string[];
    if (config.nats.servers.mode === "embedded") {
      embedded = await EmbeddedStack.start(config, log);
      urls = [embedded.url];
    } else {
      urls = config.nats.servers.urls;
    }
    const supervisor = new Supervisor(config, argv, log, port, urls, embedded, workers);
    try {
      await embedded?.prepareHistory();
      await Promise.all(supervisor.#slots.map((slot) => supervisor.#spawn(slot)));
      await embedded?.startDemo();
    } catch (error) {
      await supervisor.stop();
      throw error;
    }
    log.info(
      { workers, port, pid: process.pid, workerPids: supervisor.workerPids },
      "supervisor: every worker listening",
    );
    return supervisor;
  }

  /** Worker restarts since start. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Process ids of the running workers, by worker index (undefined while one restarts). */
  get workerPids(): readonly (number | undefined)[] {
    return this.#slots.map((slot) => slot.child?.pid);
  }

  /**
   * Drains every worker (each closes its clients with 1001 and the retry hint, bounded by the shutdown
   * grace), then stops embedded mode's demo feed and nats-server. A worker that overstays is killed.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    const { drainDelayMs, shutdownGraceMs } = this.config.lifecycle;
    const boundMs = drainDelayMs + 2 * shutdownGraceMs + WORKER_STOP_MARGIN_MS;
    await Promise.all(
      this.#slots.map(async (slot) => {
        clearTimeout(slot.restartTimer);
        const child = slot.child;
        if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        this.#send(slot, { t: "stop" });
        const timer = setTimeout(() => {
          this.log.warn({ worker: slot.index, boundMs }, "worker did not stop in time: killed");
          child.kill("SIGKILL");
        }, boundMs);
        await exited;
        clearTimeout(timer);
      }),
    );
    await this.embedded?.stop();
    this.log.info({ workers: this.#slots.length }, "stopped");
  }

  #spawn(slot: Slot): Promise<void> {
    const child = fork(WORKER_ENTRY, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    slot.child = child;
    slot.listening = false;
    slot.ready = false;
    slot.startedMs = performance.now();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      child.on("message", (message: FromWorker) => {
        if (message.t === "listening") {
          slot.listening = true;
          settled = true;
          resolve();
          this.#sendFleet(slot);
        } else if (message.t === "failed") {
          settled = true;
          reject(new WorkerStartError(slot.index, message.message));
        } else {
          this.#receive(slot, message);
        }
      });
      // A failed spawn, kill or IPC write without a callback: logged, never an unhandled `error` event.
      child.on("error", (error) => {
        this.log.warn({ worker: slot.index, err: error }, "worker process error");
        if (!settled && child.pid === undefined) {
          settled = true;
          reject(new WorkerStartError(slot.index, error.message));
        }
      });
      child.once("exit", (code, signal) => {
        this.#exited(slot, child, code, signal);
        if (!settled) reject(new WorkerStartError(slot.index, `exited (code ${code}, signal ${signal})`));
      });
      this.#send(slot, {
        t: "start",
        worker: slot.index,
        argv: this.argv,
        port: this.port,
        natsUrls: this.natsUrls,
      });
    });
  }

  #exited(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    slot.listening = false;
    slot.ready = false;
    for (const collecting of this.#collecting.values()) this.#answered(collecting, slot.index, undefined);
    this.#updateFleet();
    if (this.#stopping) return;
    slot.crashesInRow = performance.now() - slot.startedMs >= HEALTHY_AFTER_MS ? 1 : slot.crashesInRow + 1;
    const delayMs = restartDelayMs(slot.crashesInRow);
    this.#restarts++;
    this.log.warn(
      { worker: slot.index, pid: child.pid, code, signal, restarts: this.#restarts, delayMs },
      "worker exited: restarting it",
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#stopping) return;
      this.#spawn(slot).then(
        () =>
          this.log.info(
            { worker: slot.index, pid: slot.child?.pid, restarts: this.#restarts },
            "worker restarted",
          ),
        (error: unknown) => this.log.error({ err: error, worker: slot.index }, "worker restart failed"),
      );
    }, delayMs);
  }

  #receive(slot: Slot, message: FromWorker): void {
    switch (message.t) {
      case "ready":
        slot.ready = message.ready;
        this.#updateFleet();
        return;
      case "scrape":
        this.#collect(slot, message.id);
        return;
      case "snapshot": {
        const collecting = this.#collecting.get(message.id);
        if (collecting !== undefined) this.#answered(collecting, slot.index, message.snapshot);
        return;
      }
      case "listening":
      case "failed":
        return;
    }
  }

  /** Asks every listening worker for its numbers, then answers the asking worker with all of them. */
  #collect(asker: Slot, askerId: number): void {
    const id = ++this.#nextCollectId;
    const live = this.#slots.filter((slot) => slot.listening);
    const collecting: Collecting = {
      asker,
      askerId,
      snapshots: [],
      waiting: new Set(live.map((slot) => slot.index)),
      timer: setTimeout(() => this.#finish(id), COLLECT_TIMEOUT_MS),
    };
    this.#collecting.set(id, collecting);
    for (const slot of live) this.#send(slot, { t: "collect", id });
    if (collecting.waiting.size === 0) this.#finish(id);
  }

  #answered(collecting: Collecting, worker: number, snapshot: WorkerSnapshot | undefined): void {
    if (!collecting.waiting.delete(worker)) return;
    if (snapshot !== undefined) collecting.snapshots.push(snapshot);
    if (collecting.waiting.size === 0) {
      for (const [id, c] of this.#collecting) if (c === collecting) this.#finish(id);
    }
  }

  #finish(id: number): void {
    const collecting = this.#collecting.get(id);
    if (collecting === undefined) return;
    this.#collecting.delete(id);
    clearTimeout(collecting.timer);
    const scrape: FleetScrape = {
      workers: [...collecting.snapshots].sort((a, b) => a.worker - b.worker),
      expected: this.#slots.length,
      restarts: this.#restarts,
      undelivered: this.#undelivered,
    };
    this.#send(collecting.asker, { t: "scrape-result", id: collecting.askerId, scrape });
  }

  /** Tells every worker how many workers are ready, when that changed. */
  #updateFleet(): void {
    const workersReady = this.#slots.filter((slot) => slot.ready).length;
    if (workersReady === this.#workersReady) return;
    this.#workersReady = workersReady;
    for (const slot of this.#slots) if (slot.listening) this.#sendFleet(slot);
  }

  #sendFleet(slot: Slot): void {
    const workersReady = this.#slots.filter((s) => s.ready).length;
    this.#send(slot, {
      t: "fleet",
      ready: workersReady === this.#slots.length,
      workersReady,
      workers: this.#slots.length,
    });
  }

  #send(slot: Slot, message: ToWorker): void {
    const child = slot.child;
    if (child === undefined) return;
    sendToChild(child, message, (error) => {
      this.#undelivered++;
      this.log.debug(
        { worker: slot.index, message: message.t, err: error },
        "message to a worker not delivered",
      );
    });
  }
}
