import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy that reads from the gateway as fast as it sends and writes to the client at a fixed slow
 * rate, buffering without bound in between: what nginx or a CDN does for a client on a poor link. The
 * gateway's socket never sees backpressure; only an end-to-end signal (a ping answered after the data
 * before it) can tell that the client is behind. Client-to-gateway bytes pass straight through.
 */
export class BufferingProxy {
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Bytes read from the gateway and not yet written to the client, over all connections. */
  buffered = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetPort: number,
    private readonly bytesPerTick: number,
    private readonly tickMs: number,
  ) {
    server.on("connection", (client) => this.#forward(client));
  }

  /** Forwards to `targetPort`, writing at most `bytesPerSec` to each client (in 50-ms slices). */
  static async start(targetPort: number, bytesPerSec: number): Promise<BufferingProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("proxy did not listen");
    const tickMs = 50;
    return new BufferingProxy(
      server,
      address.port,
      targetPort,
      Math.round((bytesPerSec * tickMs) / 1000),
      tickMs,
    );
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #forward(client: Socket): void {
    const upstream = createConnection(this.targetPort, "127.0.0.1");
    const queue: Buffer[] = [];
    const timer = setInterval(() => {
      let budget = this.bytesPerTick;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0] as Buffer;
        const part = head.subarray(0, budget);
        client.write(part);
        budget -= part.length;
        this.buffered -= part.length;
        if (part.length === head.length) queue.shift();
        else queue[0] = head.subarray(part.length);
      }
    }, this.tickMs);
    this.#timers.add(timer);
    upstream.on("data", (chunk: Buffer) => {
      queue.push(chunk);
      this.buffered += chunk.length;
    });
    client.pipe(upstream);
    const end = (): void => {
      clearInterval(timer);
      this.#timers.delete(timer);
      for (const chunk of queue.splice(0)) this.buffered -= chunk.length;
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on("close", () => {
        this.#sockets.delete(socket);
        end();
      });
      socket.on("error", () => undefined);
    }
  }
}
