import { createServer } from "node:net";
import { GatewayListenError } from "../errors/index.ts";

/**
 * Checks that `host:port` is free and returns the port (the kernel's pick for 0). Node's listener does
 * not set SO_REUSEPORT, so the bind fails when any gateway (a single one, or another supervisor's
 * workers) holds the port: a second supervisor says "port in use" instead of joining the first one's
 * workers. The listener is closed at once; the workers bind the port a moment later (a window in
 * which another process could take it: the workers then fail with "port in use" too).
 */
export function claimPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (cause) => reject(Object.assign(new GatewayListenError(host, port), { cause })));
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === "object" && address !== null ? address.port : port;
      server.close(() => resolve(chosen));
    });
  });
}
