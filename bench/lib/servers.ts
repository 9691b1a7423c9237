import type { TemplatedApp, us_listen_socket } from "uWebSockets.js";
import { loadConfig, type Config } from "../../src/config/index.ts";
import { Hub, type Authenticator } from "../../src/fanout/index.ts";
import { Gateway, type Uws } from "../../src/gateway/index.ts";
import { STREAM_PATH } from "../../src/protocol/index.ts";
import type { InterestListener } from "../../src/subscriptions/index.ts";

export const HOST = "127.0.0.1";
export { STREAM_PATH };

/**
 * tickwire's defaults (`tickwire serve` with no flags), so every variant gets the same limits, except
 * heartbeats: off, because the clients count frames without decoding them, and one heartbeat per
 * connection per second would show up as events nobody published (a negative loss). They cost one
 * frame per connection per second, immaterial next to millions of events per second.
 */
export function defaultConfig(extraArgs: readonly string[] = []): Readonly<Config> {
  return loadConfig(["--heartbeat-ms", "0", ...extraArgs], {});
}

/**
 * There is no NATS in the benchmarks: the hub calls this where the ingest would add or drop a NATS
 * subscription, and it only counts, so the numbers are the fan-out's alone.
 */
export class CountingInterest implements InterestListener {
  active = 0;
  idle = 0;
  patternActive(): void {
    this.active++;
  }
  patternIdle(): void {
    this.idle++;
  }
}

export interface TickwireServer {
  readonly hub: Hub;
  readonly gateway: Gateway;
  readonly interest: CountingInterest;
  /** Exceptions the gateway reported while handling client frames; a benchmark fails on any. */
  readonly internalErrors: unknown[];
  readonly port: number;
  close(): Promise<void>;
}

/** The real tickwire fan-out: `Hub` + `Gateway` from src/, wired as src/node/ does minus NATS. */
export async function startTickwire(
  uws: Uws,
  config: Readonly<Config>,
  /** `--auth jwt`: connections must bring a token (the fanout-ceiling `tickwire-auth` variant). */
  authenticator?: Authenticator,
): Promise<TickwireServer> {
  const interest = new CountingInterest();
  const internalErrors: unknown[] = [];
  const hub = new Hub({ ...config.fanout, idleTimeoutMs: config.gateway.idleTimeoutMs });
  hub.attach({ interest, authenticator });
  hub.start();
  const gateway = await Gateway.start(
    uws,
    hub,
    {
      host: HOST,
      port: 0,
      maxMessageBytes: config.gateway.maxMessageBytes,
      idleTimeoutMs: config.gateway.idleTimeoutMs,
      maxBackpressureBytes: config.gateway.maxBackpressureBytes,
      maxConnections: config.gateway.maxConnections,
      metricsPort: 0,
      metricsHost: HOST,
    },
    {
      metrics: () => Promise.resolve({ contentType: "text/plain", body: "" }),
      // No dashboard in the benchmarks: `/` and `/client.js` answer 404.
      asset: () => Promise.resolve(undefined),
      readiness: () => ({ ready: true, detail: {} }),
      connectionCapReached: (notice) => console.error("tickwire connection limit reached:", notice),
      internalError: (error) => {
        internalErrors.push(error);
        console.error("tickwire internal error:", error);
      },
    },
  );
  return {
    hub,
    gateway,
    interest,
    internalErrors,
    port: gateway.port,
    close: async () => {
      gateway.stopAccepting();
      if (hub.connectionCount > 0) hub.closeAll(1001, "benchmark over");
      await waitFor(() => hub.connectionCount === 0, 3000).catch(() => undefined);
      gateway.close();
      hub.stop();
    },
  };
}

export interface RawUwsServer {
  readonly app: TemplatedApp;
  readonly port: number;
  connections(): number;
  close(): Promise<void>;
}

/**
 * The ceiling: plain uWebSockets.js pub/sub (topic tree in C++). It reads the same v1 subscribe
 * request as tickwire, calls `ws.subscribe` per topic and replies, so clients cannot tell them apart
 * until data flows. Limits are tickwire's defaults.
 */
export async function startRawUws(
  uws: Uws,
  config: Readonly<Config>,
  onSubscribe: () => void = () => undefined,
): Promise<RawUwsServer> {
  const app = uws.App();
  let open = 0;
  const decoder = new TextDecoder();
  app.ws(STREAM_PATH, {
    compression: uws.DISABLED,
    maxPayloadLength: config.gateway.maxMessageBytes,
    idleTimeout: Math.round(config.gateway.idleTimeoutMs / 1000),
    maxBackpressure: config.gateway.maxBackpressureBytes,
    closeOnBackpressureLimit: 0,
    maxLifetime: 0,
    sendPingsAutomatically: true,
    open: () => {
      open++;
    },
    message: (ws, message) => {
      const request = JSON.parse(decoder.decode(message)) as {
        id: number;
        params: { topics: string[] };
      };
      for (const topic of request.params.topics) {
        ws.subscribe(topic);
        onSubscribe();
      }
      ws.send(JSON.stringify({ id: request.id, result: { subscribed: request.params.topics } }), false);
    },
    close: () => {
      open--;
    },
  });
  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(HOST, 0, (socket) => {
      if (socket === false) reject(new Error(`raw uWS: cannot listen on ${HOST}`));
      else resolve(socket);
    });
  });
  return {
    app,
    port: uws.us_socket_local_port(listenSocket),
    connections: () => open,
    close: async () => {
      uws.us_listen_socket_close(listenSocket);
      await waitFor(() => open === 0, 3000).catch(() => undefined);
      // `close()` exists in uWS 20.30 but is missing from its typings (as in src/gateway/server.ts).
      (app as TemplatedApp & { close(): void }).close();
    },
  };
}

/** Polls `done` every 10 ms; rejects after `timeoutMs`. */
export function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  return new Promise<void>((resolve, reject) => {
    const poll = (): void => {
      if (done()) resolve();
      else if (performance.now() > deadline) reject(new Error(`condition not met within ${timeoutMs} ms`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

/** `xbench.S000.quote` … : concrete v1 topics (venue.symbol.type). */
export function topicNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `xbench.S${String(i).padStart(3, "0")}.quote`);
}
