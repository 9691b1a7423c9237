/**
 * Every error the tickwire process throws, in one place (fastify's `lib/errors.js`, undici's `UND_ERR_*`):
 * one base class with a stable `code`, a `name` and an optional `cause`. Callers match by class or by
 * `code`, never by message text. docs/errors.md documents each code; test/errors-doc.test.ts keeps the
 * two equal. The SDK's own errors (src/client/errors.ts) are browser code and live with the SDK.
 */

/** The stable code of each process error: the catalogue that docs/errors.md must match. */
export const TickwireErrorCode = {
  CONFIG: "TICKWIRE_ERR_CONFIG",
  UWS_FALLBACK: "TICKWIRE_ERR_UWS_FALLBACK",
  LISTEN: "TICKWIRE_ERR_LISTEN",
  WEB_ASSETS: "TICKWIRE_ERR_WEB_ASSETS",
  NATS_SERVER_NOT_FOUND: "TICKWIRE_ERR_NATS_SERVER_NOT_FOUND",
  NATS_SERVER_START: "TICKWIRE_ERR_NATS_SERVER_START",
  NATS_DRAIN: "TICKWIRE_ERR_NATS_DRAIN",
  HISTORY_STREAM: "TICKWIRE_ERR_HISTORY_STREAM",
  SHUTDOWN_TIMEOUT: "TICKWIRE_ERR_SHUTDOWN_TIMEOUT",
  AUTH_CONFIG: "TICKWIRE_ERR_AUTH_CONFIG",
  AUTH_KEY: "TICKWIRE_ERR_AUTH_KEY",
  AUTH_KEYS_UNAVAILABLE: "TICKWIRE_ERR_AUTH_KEYS_UNAVAILABLE",
  HUB_WIRING: "TICKWIRE_ERR_HUB_WIRING",
  DECODE: "TICKWIRE_ERR_DECODE",
  WORKER_START: "TICKWIRE_ERR_WORKER_START",
  TLS_FILE: "TICKWIRE_ERR_TLS_FILE",
} as const;
export type TickwireErrorCode = (typeof TickwireErrorCode)[keyof typeof TickwireErrorCode];

/** Base of every process error: a stable {@link TickwireErrorCode}, the subclass's `name`, a `cause`. */
export abstract class TickwireError extends Error {
  abstract readonly code: TickwireErrorCode;
  abstract override readonly name: string;
}

/** True for any tickwire process error (the CLI reports these as start-up failures, exit status 1). */
export function isTickwireError(error: unknown): error is TickwireError {
  return error instanceof TickwireError;
}

/** Start-up failure: every configuration problem at once, each naming the option and what is expected. */
export class ConfigError extends TickwireError {
  override readonly name = "ConfigError";
  readonly code = TickwireErrorCode.CONFIG;
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

/** uWebSockets.js loaded its slow `ws` fallback shim instead of the native binary (BRIEF.md). */
export class NativeUwsUnavailableError extends TickwireError {
  override readonly name = "NativeUwsUnavailableError";
  readonly code = TickwireErrorCode.UWS_FALLBACK;
  constructor(detail: string, options?: ErrorOptions) {
    super(
      `uWebSockets.js native binary is not in use (${detail}); tickwire refuses to run on the slow fallback shim. ` +
        `Use Node.js 16, 18 or 20 on linux/darwin x64/arm64 (this is Node ${process.versions.node}, ABI ${process.versions.modules}, ` +
        `${process.platform}-${process.arch}), unset UWS_USE_FALLBACK, and reinstall with \`npm ci\`.`,
      options,
    );
  }
}

/** The gateway cannot listen on its address. */
export class GatewayListenError extends TickwireError {
  override readonly name = "GatewayListenError";
  readonly code = TickwireErrorCode.LISTEN;
  constructor(host: string, port: number) {
    super(
      `port in use: cannot listen on ${host}:${port} (another process holds it, or the address is not one of this machine)`,
    );
  }
}

/** `--workers N`: a worker process failed to start (its own error's message follows). */
export class WorkerStartError extends TickwireError {
  override readonly name = "WorkerStartError";
  readonly code = TickwireErrorCode.WORKER_START;
  constructor(worker: number, why: string) {
    super(`worker ${worker} could not start: ${why}`);
  }
}

/** A TLS certificate, key or CA file, or a NATS credentials file, that cannot be read (never its content). */
export class TlsFileError extends TickwireError {
  override readonly name = "TlsFileError";
  readonly code = TickwireErrorCode.TLS_FILE;
  constructor(flag: string, path: string, options?: ErrorOptions) {
    super(`${flag}: cannot read ${path}`, options);
  }
}

/** A web asset that cannot be produced (not built, and no esbuild to build it). */
export class WebAssetsUnavailableError extends TickwireError {
  override readonly name = "WebAssetsUnavailableError";
  readonly code = TickwireErrorCode.WEB_ASSETS;
}

/** Embedded mode: the nats-server executable is missing. */
export class NatsServerNotFoundError extends TickwireError {
  override readonly name = "NatsServerNotFoundError";
  readonly code = TickwireErrorCode.NATS_SERVER_NOT_FOUND;
  constructor(binary: string) {
    super(
      `${binary} is not an executable${binary.includes("/") ? "" : " on PATH (nor in /usr/sbin or /usr/local/sbin)"}; embedded mode needs nats-server. ` +
        "Install it (Debian/Ubuntu: `sudo apt-get install -y nats-server`), or point tickwire at a running NATS with --nats nats://HOST:4222.",
    );
  }
}

/** Embedded mode: nats-server exited or did not report ready in time. */
export class NatsServerStartError extends TickwireError {
  override readonly name = "NatsServerStartError";
  readonly code = TickwireErrorCode.NATS_SERVER_START;
}

/** Draining the NATS connection failed at shutdown (the cause is the client's error). */
export class NatsDrainError extends TickwireError {
  override readonly name = "NatsDrainError";
  readonly code = TickwireErrorCode.NATS_DRAIN;
  constructor(options: { readonly cause: unknown }) {
    super("nats drain failed", options);
  }
}

/**
 * The feed-history JetStream stream could not be read or created (embedded mode, `tickwire history`); the
 * message ends with the cause's.
 */
export class HistoryStreamError extends TickwireError {
  override readonly name = "HistoryStreamError";
  readonly code = TickwireErrorCode.HISTORY_STREAM;
  constructor(stream: string, options: { readonly cause: unknown }, action: "create" | "read" = "create") {
    const why = options.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`cannot ${action} the feed history stream ${stream}${why}`, options);
  }
}

/** A shutdown phase did not finish within --shutdown-grace-ms (logged; the process still exits). */
export class ShutdownTimeoutError extends TickwireError {
  override readonly name = "ShutdownTimeoutError";
  readonly code = TickwireErrorCode.SHUTDOWN_TIMEOUT;
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
  }
}

/**
 * Start-up failure of the token verifier: every auth option problem at once. Messages name the option
 * and the file or URL, never the secret or key material (they may be printed to a terminal or a log).
 */
export class AuthConfigError extends TickwireError {
  override readonly name = "AuthConfigError";
  readonly code = TickwireErrorCode.AUTH_CONFIG;
  constructor(readonly problems: readonly string[]) {
    super(`invalid auth configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

/** A key or secret file that cannot be read or is not a usable key; the message never holds key material. */
export class AuthKeyError extends TickwireError {
  override readonly name = "AuthKeyError";
  readonly code = TickwireErrorCode.AUTH_KEY;
}

/**
 * No JWK set was ever loaded (the JWKS file or URL is unreadable): thrown inside jose's key lookup and
 * turned by the verifier into the counted refusal `keys_unavailable`, never out of a request.
 */
export class AuthKeysUnavailableError extends TickwireError {
  override readonly name = "AuthKeysUnavailableError";
  readonly code = TickwireErrorCode.AUTH_KEYS_UNAVAILABLE;
}

/** The hub was used before `Hub.attach`, or attached twice: a wiring mistake in the composition root. */
export class HubWiringError extends TickwireError {
  override readonly name = "HubWiringError";
  readonly code = TickwireErrorCode.HUB_WIRING;
}

/**
 * Untrusted input (a client frame, a feed payload) that a strict decoder refused; `message` says why
 * (lowercase, names the offending construct). Never leaves the codec: it becomes a 4000 reply or a counted
 * `decode_error` feed rejection.
 */
export class DecodeError extends TickwireError {
  override readonly name = "DecodeError";
  readonly code = TickwireErrorCode.DECODE;
}
