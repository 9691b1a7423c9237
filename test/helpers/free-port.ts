import { createServer } from "node:net";

/**
 * A free TCP port on 127.0.0.1, for the few tests that must name a port before anything listens on it (a
 * gateway started before its NATS exists). There is a short race until the caller binds it; everything else
 * binds port 0 (or nats-server's `-p -1`) and reads the port back.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
