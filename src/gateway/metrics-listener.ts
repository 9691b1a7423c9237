import type { TemplatedApp, us_listen_socket } from "uWebSockets.js";
import { GatewayListenError } from "../errors/index.ts";
import type { HttpEndpoints } from "./http-endpoints.ts";
import { httpRoutes } from "./http-routes.ts";
import type { HttpTurnBudget } from "./http-respond.ts";
import type { Uws } from "./uws.ts";

/**
 * The `--metrics-port` listener: `/metrics`, `/healthz` and `/readyz` on their own address (default host
 * 127.0.0.1), so whoever can reach the WebSocket port cannot scrape (issue 11 §7). No WebSocket route.
 */
export class MetricsListener {
  private constructor(
    private readonly app: TemplatedApp,
    readonly port: number,
  ) {}

  static async start(
    uws: Uws,
    host: string,
    port: number,
    http: HttpEndpoints,
    budget: HttpTurnBudget,
  ): Promise<MetricsListener> {
    const app = uws.App();
    httpRoutes(app, http, { metrics: true, assets: false }, budget);
    const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
      app.listen(host, port, (socket) => {
        if (socket === false) reject(new GatewayListenError(host, port));
        else resolve(socket);
      });
    });
    return new MetricsListener(app, uws.us_socket_local_port(listenSocket));
  }

  close(): void {
    // `close()` exists in uWS 20.30 but is missing from its typings.
    (this.app as TemplatedApp & { close(): void }).close();
  }
}
