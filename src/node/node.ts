import { CloseCode } from "../protocol/index.ts";
import { Hub } from "../fanout/index.ts";
import { JetStreamHistory, NatsIngest, type NatsLink } from "../ingest/index.ts";
import { Gateway, GatewayStats, GATEWAY_METRICS, type HttpBody, type Uws } from "../gateway/index.ts";
import { HUB_METRICS } from "../fanout/index.ts";
import { INGEST_METRICS } from "../ingest/index.ts";
import { createMetrics, ScrapeCache, type MetricSource } from "../metrics/index.ts";
import { WebAssets } from "../web/index.ts";
import { AUTH_METRICS, type TokenVerifier } from "../auth/index.ts";
import { authenticatorOver } from "./authenticator.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../logging/index.ts";
import { waitUntil } from "./wait.ts";

/** The config groups one node reads (the process reads `embedded` and `log`). */
export type NodeConfig = Pick<
  Config,
  "gateway" | "fanout" | "nats" | "history" | "lifecycle" | "auth" | "tls"
>;

/** What a node is built from, besides its config: things owned once per process. */
export interface NodeParts {
  readonly uws: Uws;
  /** The node's NATS connection, shared by its ingest and feed-history reader. The node starts and stops it. */
  readonly link: NatsLink;
  readonly log: Logger;
  /** Set when the node is one worker of a supervisor (src/supervisor/); absent for a single gateway. */
  readonly fleet?: NodeFleet;
  /** `--auth jwt`: the token verifier (built by the process: it reads key files); absent = `--auth none`. */
  readonly verifier?: TokenVerifier | undefined;
}

/** How a worker node answers for the whole fleet of workers on its port. */
export interface NodeFleet {
  /** The body of a `/metrics` scrape: totals over every worker (the node's own registry is not used). */
  metrics(): Promise<HttpBody>;
  /** Readiness of the other workers, ANDed with the node's own for `/readyz`. */
  readiness(): { readonly ready: boolean; readonly detail: Readonly<Record<string, unknown>> };
}

/** Readiness of one node on its own. */
export interface NodeReadiness {
  readonly ready: boolean;
  readonly detail: { readonly listening: boolean; readonly draining: boolean; readonly nats: string };
}

/**
 * One listening tickwire node: gateway, hub, ingest, feed history and their metrics, over one NATS link.
 * {@link buildNode} has no side effects; {@link TickwireNode.start} listens and connects;
 * {@link TickwireNode.stop} undoes it in reverse. Per-node state lives here, never in module globals,
 * so a process can run several (the workers issue).
 */
export class TickwireNode {
  readonly hub: Hub;
  readonly ingest: NatsIngest;
  readonly history: JetStreamHistory;
  readonly gatewayStats = new GatewayStats();
  readonly #web = new WebAssets();
  readonly #metrics: ReturnType<typeof createMetrics>;
  readonly #scrape: ScrapeCache;
  #gateway: Gateway | undefined;
  #draining = false;
  #natsReady: Promise<void> | undefined;

  constructor(
    private readonly config: NodeConfig,
    private readonly parts: NodeParts,
  ) {
    const { nats, history, fanout } = config;
    const { link, log } = parts;
    // Phase 1, build: nothing listens, connects or ticks yet.
    this.history = new JetStreamHistory(
      link,
      {
        stream: history.stream.mode === "jetstream" ? history.stream.stream : "",
        subjectPrefix: nats.subjectPrefix,
        maxFeedPayloadBytes: nats.maxFeedPayloadBytes,
        lookupTimeoutMs: fanout.historyTimeoutMs,
      },
      log,
    );
    // The lag probes' longest period stays under the idle timeout their pongs keep from firing.
    this.hub = new Hub({ ...fanout, idleTimeoutMs: config.gateway.idleTimeoutMs });
    this.ingest = new NatsIngest(
      link,
      { subjectPrefix: nats.subjectPrefix, maxFeedPayloadBytes: nats.maxFeedPayloadBytes },
      log,
    );
    // Phase 2, attach: the hub tells the ingest which patterns are wanted and reads feed history; the
    // ingest publishes into the hub.
    const { verifier } = parts;
    this.hub.attach({
      interest: this.ingest,
      history: history.stream.mode === "jetstream" ? this.history : undefined,
      authenticator:
        verifier === undefined ? undefined : authenticatorOver(verifier, config.auth.jwtClockToleranceMs),
    });
    this.ingest.attach(this.hub);
    // The feed state clients see in-band (issue 10 §2): down until the first connection, then as the
    // link reports it.
    this.hub.setFeed(link.connected);
    link.onConnectionChange((connected) => this.hub.setFeed(connected));
    this.#metrics = createMetrics(this.metricSources());
    // A worker answers with the fleet's totals (same exposition format as its own registry).
    const render = (): Promise<string> =>
      (parts.fleet?.metrics() ?? this.localMetrics()).then((scrape) => scrape.body);
    this.#scrape = new ScrapeCache(render, config.gateway.metricsCacheMs);
  }

  /** The node's metrics: each stats class's descriptors and a snapshot of plain numbers. */
  metricSources(): readonly MetricSource[] {
    const { hub, ingest, history, gatewayStats } = this;
    const verifier = this.parts.verifier;
    const auth: MetricSource[] =
      verifier === undefined ? [] : [{ metrics: AUTH_METRICS, snapshot: () => verifier.stats.snapshot() }];
    return [
      ...auth,
      {
        metrics: HUB_METRICS,
        snapshot: () =>
          hub.stats.snapshot({
            connections: hub.connectionCount,
            subscriptions: hub.table.subscriptionCount,
            patterns: hub.table.patternCount,
            topics: hub.table.topicCount,
            slowConnections: hub.slowConnectionCount,
            laggingConnections: hub.laggingConnectionCount,
            bufferedBytes: hub.bufferedBytes(),
          }),
      },
      { metrics: GATEWAY_METRICS, snapshot: () => gatewayStats.snapshot() },
      {
        metrics: INGEST_METRICS,
        snapshot: () =>
          ingest.stats.snapshot({
            natsSubscriptions: ingest.subscriptionCount,
            historyErrors: history.errors,
            historyLimits: history.limits,
          }),
      },
    ];
  }

  /** This node's own `/metrics` body (prom-client text of its registry, rendered now: no cache). */
  async localMetrics(): Promise<HttpBody> {
    return { contentType: this.#metrics.contentType, body: await this.#metrics.metrics() };
  }

  /**
   * The `/metrics` answer: a worker's is the fleet's totals (gathered by the supervisor), a single
   * gateway's its own; either way rendered at most once per `--metrics-cache-ms` and shared, so a scrape
   * flood costs one render (and, in a worker, one round of IPC to every sibling) per interval.
   */
  #scrapeBody(): HttpBody | Promise<HttpBody> {
    const contentType = this.#metrics.contentType;
    const fresh = this.#scrape.fresh();
    if (fresh !== undefined) return { contentType, body: fresh };
    return this.#scrape.get().then((body) => ({ contentType, body }));
  }

  /** This node's own readiness: listening, not draining, NATS connected. */
  readiness(): NodeReadiness {
    const listening = this.#gateway?.listening === true;
    return {
      ready: !this.#draining && listening && this.ingest.connected,
      detail: { listening, draining: this.#draining, nats: this.ingest.stats.state },
    };
  }

  /** Port of the `--metrics-port` listener (after start; 0 when there is none). */
  get metricsPort(): number {
    return this.#gateway?.metricsPort ?? 0;
  }

  /** Port listened on (after start). */
  get port(): number {
    return this.#gateway?.port ?? 0;
  }

  /** Resolves once the first NATS connection is up (after start). */
  get natsReady(): Promise<void> {
    return this.#natsReady ?? Promise.reject(new TypeError("TickwireNode.natsReady before start()"));
  }

  /**
   * Phase 3, start: the hub's ticker, the gateway listening, then NATS connecting in the background
   * (the gateway listens before NATS is up; /readyz says when it is). Throws when it cannot listen.
   */
  async start(): Promise<void> {
    const { config, parts, hub, ingest } = this;
    const { log, link } = parts;
    hub.start();
    try {
      this.#gateway = await Gateway.start(
        parts.uws,
        hub,
        // A worker shares the port with its siblings on purpose; a single gateway owns it (issue 15).
        {
          ...config.gateway,
          tls: config.tls,
          sharePort: parts.fleet !== undefined,
          retryAfterMs: config.fanout.retryAfterMs,
        },
        {
          metrics: () => this.#scrapeBody(),
          connectionCapReached: (notice) =>
            log.warn(notice, "connection limit reached: refusing WebSocket upgrades with 503"),
          internalError: (error) => log.error({ err: error }, "bug: exception while handling a client frame"),
          opened: (client) => log.debug({ client }, "connection opened"),
          asset: async (path) => {
            try {
              return await this.#web.get(path);
            } catch (error) {
              log.error({ err: error, path }, "cannot serve the dashboard");
              throw error;
            }
          },
          readiness: () => {
            const own = this.readiness();
            const fleet = parts.fleet?.readiness();
            if (fleet === undefined) return own;
            return { ready: own.ready && fleet.ready, detail: { ...own.detail, ...fleet.detail } };
          },
        },
        this.gatewayStats,
      );
    } catch (error) {
      hub.stop();
      throw error;
    }
    const { host } = config.gateway;
    const port = this.#gateway.port;
    const scheme = config.tls.certFile === undefined ? "ws" : "wss";
    log.info(
      {
        host,
        port,
        ws: `${scheme}://${host}:${port}/v1/stream`,
        auth: config.auth.mode,
        maxConnections: this.gatewayStats.maxConnections,
      },
      "gateway listening",
    );
    if (config.auth.mode === "none" && !isLoopback(host)) {
      log.warn(
        { host, auth: "none" },
        "--auth none on a non-loopback --host: anyone who can reach this port reads every topic (use --auth jwt, docs/SECURITY.md)",
      );
    }
    if (this.#gateway.metricsPort !== 0) {
      const metricsHost = config.gateway.metricsHost;
      log.info({ host: metricsHost, port: this.#gateway.metricsPort }, "metrics listening");
    }
    this.#natsReady = link.start().then(() => ingest.start());
    this.#natsReady.catch((error: unknown) => log.error({ err: error }, "nats connection failed"));
  }

  /**
   * Graceful stop, the reverse of start: report not ready (for `drainDelayMs`), stop accepting, close
   * clients with 1001 and a retry hint, drain NATS, close the listener, stop the ticker. The client and
   * NATS phases are each bounded by `shutdownGraceMs`.
   */
  async stop(): Promise<void> {
    const { config, parts, hub } = this;
    const { drainDelayMs, shutdownGraceMs } = config.lifecycle;
    this.#draining = true;
    if (drainDelayMs > 0) {
      parts.log.info({ drainDelayMs }, "draining: readyz reports 503 before clients are closed");
      await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
    }
    this.#gateway?.stopAccepting();
    const reason = JSON.stringify({ msg: "server shutting down", retryAfterMs: config.fanout.retryAfterMs });
    hub.closeAll(CloseCode.GOING_AWAY, reason);
    await waitUntil(() => hub.connectionCount === 0, shutdownGraceMs);
    await parts.link
      .stop(shutdownGraceMs)
      .catch((error: unknown) => parts.log.warn({ err: error }, "nats drain did not finish"));
    this.#gateway?.close();
    hub.stop();
  }
}

/** Whether a listen address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
}
