import type { TemplatedApp, WebSocket, us_listen_socket } from "uWebSockets.js";
import { CloseCode, STREAM_PATH, Subprotocol, type Encoding } from "../protocol/index.ts";
import { SendResult, type FrameSink, type Hub, type Session } from "../fanout/index.ts";
import { GatewayListenError } from "../errors/index.ts";
import { GatewayStats } from "./stats.ts";
import { ConnectionAges } from "./connection-age.ts";
import { TrustedProxies } from "./client-address.ts";
import { AddressLimit, ConnectionCap, openFileLimit, resolveMaxConnections } from "./connection-cap.ts";
import type { HttpEndpoints } from "./http-endpoints.ts";
import { maySend, uwsBackpressureLimit } from "./close-reserve.ts";
import { HttpTurnBudget } from "./http-respond.ts";
import { httpRoutes } from "./http-routes.ts";
import { listenOn } from "./listen.ts";
import { MetricsListener } from "./metrics-listener.ts";
import { createApp, type TlsFiles } from "./tls.ts";
import { bearerToken, checkUpgrade, readUpgradeHeaders, refuse } from "./upgrade-policy.ts";
import type { Uws } from "./uws.ts";
import { joinedHeader, offeredSubprotocols, protocolFaultOf } from "./websocket-edges.ts";

/** `retry-after` of a refusal that a moment will lift (draining elsewhere, a free slot). */
const RETRY_SOON: Readonly<Record<string, string>> = { "retry-after": "1" };

export interface GatewayOptions {
  readonly host: string;
  /** TCP port; 0 picks a free one (read it back from {@link Gateway.port}). */
  readonly port: number;
  /**
   * Largest client frame accepted, in bytes; a larger one closes the connection with 1009 and a reason.
   * uWS itself is given a 4× (at least 1 MiB) hard cap: frames beyond that are cut off by uWS without a
   * close frame (1006), because uWS buffers a frame before we see it.
   */
  readonly maxMessageBytes: number;
  /** Idle timeout in ms (0, or 8000–960000; uWS takes whole seconds). */
  readonly idleTimeoutMs: number;
  /** uWS per-socket backpressure limit in bytes; frames past it are dropped and counted. */
  readonly maxBackpressureBytes: number;
  /**
   * Share the port with the other workers of one supervisor (SO_REUSEPORT: the kernel spreads new
   * connections over them). Default false: the gateway owns its port exclusively
   * (LIBUS_LISTEN_EXCLUSIVE_PORT), so a second gateway on the same port fails with "port in use" instead
   * of silently splitting connections and scrapes with the first. The `--metrics-port` listener follows
   * the same rule.
   */
  readonly sharePort?: boolean;
  /** `--max-connection-age-ms`: close connections past this age (jittered), 0 or absent = never. */
  readonly maxConnectionAgeMs?: number;
  /** Retry hint in the close reason of connections closed for their age (ms). */
  readonly retryAfterMs?: number;
  /**
   * Open WebSocket connections at most, in this process (each worker has its own); past it upgrades get
   * 503 + retry-after. 0 = open-file limit less a reserve.
   */
  readonly maxConnections: number;
  /**
   * Open WebSocket connections at most per client address (resolved through `trustedProxies`), in this
   * process; past it upgrades get 429 + retry-after. 0 or absent = no limit.
   */
  readonly maxConnectionsPerIp?: number;
  /** Port of the separate /metrics listener; 0 = none (/metrics stays on the public port). */
  readonly metricsPort: number;
  /** Address of the /metrics listener. */
  readonly metricsHost: string;
  /** Browser origins allowed to upgrade (`*` = any; empty = not checked). */
  readonly allowedOrigins?: readonly string[];
  /** Certificate and key: serve wss:// and https:// (uWS SSLApp). */
  readonly tls?: TlsFiles;
  /** `--trusted-proxies`: proxies whose X-Forwarded-For names the client (client-address.ts); absent = none. */
  readonly trustedProxies?: readonly string[];
}

/** uWS's own frame limit: far enough above ours that oversized frames usually get our 1009. */
export function uwsPayloadCap(maxMessageBytes: number): number {
  return Math.max(4 * maxMessageBytes, 1024 * 1024);
}

/**
 * uWS user data. uWS copies the own properties of the object given to `upgrade` onto its own object
 * (prototype methods are lost), so it stays a plain record pointing at the {@link Connection}.
 */
interface UserData {
  readonly connection: Connection;
}

/** {@link FrameSink} over one uWS WebSocket; guards against use after close (uWS throws then). */
class Connection implements FrameSink {
  ws: WebSocket<UserData> | undefined;
  session: Session | undefined;
  open = true;
  constructor(
    readonly encoding: Encoding,
    /** `--max-backpressure-bytes`, applied here (close-reserve.ts). */
    readonly maxBackpressureBytes: number,
    /** The client's address, resolved at the upgrade (client-address.ts). */
    readonly clientAddress: string,
    /** The upgrade's `Authorization: Bearer` token, under `--auth jwt` (verified once open). */
    readonly bearerToken?: string,
  ) {}
  send(frame: Uint8Array | string, isBinary: boolean): SendResult {
    const ws = this.ws as WebSocket<UserData>;
    // Room for the close frame stays free (close-reserve.ts), so every documented close code goes out.
    if (!maySend(ws.getBufferedAmount(), frame, this.maxBackpressureBytes)) return SendResult.DROPPED;
    // uWS returns 1 sent, 0 backpressure, 2 dropped: SendResult's values (test/send-result.test.ts).
    return ws.send(frame, isBinary, false) as SendResult;
  }
  cork(fn: () => void): void {
    if (this.open) this.ws?.cork(fn);
  }
  bufferedBytes(): number {
    return (this.ws as WebSocket<UserData>).getBufferedAmount();
  }
  close(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.ws?.end(code, reason);
  }
  ping(payload: Uint8Array): SendResult {
    const ws = this.ws as WebSocket<UserData>;
    // A lag probe obeys --max-backpressure-bytes as send does (close-reserve.ts): refused over it, so
    // the probes see DROPPED there as before, and the close frame's room stays free.
    if (!maySend(ws.getBufferedAmount(), payload, this.maxBackpressureBytes)) return SendResult.DROPPED;
    // Same values as send (uWS's docs: "Returns sendStatus similar to WebSocket.send").
    return ws.ping(payload) as SendResult;
  }
}

/** The uWebSockets.js server: the only code that touches uWS objects. */
export class Gateway {
  #listenSocket: us_listen_socket | undefined;
  #port = 0;
  readonly #ages: ConnectionAges;
  #metricsListener: MetricsListener | undefined;
  readonly #cap: ConnectionCap;
  readonly #perAddress: AddressLimit;
  /** `retry-after` of a per-address refusal: --retry-after-ms in whole seconds, at least 1. */
  readonly #retryPerAddress: Readonly<Record<string, string>>;
  readonly #httpBudget = new HttpTurnBudget();
  readonly #trusted: TrustedProxies;

  private constructor(
    private readonly uws: Uws,
    private readonly app: TemplatedApp,
    readonly stats: GatewayStats,
    options: GatewayOptions,
    maxConnections: number,
  ) {
    const reason = JSON.stringify({ msg: "connection age limit", retryAfterMs: options.retryAfterMs ?? 0 });
    this.#ages = new ConnectionAges(options.maxConnectionAgeMs ?? 0, reason);
    stats.aged = this.#ages;
    this.#cap = new ConnectionCap(maxConnections);
    this.#perAddress = new AddressLimit(options.maxConnectionsPerIp ?? 0);
    this.#retryPerAddress = {
      "retry-after": String(Math.max(1, Math.ceil((options.retryAfterMs ?? 1000) / 1000))),
    };
    stats.maxConnections = maxConnections;
    stats.httpBudget = this.#httpBudget;
    this.#trusted = TrustedProxies.parse(options.trustedProxies ?? []);
  }

  static async start(
    uws: Uws,
    hub: Hub,
    options: GatewayOptions,
    http: HttpEndpoints,
    stats = new GatewayStats(),
  ): Promise<Gateway> {
    const app = createApp(uws, options.tls);
    const maxConnections = resolveMaxConnections(options.maxConnections, openFileLimit());
    const gateway = new Gateway(uws, app, stats, options, maxConnections);
    gateway.#routes(hub, options, http);
    const shared = options.sharePort === true;
    if (options.metricsPort !== 0) {
      gateway.#metricsListener = await MetricsListener.start(uws, {
        host: options.metricsHost,
        port: options.metricsPort,
        shared,
        http,
        budget: gateway.#httpBudget,
      });
    }
    const listenSocket = await listenOn(app, options.host, options.port, shared);
    if (listenSocket === false) {
      gateway.#metricsListener?.close();
      throw new GatewayListenError(options.host, options.port);
    }
    gateway.#listenSocket = listenSocket;
    gateway.#port = uws.us_socket_local_port(listenSocket);
    gateway.#ages.start();
    return gateway;
  }

  /** The port actually listened on. */
  get port(): number {
    return this.#port;
  }

  /** Port of the `--metrics-port` listener (0 when there is none). */
  get metricsPort(): number {
    return this.#metricsListener?.port ?? 0;
  }

  get listening(): boolean {
    return this.#listenSocket !== undefined;
  }

  /** Stops accepting connections; open ones are untouched. */
  stopAccepting(): void {
    if (this.#listenSocket === undefined) return;
    this.uws.us_listen_socket_close(this.#listenSocket);
    this.#listenSocket = undefined;
  }

  /** Closes everything immediately (uWS requires this before a worker thread exits). */
  close(): void {
    this.#listenSocket = undefined;
    this.#ages.stop();
    this.#metricsListener?.close();
    // `close()` exists in uWS 20.30 but is missing from its typings.
    (this.app as TemplatedApp & { close(): void }).close();
  }

  #routes(hub: Hub, options: GatewayOptions, http: HttpEndpoints): void {
    const stats = this.stats;
    const onInternalError = (error: unknown): void => http.internalError(error);
    this.app.ws<UserData>(STREAM_PATH, {
      compression: this.uws.DISABLED,
      maxPayloadLength: uwsPayloadCap(options.maxMessageBytes),
      idleTimeout: Math.round(options.idleTimeoutMs / 1000),
      maxBackpressure: uwsBackpressureLimit(options.maxBackpressureBytes),
      closeOnBackpressureLimit: 0,
      maxLifetime: 0,
      // The hub's lag probes are pings too, one in flight per connection: uWS's own (empty) pings would
      // only add pongs that answer no probe. The probes' pongs keep a connection within idleTimeout.
      sendPingsAutomatically: !hub.probesEnabled,
      upgrade: (res, req, context) => {
        const headers = readUpgradeHeaders(req);
        const offered = offeredSubprotocols(req);
        const { key, extensions } = headers;
        if (this.#listenSocket === undefined) {
          stats.upgradesRejectedDraining++;
          return refuse(res, { status: "503 Service Unavailable", body: "draining\n", headers: RETRY_SOON });
        }
        if (this.#cap.full) {
          // Below the descriptor limit, so /healthz and /metrics keep answering (issue 11 §6).
          stats.upgradesRejectedCapacity++;
          const notice = this.#cap.refuse();
          if (notice !== undefined) http.connectionCapReached(notice);
          return refuse(res, {
            status: "503 Service Unavailable",
            body: `connection limit reached (${this.#cap.max})\n`,
            headers: RETRY_SOON,
          });
        }
        const chosen = chooseSubprotocol(offered);
        if (chosen === undefined) {
          stats.upgradesRejectedSubprotocol++;
          return refuse(res, {
            status: "400 Bad Request",
            body: `unsupported subprotocol "${offered.slice(0, 100)}"; use ${Subprotocol.MSGPACK} or ${Subprotocol.JSON}\n`,
          });
        }
        const encoding: Encoding = chosen === Subprotocol.JSON ? "json" : "msgpack";
        const refusal = checkUpgrade(headers, options.allowedOrigins ?? [], stats);
        if (refusal !== undefined) return refuse(res, refusal);
        // uWS's req and res are valid only during this call, and the upgrade never waits: a Bearer token
        // is verified once the connection is open (AccessPolicy.bearer says why).
        const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
        const client = this.#trusted.clientAddress(peer, joinedHeader(req, "x-forwarded-for"));
        if (this.#perAddress.full(client)) {
          stats.upgradesRejectedPerIp++;
          return refuse(res, {
            status: "429 Too Many Requests",
            body: `too many connections from this address (${this.#perAddress.max})\n`,
            headers: this.#retryPerAddress,
          });
        }
        const protocol = offered.trim() === "" ? "" : chosen;
        const token = hub.authenticator === undefined ? undefined : bearerToken(headers.authorization);
        if (token === null) {
          stats.upgradesRejectedBearer++;
          refuse(res, { status: "401 Unauthorized", body: "malformed Authorization header\n" });
          return;
        }
        res.upgrade(
          { connection: new Connection(encoding, options.maxBackpressureBytes, client, token) },
          key,
          protocol,
          extensions,
          context,
        );
      },
      open: (ws) => {
        const connection = ws.getUserData().connection;
        connection.ws = ws;
        this.#cap.open++;
        this.#perAddress.opened(connection.clientAddress);
        connection.session = hub.open(connection, connection.encoding, connection.bearerToken);
        this.#ages.add(connection);
        http.opened?.(connection.clientAddress);
      },
      message: (ws, message, isBinary) => {
        const sink = ws.getUserData().connection;
        const session = sink.session;
        if (session === undefined) return;
        if (message.byteLength > options.maxMessageBytes) {
          stats.framesTooBig++;
          sink.close(
            CloseCode.MESSAGE_TOO_BIG,
            `message too big: ${message.byteLength} bytes, limit ${options.maxMessageBytes}`,
          );
          return;
        }
        try {
          hub.receive(session, message, isBinary);
        } catch (error) {
          // Input handling must never throw (tests cover every known input); if a bug slips through,
          // it costs this one connection, is counted and logged, and the process stays up.
          stats.internalErrors++;
          onInternalError(error);
          sink.close(CloseCode.INTERNAL_ERROR, "internal error");
        }
      },
      pong: (ws, message) => {
        const session = ws.getUserData().connection.session;
        if (session !== undefined) hub.pong(session, message);
      },
      drain: (ws) => {
        const session = ws.getUserData().connection.session;
        if (session !== undefined) hub.drained(session);
      },
      close: (ws, code, message) => {
        const fault = protocolFaultOf(code, message);
        if (fault !== undefined) stats.countProtocolFault(fault);
        const connection = ws.getUserData().connection;
        connection.open = false;
        this.#ages.delete(connection);
        this.#cap.open--;
        this.#perAddress.closed(connection.clientAddress);
        if (connection.session !== undefined) hub.closed(connection.session, code);
      },
    });

    httpRoutes(this.app, http, { metrics: options.metricsPort === 0, assets: true }, this.#httpBudget);
  }
}

/** Picks the first offered subprotocol we speak; no header means msgpack; only unknown ones: undefined. */
export function chooseSubprotocol(header: string): Subprotocol | undefined {
  if (header.trim() === "") return Subprotocol.MSGPACK;
  for (const raw of header.split(",")) {
    const name = raw.trim();
    if (name === Subprotocol.MSGPACK || name === Subprotocol.JSON) return name;
  }
  return undefined;
}
