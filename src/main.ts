import { CloseCode, encodeFeedPayload, nowMicros } from "./protocol/index.ts";
import { Hub, LAG_BUCKETS_MS } from "./fanout/index.ts";
import { FeedPublisher, JetStreamHistory, NatsIngest } from "./ingest/index.ts";
import { Gateway, GatewayStats, loadUws } from "./gateway/index.ts";
import { createMetrics } from "./metrics/index.ts";
import { DemoFeed, NatsServerProcess } from "./embedded/index.ts";
import { WebAssets } from "./web/index.ts";
import type { Config } from "./config/index.ts";
import type { Logger } from "./logging/index.ts";

/** A running tickwire gateway. */
export interface Service {
  /** Port the gateway listens on. */
  readonly port: number;
  /** NATS URL in use (the embedded server's in embedded mode). */
  readonly natsUrl: string;
  /** Resolves once the first NATS connection is up. */
  readonly natsReady: Promise<void>;
  readonly hub: Hub;
  readonly ingest: NatsIngest;
  /**
   * Graceful shutdown: stop accepting, close clients with 1001 and a retry hint, drain NATS, stop
   * embedded children. Bounded by `shutdownGraceMs` for the client and NATS phases.
   */
  stop(): Promise<void>;
}

/** The composition root: wires gateway, fan-out, ingest, metrics and (embedded mode) NATS + demo feed. */
export async function startService(config: Readonly<Config>, log: Logger): Promise<Service> {
  const uws = loadUws();
  let embedded: NatsServerProcess | undefined;
  let natsUrl = config.natsUrl;
  if (natsUrl === "") {
    embedded = await NatsServerProcess.start({ binary: config.natsServerBin, jetstream: true });
    natsUrl = embedded.url;
    log.info({ natsUrl, pid: process.pid }, "embedded mode: started a local nats-server");
  }

  // Two-phase wiring: the hub is built first (the ingest publishes into it), then attached to the
  // ingest's NATS interest and the feed history, then started.
  const late = { ingest: undefined as NatsIngest | undefined };
  const historyReader = new JetStreamHistory(
    () => (late.ingest as NatsIngest).connectedOnce(),
    {
      stream: config.historyStream,
      subjectPrefix: config.subjectPrefix,
      maxFeedPayloadBytes: config.maxFeedPayloadBytes,
    },
    log,
  );
  // HubOptions names its fields as Config does: the resolved config is the hub's options.
  const hub = new Hub(config);
  const natsIngest = new NatsIngest(
    hub,
    {
      url: natsUrl,
      subjectPrefix: config.subjectPrefix,
      maxFeedPayloadBytes: config.maxFeedPayloadBytes,
      pingIntervalMs: config.natsPingIntervalMs,
      maxPingsOut: config.natsMaxPingsOut,
      reconnectWaitMs: config.natsReconnectWaitMs,
    },
    log,
  );
  late.ingest = natsIngest;
  hub.attach({
    interest: natsIngest,
    history: config.historyStream === "off" ? undefined : historyReader,
  });
  hub.start();

  let gateway: Gateway | undefined;
  let draining = false;
  const gatewayStats = new GatewayStats();
  const web = new WebAssets();
  const registry = createMetrics({
    hub: {
      connections: () => hub.connectionCount,
      subscriptions: () => hub.table.subscriptionCount,
      patterns: () => hub.table.patternCount,
      topics: () => hub.table.topicCount,
      slowConnections: () => hub.slowConnectionCount,
      laggingConnections: () => hub.laggingConnectionCount,
      bufferedBytes: () => hub.bufferedBytes(),
      lagBucketsMs: LAG_BUCKETS_MS,
      stats: hub.stats,
    },
    ingest: {
      natsSubscriptions: () => natsIngest.subscriptionCount,
      stats: natsIngest.stats,
      historyErrors: () => historyReader.errors,
    },
    gateway: { stats: gatewayStats },
  });

  try {
    gateway = await Gateway.start(
      uws,
      hub,
      {
        host: config.host,
        port: config.port,
        maxMessageBytes: config.maxMessageBytes,
        idleTimeoutMs: config.idleTimeoutMs,
        maxBackpressureBytes: config.maxBackpressureBytes,
      },
      {
        metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
        internalError: (error) => log.error({ err: error }, "bug: exception while handling a client frame"),
        asset: async (path) => {
          try {
            return await web.get(path);
          } catch (error) {
            log.error({ err: error, path }, "cannot serve the dashboard");
            throw error;
          }
        },
        readiness: () => ({
          ready: !draining && gateway?.listening === true && natsIngest.connected,
          detail: { listening: gateway?.listening === true, draining, nats: natsIngest.stats.state },
        }),
      },
      gatewayStats,
    );
  } catch (error) {
    hub.stop();
    await embedded?.dispose();
    throw error;
  }
  const listening = gateway;
  log.info(
    { host: config.host, port: listening.port, ws: `ws://${config.host}:${listening.port}/v1/stream` },
    "gateway listening",
  );

  const natsReady = natsIngest.start();
  natsReady.catch((error: unknown) => log.error({ err: error }, "nats connection failed"));

  if (embedded !== undefined && config.historyStream !== "off") {
    // Embedded mode keeps the feed history itself, so snapshots work for topics nobody watched yet.
    await natsReady;
    await historyReader.ensureStream();
    log.info({ stream: config.historyStream }, "embedded mode: feed history stream ready");
  }

  let demo: DemoRunner | undefined;
  if (embedded !== undefined && config.demoRatePerSec > 0) {
    demo = await DemoRunner.start(natsUrl, config.subjectPrefix, config.demoRatePerSec);
    log.info(
      { ratePerSec: config.demoRatePerSec, topics: demo.topicCount },
      "embedded mode: demo feed publishing",
    );
  }

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    draining = true;
    if (config.drainDelayMs > 0) {
      log.info(
        { drainDelayMs: config.drainDelayMs },
        "draining: readyz reports 503 before clients are closed",
      );
      await new Promise((resolve) => setTimeout(resolve, config.drainDelayMs));
    }
    listening.stopAccepting();
    const reason = JSON.stringify({ msg: "server shutting down", retryAfterMs: config.retryAfterMs });
    hub.closeAll(CloseCode.GOING_AWAY, reason);
    await waitUntil(() => hub.connectionCount === 0, config.shutdownGraceMs);
    await demo?.stop();
    await withTimeout(natsIngest.stop(), config.shutdownGraceMs).catch((error: unknown) =>
      log.warn({ err: error }, "nats drain did not finish"),
    );
    listening.close();
    hub.stop();
    await embedded?.dispose();
    log.info({ open: hub.connectionCount }, "stopped");
  };

  return {
    port: listening.port,
    natsUrl,
    natsReady,
    hub,
    ingest: natsIngest,
    stop: () => (stopping ??= stop()),
  };
}

/** Publishes the demo market to NATS at a steady rate, plus one bar per symbol per second. */
class DemoRunner {
  readonly #feed = new DemoFeed(Date.now() & 0xffff);
  #owed = 0;
  #ticker: NodeJS.Timeout | undefined;
  #bars: NodeJS.Timeout | undefined;

  private constructor(
    private readonly publisher: FeedPublisher,
    private readonly prefix: string,
    private readonly ratePerSec: number,
  ) {}

  static async start(url: string, prefix: string, ratePerSec: number): Promise<DemoRunner> {
    const runner = new DemoRunner(await FeedPublisher.connect(url, "tickwire-demo-feed"), prefix, ratePerSec);
    const tickMs = 20;
    runner.#ticker = setInterval(() => runner.#tick(tickMs), tickMs);
    runner.#bars = setInterval(() => runner.#publishBars(), 1000);
    return runner;
  }

  get topicCount(): number {
    return this.#feed.topics.length;
  }

  #tick(tickMs: number): void {
    this.#owed += (this.ratePerSec * tickMs) / 1000;
    for (; this.#owed >= 1; this.#owed--) {
      const message = this.#feed.next(nowMicros());
      this.publisher.publish(`${this.prefix}.${message.topic}`, encodeFeedPayload(message.fields));
    }
  }

  #publishBars(): void {
    for (const bar of this.#feed.bars(nowMicros()))
      this.publisher.publish(`${this.prefix}.${bar.topic}`, encodeFeedPayload(bar.fields));
  }

  async stop(): Promise<void> {
    clearInterval(this.#ticker);
    clearInterval(this.#bars);
    await this.publisher.close();
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
