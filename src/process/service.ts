import { loadUws } from "../gateway/index.ts";
import {
  NatsLink,
  connectionName,
  natsConnectOptions,
  type NatsIngest,
  type NatsLinkOptions,
} from "../ingest/index.ts";
import { createTokenVerifier, type TokenVerifier } from "../auth/index.ts";
import { TickwireNode, type NodeFleet } from "../node/index.ts";
import type { Hub } from "../fanout/index.ts";
import { urlWithoutCredentials, type Config } from "../config/index.ts";
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

/** The NATS link options of one node (its own connection to `urls`, with TLS and credentials). */
export function linkOptions(
  config: Readonly<Config>,
  urls: readonly string[],
  worker?: number,
): NatsLinkOptions {
  const { nats } = config;
  return {
    servers: urls,
    name: connectionName("tickwire-gateway", worker),
    reconnectWaitMs: nats.reconnectWaitMs,
    pingIntervalMs: nats.pingIntervalMs,
    maxPingsOut: nats.maxPingsOut,
    noEcho: true,
    tls: { caFile: nats.tlsCaFile, certFile: nats.tlsCertFile, keyFile: nats.tlsKeyFile },
    credentials: {
      user: nats.user,
      password: nats.password,
      token: nats.token,
      nkeySeedFile: nats.nkeySeedFile,
      credsFile: nats.credsFile,
    },
  };
}

/**
 * Start-up checks of one node, before it is built (each worker runs them too): unreadable NATS TLS or
 * credentials files, and the key files of `--auth jwt`, read into the token verifier it returns
 * (undefined under `--auth none`).
 */
export async function prepareNode(
  config: Readonly<Config>,
  urls: readonly string[],
  log: Logger,
  worker?: number,
): Promise<TokenVerifier | undefined> {
  natsConnectOptions(linkOptions(config, urls, worker));
  if (config.auth.mode !== "jwt") return undefined;
  const verifier = await createTokenVerifier(config.auth);
  log.info({ auth: verifier.description }, "auth: tokens required");
  return verifier;
}

/** Builds one node over its own NATS link to `urls` (nothing starts). */
export function buildNode(
  config: Readonly<Config>,
  urls: readonly string[],
  log: Logger,
  options: {
    readonly worker?: number;
    readonly fleet?: NodeFleet;
    /** From {@link prepareNode}: `--auth jwt`'s token verifier. */
    readonly verifier?: TokenVerifier | undefined;
  } = {},
): TickwireNode {
  const link = new NatsLink(linkOptions(config, urls, options.worker), log);
  const parts = { uws: loadUws(), link, log, verifier: options.verifier };
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
    const verifier = await prepareNode(config, urls, log);
    node = buildNode(config, urls, log, { verifier });
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
    natsUrl: urls.map(urlWithoutCredentials).join(","),
    natsReady: node.natsReady,
    hub: node.hub,
    ingest: node.ingest,
    stop: () => (stopping ??= stop()),
  };
}
