import type { HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from "uWebSockets.js";
import { CloseCode, STREAM_PATH, Subprotocol, type Encoding } from "../protocol/index.ts";
import type { FrameSink, Hub, SendResult, Session } from "../fanout/index.ts";
import { GatewayListenError } from "../errors/index.ts";
import { GatewayStats } from "./stats.ts";
import { ConnectionAges } from "./connection-age.ts";
import { TrustedProxies } from "./client-address.ts";
import type { Uws } from "./uws.ts";

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
   * of silently splitting connections and scrapes with the first.
   */
  readonly sharePort?: boolean;
  /** `--max-connection-age-ms`: close connections past this age (jittered), 0 or absent = never. */
  readonly maxConnectionAgeMs?: number;
  /** Retry hint in the close reason of connections closed for their age (ms). */
  readonly retryAfterMs?: number;
  /** `--trusted-proxies`: proxies whose X-Forwarded-For names the client (client-address.ts); absent = none. */
  readonly trustedProxies?: readonly string[];
}

/** uWS listen options (its ListenOptions enum, which `verbatimModuleSyntax` cannot import as a value). */
const LISTEN_SHARED_PORT = 0;
const LISTEN_EXCLUSIVE_PORT = 1;

/** What the HTTP endpoints report; supplied by the composition root. */
export interface HttpEndpoints {
  metrics(): Promise<HttpBody>;
  readiness(): { readonly ready: boolean; readonly detail: Readonly<Record<string, unknown>> };
  /** Called with an unexpected exception thrown while handling a client frame. */
  internalError(error: unknown): void;
  /** A static file (dashboard page, SDK bundle) for an HTTP path, or undefined when there is none. */
  asset(path: string): Promise<HttpBody | undefined>;
  /** Called when a WebSocket opens, with its client's address (the TCP peer, or per --trusted-proxies). */
  opened?(clientAddress: string): void;
}

/** An HTTP response body with its content type (and headers of its own, e.g. CORS for the SDK). */
export interface HttpBody {
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
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
    /** The client's address, resolved at the upgrade (client-address.ts). */
    readonly clientAddress: string,
  ) {}
  send(frame: Uint8Array | string, isBinary: boolean): SendResult {
    // uWS returns 1 sent, 0 backpressure, 2 dropped: SendResult's values (test/send-result.test.ts).
    return (this.ws as WebSocket<UserData>).send(frame, isBinary, false) as SendResult;
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
    // Same values as send (uWS's docs: "Returns sendStatus similar to WebSocket.send").
    return (this.ws as WebSocket<UserData>).ping(payload) as SendResult;
  }
}

/** The uWebSockets.js server: the only code that touches uWS objects. */
export class Gateway {
  #listenSocket: us_listen_socket | undefined;
  #port = 0;
  readonly #ages: ConnectionAges;
  readonly #trusted: TrustedProxies;

  private constructor(
    private readonly uws: Uws,
    private readonly app: TemplatedApp,
    readonly stats: GatewayStats,
    options: GatewayOptions,
  ) {
    const reason = JSON.stringify({ msg: "connection age limit", retryAfterMs: options.retryAfterMs ?? 0 });
    this.#ages = new ConnectionAges(options.maxConnectionAgeMs ?? 0, reason);
    stats.aged = this.#ages;
    this.#trusted = TrustedProxies.parse(options.trustedProxies ?? []);
  }

  static async start(
    uws: Uws,
    hub: Hub,
    options: GatewayOptions,
    http: HttpEndpoints,
    stats = new GatewayStats(),
  ): Promise<Gateway> {
    const app = uws.App();
    const gateway = new Gateway(uws, app, stats, options);
    gateway.#routes(hub, options, http);
    await new Promise<void>((resolve, reject) => {
      const listenOptions = options.sharePort === true ? LISTEN_SHARED_PORT : LISTEN_EXCLUSIVE_PORT;
      // uWS 20.30 takes (host, port, options, cb) though its typings list (port, options, cb) only.
      const listen = app.listen.bind(app) as unknown as (
        host: string,
        port: number,
        options: number,
        cb: (listenSocket: us_listen_socket | false) => void,
      ) => TemplatedApp;
      listen(options.host, options.port, listenOptions, (listenSocket) => {
        if (listenSocket === false) {
          reject(new GatewayListenError(options.host, options.port));
          return;
        }
        gateway.#listenSocket = listenSocket;
        gateway.#port = uws.us_socket_local_port(listenSocket);
        gateway.#ages.start();
        resolve();
      });
    });
    return gateway;
  }

  /** The port actually listened on. */
  get port(): number {
    return this.#port;
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
      maxBackpressure: options.maxBackpressureBytes,
      closeOnBackpressureLimit: 0,
      maxLifetime: 0,
      // The hub's lag probes are pings too, one in flight per connection: uWS's own (empty) pings would
      // only add pongs that answer no probe. The probes' pongs keep a connection within idleTimeout.
      sendPingsAutomatically: !hub.probesEnabled,
      upgrade: (res, req, context) => {
        const offered = req.getHeader("sec-websocket-protocol");
        const key = req.getHeader("sec-websocket-key");
        const extensions = req.getHeader("sec-websocket-extensions");
        if (this.#listenSocket === undefined) {
          stats.upgradesRejectedDraining++;
          res.writeStatus("503 Service Unavailable").writeHeader("retry-after", "1").end("draining\n");
          return;
        }
        const chosen = chooseSubprotocol(offered);
        if (chosen === undefined) {
          stats.upgradesRejectedSubprotocol++;
          res
            .writeStatus("400 Bad Request")
            .end(
              `unsupported subprotocol "${offered.slice(0, 100)}"; use ${Subprotocol.MSGPACK} or ${Subprotocol.JSON}\n`,
            );
          return;
        }
        const encoding: Encoding = chosen === Subprotocol.JSON ? "json" : "msgpack";
        // uWS's req and res are valid only during this call: both are read here, synchronously.
        const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
        const client = this.#trusted.clientAddress(peer, req.getHeader("x-forwarded-for"));
        const userData: UserData = { connection: new Connection(encoding, client) };
        res.upgrade(userData, key, offered.trim() === "" ? "" : chosen, extensions, context);
      },
      open: (ws) => {
        const connection = ws.getUserData().connection;
        connection.ws = ws;
        connection.session = hub.open(connection, connection.encoding);
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
      close: (ws, code) => {
        const connection = ws.getUserData().connection;
        connection.open = false;
        this.#ages.delete(connection);
        if (connection.session !== undefined) hub.closed(connection.session, code);
      },
    });

    this.app.get("/healthz", (res) => {
      res.writeHeader("content-type", "text/plain").end("ok\n");
    });
    this.app.get("/readyz", (res) => {
      const { ready, detail } = http.readiness();
      res
        .writeStatus(ready ? "200 OK" : "503 Service Unavailable")
        .writeHeader("content-type", "application/json")
        .end(JSON.stringify({ ready, ...detail }) + "\n");
    });
    this.app.get("/metrics", (res) => {
      respondAsync(res, http.metrics());
    });
    // Any other GET is a static file when the asset source has one (its own list of paths is the only
    // one: src/web's WEB_FILES), else 404. uWS matches the static routes above before this wildcard.
    this.app.get("/*", (res, req) => {
      respondAsync(res, http.asset(req.getUrl()), { "cache-control": "no-cache" });
    });
    this.app.any("/*", (res) => {
      res
        .writeStatus("404 Not Found")
        .writeHeader("content-type", "text/plain")
        .end(`not found; WebSocket endpoint is ${STREAM_PATH}\n`);
    });
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

function respondAsync(
  res: HttpResponse,
  body: Promise<HttpBody | undefined>,
  headers: Readonly<Record<string, string>> = {},
): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  body.then(
    (out) => {
      if (aborted) return;
      res.cork(() => {
        if (out === undefined) {
          res
            .writeStatus("404 Not Found")
            .writeHeader("content-type", "text/plain")
            .end(`not found; WebSocket endpoint is ${STREAM_PATH}\n`);
          return;
        }
        res.writeHeader("content-type", out.contentType);
        for (const [name, value] of Object.entries({ ...headers, ...out.headers }))
          res.writeHeader(name, value);
        res.end(out.body);
      });
    },
    (error: unknown) => {
      if (!aborted) res.cork(() => res.writeStatus("500 Internal Server Error").end(`${String(error)}\n`));
    },
  );
}
