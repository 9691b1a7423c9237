import { NatsServerProcess } from "../../src/embedded/index.ts";
import { freePort } from "./free-port.ts";

/**
 * A NATS cluster of `size` nats-server processes on loopback, each routing to all the others (full
 * mesh), with monitoring on and JetStream on when asked (then each has its own store and name).
 */
export class NatsCluster {
  private constructor(readonly servers: readonly NatsServerProcess[]) {}

  static async start(size = 3, options: { readonly jetstream?: boolean } = {}): Promise<NatsCluster> {
    const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const routes = clusterPorts.map((port) => `nats://127.0.0.1:${port}`);
    const servers: NatsServerProcess[] = [];
    try {
      // In parallel: a JetStream member waits for its routes before it reports ready.
      servers.push(
        ...(await Promise.all(
          clusterPorts.map((port, i) =>
            NatsServerProcess.start({
              monitorPort: 0,
              jetstream: options.jetstream === true,
              serverName: `tw-${i}`,
              cluster: { name: "tickwire-test", port, routes },
              startTimeoutMs: 20_000,
            }),
          ),
        )),
      );
    } catch (error) {
      await Promise.all(servers.map((s) => s.dispose()));
      throw error;
    }
    const cluster = new NatsCluster(servers);
    await cluster.#meshed();
    return cluster;
  }

  server(i: number): NatsServerProcess {
    const server = this.servers[i];
    if (server === undefined) throw new RangeError(`no server ${i}`);
    return server;
  }

  /** Resolves once every member routes to every other one (from each one's `/routez`). */
  async #meshed(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(
        this.servers.map(async (s) => {
          const body = (await (await fetch(`${s.monitorUrl}/routez`)).json()) as { num_routes?: number };
          return body.num_routes ?? 0;
        }),
      );
      if (counts.every((n) => n >= this.servers.length - 1)) return;
      if (Date.now() > deadline) throw new Error(`NATS cluster not meshed: routes ${counts.join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.dispose()));
  }
}
