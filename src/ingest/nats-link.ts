import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import {
  connect,
  credsAuthenticator,
  DebugEvents,
  Events,
  nkeyAuthenticator,
  type ConnectionOptions,
  type NatsConnection,
} from "nats";
import { urlWithoutCredentials } from "../config/index.ts";
import { NatsDrainError, ShutdownTimeoutError, TlsFileError } from "../errors/index.ts";
import { RateLimitedLog, type Logger } from "../logging/index.ts";
import { NatsLinkStats, NatsState } from "./stats.ts";

export interface NatsLinkOptions {
  /** NATS server URLs (a cluster's seeds). */
  readonly servers: readonly string[];
  /** Client name, shown by nats-server's monitoring (`connz`). */
  readonly name: string;
  /** Wait between reconnect attempts; the link retries forever, also on the first connection. */
  readonly reconnectWaitMs: number;
  /** Client ping interval (dead-server detection); the client's default when absent. */
  readonly pingIntervalMs?: number;
  /** Unanswered pings before the connection is considered dead; the client's default when absent. */
  readonly maxPingsOut?: number;
  /** Do not receive what this connection publishes (a gateway publishes nothing it subscribes to). */
  readonly noEcho?: boolean;
  /** TLS to NATS (`tls://` URLs, or any of these set): CA to verify the server, client certificate and key. */
  readonly tls?: NatsTlsFiles;
  /** How to authenticate to NATS; at most one way (the config checks it). */
  readonly credentials?: NatsCredentials;
}

export interface NatsTlsFiles {
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

/** A secret config value (printed as [redacted]); revealed only when the connect options are built. */
export interface SecretValue {
  reveal(): string;
  readonly isSet: boolean;
}

export interface NatsCredentials {
  readonly user?: string | undefined;
  readonly password?: SecretValue | undefined;
  readonly token?: SecretValue | undefined;
  readonly nkeySeedFile?: string | undefined;
  readonly credsFile?: string | undefined;
}

/** Longest wait for one connection attempt (TCP, INFO and CONNECT) before it counts as failed. */
const CONNECT_ATTEMPT_TIMEOUT_MS = 2000;

/**
 * The NATS client's connect options: the one place they are built (TLS, credentials, reconnect and ping
 * settings). Reads the NKey seed and .creds files; their content and every secret stay in the returned
 * object, which is never logged.
 */
export function natsConnectOptions(options: NatsLinkOptions): ConnectionOptions {
  const { servers, name, reconnectWaitMs, pingIntervalMs, maxPingsOut, noEcho, tls, credentials } = options;
  const out: ConnectionOptions = {
    servers: [...servers],
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    // The first connection is retried by NatsLink, not by the client: the client's own first-connect loop
    // cannot be cancelled, and a stop() during it would leave the process running.
    waitOnFirstConnect: false,
    timeout: CONNECT_ATTEMPT_TIMEOUT_MS,
    reconnectTimeWait: reconnectWaitMs,
    reconnectJitter: Math.min(500, reconnectWaitMs),
    noEcho: noEcho === true,
  };
  if (pingIntervalMs !== undefined) out.pingInterval = pingIntervalMs;
  if (maxPingsOut !== undefined) out.maxPingOut = maxPingsOut;
  Object.assign(out, natsSecurityOptions(tls, credentials));
  return out;
}

/**
 * The TLS and credential part of the NATS connect options (for a gateway's link and for short-lived admin
 * connections alike). Reads the NKey seed and .creds files; checks the TLS files can be read. The secrets
 * stay in the returned object, which is never logged.
 */
export function natsSecurityOptions(
  tls: NatsTlsFiles | undefined,
  credentials: NatsCredentials | undefined,
): Pick<ConnectionOptions, "tls" | "user" | "pass" | "token" | "authenticator"> {
  const out: Pick<ConnectionOptions, "tls" | "user" | "pass" | "token" | "authenticator"> = {};
  if (tls !== undefined && (tls.caFile ?? tls.certFile ?? tls.keyFile) !== undefined) {
    out.tls = {
      ...(tls.caFile !== undefined ? { caFile: readable("--nats-tls-ca", tls.caFile) } : {}),
      ...(tls.certFile !== undefined ? { certFile: readable("--nats-tls-cert", tls.certFile) } : {}),
      ...(tls.keyFile !== undefined ? { keyFile: readable("--nats-tls-key", tls.keyFile) } : {}),
    };
  }
  const c = credentials ?? {};
  if (c.user !== undefined && c.password?.isSet === true) {
    out.user = c.user;
    out.pass = c.password.reveal();
  } else if (c.token?.isSet === true) {
    out.token = c.token.reveal();
  } else if (c.nkeySeedFile !== undefined) {
    const seed = new TextEncoder().encode(readText("--nats-nkey-seed-file", c.nkeySeedFile).trim());
    out.authenticator = nkeyAuthenticator(seed);
  } else if (c.credsFile !== undefined) {
    out.authenticator = credsAuthenticator(
      new TextEncoder().encode(readText("--nats-creds-file", c.credsFile)),
    );
  }
  return out;
}

function readText(flag: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new TlsFileError(flag, path, { cause });
  }
}

/** The path, after checking it can be read (the NATS client reports a bad file only as a failed connect). */
function readable(flag: string, path: string): string {
  readText(flag, path);
  return path;
}

/** At most one "nats not reachable" line per this interval (the first failure is logged at once). */
const UNREACHABLE_LOG_INTERVAL_MS = 10_000;

/**
 * The NATS connection name of one process (shown by nats-server's `connz`): role, host, pid and, for a
 * supervisor's worker, its id, so an operator can tell the gateways of a cluster apart.
 */
export function connectionName(role: string, workerId?: number): string {
  const worker = workerId === undefined ? "" : `/w${workerId}`;
  return `${role}/${hostname()}/${process.pid}${worker}`;
}

/**
 * The one owner of a NATS connection: connect options built in one place, status watched and counted,
 * a first-connect promise, drain. The ingest, the feed-history reader and a feed publisher share one.
 *
 * Building a link does nothing; {@link start} connects (retrying forever, also on the first attempt,
 * logging at a bounded rate that the server is not reachable) and {@link stop} drains. A stop while the
 * first connection is still pending ends the retries at once (nothing is left to keep the process alive)
 * and closes a connection attempt that completes afterwards.
 */
export class NatsLink {
  readonly stats = new NatsLinkStats();
  #nc: NatsConnection | undefined;
  #starting: Promise<void> | undefined;
  /** Set by stop(): a connection that completes afterwards is closed at once. */
  #stopped = false;
  readonly #waiting: ((nc: NatsConnection) => void)[] = [];
  readonly #onReconnect: (() => void)[] = [];
  /** Ends the wait between two first-connection attempts (set while waiting). */
  #wakeUp: (() => void) | undefined;
  readonly #listeners: ((connected: boolean) => void)[] = [];
  #epoch = 0;
  #up = false;

  constructor(
    private readonly options: NatsLinkOptions,
    /** Where connection events are logged; nothing is logged without one. */
    private readonly log: Logger | undefined = undefined,
  ) {}

  /** The connection, once the first one is up. */
  get connection(): NatsConnection | undefined {
    return this.#nc;
  }

  get connected(): boolean {
    return this.stats.state === NatsState.CONNECTED;
  }

  /**
   * Connection generation: 0 before the first connection, then +1 each time the connection is lost.
   * Messages of one generation came over one unbroken connection; the ingest flags each topic's first
   * event of a new generation RESYNC (updates published while disconnected never reach the gateway).
   * Raised on the disconnect, which the client reports before any message of the next connection
   * can be read (a reconnect takes at least a TCP connect and a handshake).
   */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Calls `listener` with true when the connection comes up (first connect, reconnect) and false when
   * it is lost; only on a change. Not called for the close of {@link stop}. Register before start().
   */
  onConnectionChange(listener: (connected: boolean) => void): void {
    this.#listeners.push(listener);
  }

  #changed(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    if (!up) this.#epoch++;
    for (const listener of this.#listeners) listener(up);
  }

  /**
   * Resolves with the connection once the first one is up (at once when it is): the gateway listens
   * before NATS is connected, and the feed-history reader waits here rather than answer nothing.
   */
  connectedOnce(): Promise<NatsConnection> {
    if (this.#nc !== undefined) return Promise.resolve(this.#nc);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Calls `listener` after every reconnect (not the first connection), e.g. to mark the outage's gap. */
  onReconnect(listener: () => void): void {
    this.#onReconnect.push(listener);
  }

  /** Connects; resolves once connected (or at once when stopped meanwhile). Idempotent. */
  start(): Promise<void> {
    return (this.#starting ??= this.#connect());
  }

  async #connect(): Promise<void> {
    const { servers, reconnectWaitMs } = this.options;
    const options = natsConnectOptions(this.options);
    const unreachable =
      this.log === undefined ? undefined : new RateLimitedLog(this.log, UNREACHABLE_LOG_INTERVAL_MS);
    let nc: NatsConnection | undefined;
    for (let attempt = 1; nc === undefined; attempt++) {
      if (this.#stopped) {
        this.stats.state = NatsState.CLOSED;
        return;
      }
      try {
        nc = await connect(options);
      } catch (error) {
        this.stats.connectFailures++;
        unreachable?.warn(
          {
            servers: servers.map(urlWithoutCredentials),
            attempt,
            retryInMs: reconnectWaitMs,
            reason: error instanceof Error ? error.message : String(error),
          },
          "nats not reachable; retrying",
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, reconnectWaitMs);
          this.#wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wakeUp = undefined;
      }
    }
    if (this.#stopped) {
      // stop() ran while the first connection was still being made (a SIGTERM during start-up): an
      // open connection here would keep the process alive after "stopped".
      await nc.close();
      this.stats.state = NatsState.CLOSED;
      return;
    }
    this.#nc = nc;
    this.stats.state = NatsState.CONNECTED;
    this.#epoch = 1;
    this.log?.info({ server: urlWithoutCredentials(nc.getServer()) }, "nats connected");
    this.#changed(true);
    void this.#watchStatus(nc);
    for (const resolve of this.#waiting.splice(0)) resolve(nc);
  }

  /**
   * Drains (subscriptions process what is in flight, publishes are flushed) and closes the connection.
   * A drain that has not finished after `graceMs` (NATS unreachable: nothing can be flushed) is cut short:
   * the connection is closed, its reconnect attempts end, and a {@link NatsDrainError} says so.
   */
  async stop(graceMs = Infinity): Promise<void> {
    this.#stopped = true;
    this.#wakeUp?.();
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) {
      this.stats.state = NatsState.CLOSED;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    // Settles with true, or the drain's error; never rejects (a drain failing after the grace is not unhandled).
    const drained = nc.drain().then(
      () => true as const,
      (cause: unknown) => ({ cause }),
    );
    const late = new Promise<{ cause: Error }>((resolve) => {
      if (graceMs !== Infinity) {
        timer = setTimeout(
          () => resolve({ cause: new ShutdownTimeoutError("nats drain", graceMs) }),
          graceMs,
        );
      }
    });
    try {
      const outcome = await Promise.race([drained, late]);
      // The client's drain can resolve without closing (its flush fails while disconnected): close in
      // every case, which also ends its reconnect attempts.
      if (!nc.isClosed()) await nc.close();
      if (outcome !== true) throw new NatsDrainError(outcome);
    } finally {
      clearTimeout(timer);
      this.stats.state = NatsState.CLOSED;
    }
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      switch (status.type) {
        case Events.Disconnect:
          this.stats.disconnects++;
          this.stats.state = NatsState.RECONNECTING;
          this.log?.warn({ server: serverOf(status.data) }, "nats disconnected; reconnecting");
          this.#changed(false);
          break;
        case Events.Reconnect:
          this.stats.reconnects++;
          this.stats.state = NatsState.CONNECTED;
          this.log?.info({ server: serverOf(status.data) }, "nats reconnected");
          for (const listener of this.#onReconnect) listener();
          this.#changed(true);
          break;
        case DebugEvents.Reconnecting:
          this.stats.state = NatsState.RECONNECTING;
          break;
        case Events.Error:
          this.stats.errors++;
          this.log?.error({ data: status.data }, "nats error");
          break;
        case Events.LDM:
          this.log?.warn(
            { server: status.data },
            "nats server entering lame-duck mode; the client will move to another server",
          );
          break;
        case DebugEvents.StaleConnection:
          this.log?.warn("nats connection stale (pings unanswered); reconnecting");
          break;
        case Events.Update:
        case DebugEvents.PingTimer:
        case DebugEvents.ClientInitiatedReconnect:
          break;
      }
    }
    this.stats.state = NatsState.CLOSED;
  }
}

/** The server of a status event, credentials removed (the event's data is a URL string). */
function serverOf(data: unknown): string {
  return typeof data === "string" ? urlWithoutCredentials(data) : "";
}
