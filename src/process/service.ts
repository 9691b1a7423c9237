import { loadUws } from "../gateway/index.ts";
import { NatsLink, connectionName, type NatsIngest } from "../ingest/index.ts";
import { TickwireNode, type NodeFleet } from "../node/index.ts";
import type { Hub } from "../fanout/index.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../logging/index.ts";
import { EmbeddedStack } from "./embedded-stack.ts";

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

/** Builds one node over its own NATS link to `urls` (nothing starts). */
export function buildNode(
  config: Readonly<Config>,
  urls: readonly string[],
  log: Logger,
  options: { readonly worker?: number; readonly fleet?: NodeFleet } = {},
): TickwireNode {
  const { nats } = config;
  const link = new NatsLink(
    {
      servers: urls,
      name: connectionName("tickwire-gateway", options.worker),
      reconnectWaitMs: nats.reconnectWaitMs,
      pingIntervalMs: nats.pingIntervalMs,
      maxPingsOut: nats.maxPingsOut,
      noEcho: true,
    },
    log,
  );
  const parts = { uws: loadUws(), link, log };
  return new TickwireNode(config, options.fleet === undefined ? parts : { ...parts, fleet: options.fleet });
}

/**
 * A single gateway process (`--workers 1`): one node that owns its port, and in embedded mode the
 * nats-server child, the feed-history stream and the demo feed; the shutdown order (node, then demo,
 * then nats-server).
 */
export async function startService(config: Readonly<Config>, log: Logger): Promise<Service> {
  const { nats } = config;
  let embedded: EmbeddedStack | undefined;
  let urls: readonly string[];
  if (nats.servers.mode === "embedded") {
    embedded = await EmbeddedStack.start(config, log);
    urls = [embedded.url];
  } else {
    urls = nats.servers.urls;
  }
  let node: TickwireNode;
  try {
    node = buildNode(config, urls, log);
    await node.start();
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  if (embedded !== undefined) {
    try {
      await node.natsReady;
      await embedded.prepareHistory(node.history);
      await embedded.startDemo();
    } catch (error) {
      // Whatever failed, nothing this function started outlives it.
      await node.stop();
      await embedded.stop();
      throw error;
    }
  }
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await node.stop();
    await embedded?.stop();
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
