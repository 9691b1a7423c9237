import { loadConfig, type Config } from "../config/index.ts";
import { isTickwireError } from "../errors/index.ts";
import { createLogger, type Logger } from "../logging/index.ts";
import { createMetrics } from "../metrics/index.ts";
import { buildNode, prepareNode } from "../process/index.ts";
import type { NodeFleet, TickwireNode } from "../node/index.ts";
import type { FleetScrape, FromWorker, ToWorker, WorkerSnapshot } from "./messages.ts";
import { ProcessProbe, fleetSources } from "./worker-metrics.ts";

/** How long a worker waits for the supervisor's fleet-wide numbers before answering with its own. */
const SCRAPE_TIMEOUT_MS = 2000;
/** How often a worker checks its own readiness and tells the supervisor when it changed. */
const READINESS_POLL_MS = 100;

type StartMessage = Extract<ToWorker, { t: "start" }>;

/** The worker's config: the supervisor's argv and environment, with the port and NATS URLs it chose. */
export function workerConfig(start: StartMessage): Readonly<Config> {
  const config = loadConfig(start.argv);
  return Object.freeze({
    ...config,
    gateway: Object.freeze({ ...config.gateway, port: start.port }),
    nats: Object.freeze({ ...config.nats, servers: { mode: "external", urls: start.natsUrls } as const }),
  });
}

/**
 * One worker process of a supervisor: a {@link TickwireNode} on the shared port, its own NATS
 * connection, and the IPC side of the fleet (scrapes, readiness, stop). It exits when the supervisor
 * asks, on SIGTERM (after draining), and when the IPC channel closes: no worker outlives its supervisor.
 */
export class Worker implements NodeFleet {
  readonly #probe = new ProcessProbe();
  readonly #pending = new Map<number, (scrape: FleetScrape) => void>();
  #nextId = 0;
  #fleet = { ready: false, workersReady: 0, workers: 0 };
  #node: TickwireNode | undefined;
  #registry: ReturnType<typeof createMetrics> | undefined;
  #current: FleetScrape | undefined;
  #scraping: Promise<unknown> = Promise.resolve();
  #readinessTimer: NodeJS.Timeout | undefined;
  #reportedReady: boolean | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(
    private readonly index: number,
    private readonly log: Logger,
    private readonly send: (message: FromWorker) => void,
  ) {}

  /** Runs the worker for the supervisor's start message; resolves once it listens (or exits on failure). */
  static async run(start: StartMessage, send: (message: FromWorker) => void): Promise<Worker> {
    const config = workerConfig(start);
    const log = createLogger(config.log.level).child({ worker: start.worker });
    const worker = new Worker(start.worker, log, send);
    const verifier = await prepareNode(config, start.natsUrls, log, start.worker);
    const node = buildNode(config, start.natsUrls, log, { worker: start.worker, fleet: worker, verifier });
    worker.#node = node;
    worker.#registry = createMetrics(
      fleetSources(node.metricSources(), () => worker.#current ?? worker.#alone()),
    );
    await node.start();
    send({ t: "listening", port: node.port });
    worker.#readinessTimer = setInterval(() => worker.#reportReadiness(), READINESS_POLL_MS);
    worker.#reportReadiness();
    return worker;
  }

  /** Handles a message from the supervisor. */
  receive(message: ToWorker): void {
    switch (message.t) {
      case "collect":
        this.send({ t: "snapshot", id: message.id, snapshot: this.#snapshot() });
        return;
      case "scrape-result":
        this.#pending.get(message.id)?.(message.scrape);
        this.#pending.delete(message.id);
        return;
      case "fleet":
        this.#fleet = { ready: message.ready, workersReady: message.workersReady, workers: message.workers };
        return;
      case "stop":
        void this.stop();
        return;
      case "start":
        return;
    }
  }

  /** `/metrics` on this worker: every worker's numbers, gathered by the supervisor. */
  metrics(): Promise<{ contentType: string; body: string }> {
    const registry = this.#registry as ReturnType<typeof createMetrics>;
    // One scrape at a time: the registry renders whichever scrape is current.
    const result = this.#scraping.then(async () => {
      this.#current = await this.#gather();
      return { contentType: registry.contentType, body: await registry.metrics() };
    });
    this.#scraping = result.catch(() => undefined);
    return result;
  }

  readiness(): { ready: boolean; detail: Record<string, unknown> } {
    const { ready, workersReady, workers } = this.#fleet;
    return { ready, detail: { workers, workersReady } };
  }

  /** Drains the node (1001 with the retry hint), then exits 0. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#readinessTimer);
      await this.#node?.stop();
      this.#probe.stop();
      this.log.info({ open: this.#node?.hub.connectionCount ?? 0 }, "worker stopped");
    })();
    return this.#stopping;
  }

  #gather(): Promise<FleetScrape> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.log.warn(
          { timeoutMs: SCRAPE_TIMEOUT_MS },
          "supervisor did not answer a scrape: own numbers only",
        );
        resolve(this.#alone());
      }, SCRAPE_TIMEOUT_MS);
      this.#pending.set(id, (scrape) => {
        clearTimeout(timer);
        resolve(scrape);
      });
      this.send({ t: "scrape", id });
    });
  }

  #alone(): FleetScrape {
    return { workers: [this.#snapshot()], expected: this.#fleet.workers, restarts: 0, undelivered: 0 };
  }

  #snapshot(): WorkerSnapshot {
    const node = this.#node as TickwireNode;
    return {
      worker: this.index,
      sources: node.metricSources().map((source) => source.snapshot()),
      connections: node.hub.connectionCount,
      ...this.#probe.read(),
    };
  }

  #reportReadiness(): void {
    const ready = this.#node?.readiness().ready ?? false;
    if (ready === this.#reportedReady) return;
    this.#reportedReady = ready;
    this.send({ t: "ready", ready });
  }
}

/** The worker process's entry: waits for the start message, then runs until stopped. */
export function workerMain(): void {
  if (process.send === undefined) {
    process.stderr.write("tickwire: the worker entry runs only as a child of `tickwire serve --workers N`\n");
    process.exitCode = 2;
    return;
  }
  // The supervisor can be gone between the check and the write (SIGKILL, a crash): the failure comes
  // back through the callback instead of an unhandled `error` event; "disconnect" then drains this worker.
  const send = (message: FromWorker): void => {
    if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
  };
  let worker: Worker | undefined;
  const exitAfterStop = (): void => {
    void (worker?.stop() ?? Promise.resolve()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // Ctrl-C reaches the whole process group: the supervisor orchestrates the shutdown, so a worker
  // ignores SIGINT. SIGTERM to a worker alone (or to the group, as systemd does) drains it.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", exitAfterStop);
  process.on("disconnect", exitAfterStop);
  process.on("message", (message: ToWorker) => {
    if (message.t === "start" && worker === undefined) {
      Worker.run(message, send).then(
        (started) => {
          worker = started;
        },
        (error: unknown) => {
          send({
            t: "failed",
            message: error instanceof Error ? error.message : String(error),
            ...(isTickwireError(error) ? { code: error.code } : {}),
          });
          process.exit(1);
        },
      );
      return;
    }
    if (message.t === "stop") {
      exitAfterStop();
      return;
    }
    worker?.receive(message);
  });
}
