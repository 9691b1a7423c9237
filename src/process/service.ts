import { loadUws } from "../gateway/index.ts";
import { NatsLink, type NatsIngest } from "../ingest/index.ts";
import { DemoRunner, NatsServerProcess } from "../embedded/index.ts";
import { TickwireNode } from "../node/index.ts";
import type { Hub } from "../fanout/index.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../logging/index.ts";

/** A running tickwire gateway. */
export interface Service {
  /** Port the gateway listens on. */
  readonly port: number;
  /** Port of the `--metrics-port` listener (0 when /metrics is on the public port). */
  readonly metricsPort: number;
  /** NATS URL(s) in use, comma-separated (the embedded server's in embedded mode). */
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

/**
 * What runs once per machine around one node: in embedded mode the nats-server child, the feed-history
 * stream and the demo feed; the shutdown order (node, then demo, then nats-server).
 */
export async function startService(config: Readonly<Config>, log: Logger): Promise<Service> {
  const uws = loadUws();
  const { nats, embedded: options, history } = config;
  let embedded: NatsServerProcess | undefined;
  let urls: readonly string[];
  if (nats.servers.mode === "embedded") {
    embedded = await NatsServerProcess.start({ binary: options.natsServerBin, jetstream: true });
    urls = [embedded.url];
    log.info({ natsUrl: embedded.url, pid: process.pid }, "embedded mode: started a local nats-server");
  } else {
    urls = nats.servers.urls;
  }
  const link = new NatsLink(
    {
      servers: urls,
      name: "tickwire-gateway",
      reconnectWaitMs: nats.reconnectWaitMs,
      pingIntervalMs: nats.pingIntervalMs,
      maxPingsOut: nats.maxPingsOut,
      noEcho: true,
    },
    log,
  );
  const node = new TickwireNode(config, { uws, link, log });
  try {
    await node.start();
  } catch (error) {
    await embedded?.dispose();
    throw error;
  }
  let demo: DemoRunner | undefined;
  if (embedded !== undefined) {
    if (history.stream.mode === "jetstream") {
      // Embedded mode keeps the feed history itself, so snapshots work for topics nobody watched yet.
      await node.natsReady;
      await node.history.ensureStream();
      log.info({ stream: history.stream.stream }, "embedded mode: feed history stream ready");
    }
    if (options.demoRatePerSec > 0) {
      demo = DemoRunner.over(embedded.url, nats.subjectPrefix, options.demoRatePerSec);
      await demo.start();
      log.info(
        { ratePerSec: options.demoRatePerSec, topics: demo.topicCount },
        "embedded mode: demo feed publishing",
      );
    }
  }
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await node.stop();
    await demo?.stop();
    await embedded?.dispose();
    log.info({ open: node.hub.connectionCount }, "stopped");
  };
  return {
    port: node.port,
    metricsPort: node.metricsPort,
    natsUrl: urls.join(","),
    natsReady: node.natsReady,
    hub: node.hub,
    ingest: node.ingest,
    stop: () => (stopping ??= stop()),
  };
}
