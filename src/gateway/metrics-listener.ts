import type { TemplatedApp } from "uWebSockets.js";
import { GatewayListenError } from "../errors/index.ts";
import type { HttpEndpoints } from "./http-endpoints.ts";
import { httpRoutes } from "./http-routes.ts";
import type { HttpTurnBudget } from "./http-respond.ts";
import { listenOn } from "./listen.ts";
import type { Uws } from "./uws.ts";

export interface MetricsListenerOptions {
  readonly host: string;
  readonly port: number;
  /**
   * Share the port with the other workers of one supervisor (each answers with the fleet's totals, so
   * any of them may take a scrape); otherwise it is held exclusively, as the public port is.
   */
  readonly shared: boolean;
  readonly http: HttpEndpoints;
  /** The per-turn HTTP budget, shared with the public port's routes. */
  readonly budget: HttpTurnBudget;
}

/**
 * The `--metrics-port` listener: `/metrics`, `/healthz` and `/readyz` on their own address (default host
 * 127.0.0.1), so whoever can reach the WebSocket port cannot scrape (issue 11 §7). No WebSocket route.
 */
export class MetricsListener {
  private constructor(
    private readonly app: TemplatedApp,
    readonly port: number,
  ) {}

  static async start(uws: Uws, options: MetricsListenerOptions): Promise<MetricsListener> {
    const { host, port, shared, http, budget } = options;
    const app = uws.App();
    httpRoutes(app, http, { metrics: true, assets: false }, budget);
    const listenSocket = await listenOn(app, host, port, shared);
    if (listenSocket === false) throw new GatewayListenError(host, port);
    return new MetricsListener(app, uws.us_socket_local_port(listenSocket));
  }

  close(): void {
    // `close()` exists in uWS 20.30 but is missing from its typings.
    (this.app as TemplatedApp & { close(): void }).close();
  }
}
