import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP forwarder on a fixed loopback port, in front of a gateway whose port changes, as a load
 * balancer would be. Tests restart a gateway behind it because a new uWS process cannot bind the old
 * port while the previous one's closed connections sit in TIME_WAIT (about 60 s on Linux).
 */
export class TcpProxy {
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    public targetPort: number,
  ) {
    server.on("connection", (client) => this.#forward(client));
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("proxy did not listen");
    return new TcpProxy(server, address.port, targetPort);
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/stream`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #forward(client: Socket): void {
    const upstream = createConnection(this.targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
      // A reset or refused upstream just ends the pair, as a balancer with no backend would.
      socket.on("error", () => undefined);
    }
    client.pipe(upstream).on("close", () => client.destroy());
    upstream.pipe(client).on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
  }
}
