/** The gateway refused a request whole (an error reply): nothing changed on the connection. */
export class RequestRefusedError extends Error {
  override readonly name = "RequestRefusedError";
  readonly code = "TICKWIRE_ERR_REQUEST_REFUSED";
  /**
   * @param method the request's method
   * @param protocolCode the reply's error code ({@link ErrorCode}, PROTOCOL.md "Error codes"), e.g. 4006 for a limit
   * @param serverMessage the reply's `msg`
   * @param reason a 4001's `reason` (e.g. `expired`, `bad_signature`; PROTOCOL.md "auth")
   */
  constructor(
    readonly method: string,
    readonly protocolCode: number,
    readonly serverMessage: string,
    readonly reason?: string,
  ) {
    super(`${method} refused by the gateway: ${protocolCode} ${serverMessage}`);
  }
}

/** The connection was lost before the reply came; the request may or may not have been applied. */
export class ConnectionLostError extends Error {
  override readonly name = "ConnectionLostError";
  readonly code = "TICKWIRE_ERR_CONNECTION_LOST";
  constructor(method: string, options?: { cause?: unknown }) {
    super(`connection lost before the reply to ${method}`, options);
  }
}

/** The client was closed by its owner; no more requests. */
export class ClientClosedError extends Error {
  override readonly name = "ClientClosedError";
  readonly code = "TICKWIRE_ERR_CLIENT_CLOSED";
  constructor(what: string) {
    super(`client is closed: cannot ${what}`);
  }
}

/** A caller error caught before anything is sent (bad option or argument). */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
  readonly code = "TICKWIRE_ERR_INVALID_ARGUMENT";
}

/** No WebSocket implementation: not a browser, and the `ws` package could not be loaded. */
export class NoWebSocketError extends Error {
  override readonly name = "NoWebSocketError";
  readonly code = "TICKWIRE_ERR_NO_WEBSOCKET";
  constructor(options?: { cause?: unknown }) {
    super(
      "no WebSocket implementation: globalThis.WebSocket is missing and the ws package could not be loaded; " +
        "install ws or pass the WebSocket option",
      options,
    );
  }
}

/**
 * The gateway refused the client's token, or closed the connection for it (4001), and retrying cannot
 * help (a fixed token, or a second refusal in a row): the client has stopped. `reason` is the gateway's
 * (PROTOCOL.md "auth").
 */
export class AuthRefusedError extends Error {
  override readonly name = "AuthRefusedError";
  readonly code = "TICKWIRE_ERR_AUTH_REFUSED";
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(`token refused by the gateway (${reason}): ${message}`);
  }
}

/**
 * The gateway closed the connection with a code that would recur on every retry (1002, 1003, 1007,
 * 1008, 1009 without a lower limit to learn, 4001, 4003), or (in Node, closeCode 1006) the connection
 * never opened for a reason every retry meets again: the upgrade refused with HTTP 400, 401, 403 or 404,
 * or a TLS certificate the client does not trust. The client stopped reconnecting and is closed.
 */
export class UnrecoverableCloseError extends Error {
  override readonly name = "UnrecoverableCloseError";
  readonly code = "TICKWIRE_ERR_UNRECOVERABLE_CLOSE";
  constructor(
    /** The WebSocket close code. */
    readonly closeCode: number,
    /** The close reason the gateway gave (may be empty), or the connection error of one that never opened. */
    readonly reason: string,
  ) {
    super(
      closeCode === 1006
        ? `the connection could not be opened: ${reason}; retrying cannot help, client stopped`
        : `the gateway closed the connection with ${closeCode} ${reason}; retrying cannot help, client stopped`,
    );
  }
}
