import type { TemplatedApp, us_listen_socket } from "uWebSockets.js";

/** uWS listen options (its ListenOptions enum, which `verbatimModuleSyntax` cannot import as a value). */
const LISTEN_SHARED_PORT = 0;
const LISTEN_EXCLUSIVE_PORT = 1;

/**
 * Listens on `host:port`: shared (SO_REUSEPORT, the workers of one supervisor on purpose) or exclusive
 * (LIBUS_LISTEN_EXCLUSIVE_PORT: a second process on the port fails with "port in use" instead of
 * silently splitting connections and scrapes with the first). Resolves with the listen socket, or
 * false when the port cannot be had.
 */
export function listenOn(
  app: TemplatedApp,
  host: string,
  port: number,
  shared: boolean,
): Promise<us_listen_socket | false> {
  // uWS 20.30 takes (host, port, options, cb) though its typings list (port, options, cb) only.
  const listen = app.listen.bind(app) as unknown as (
    host: string,
    port: number,
    options: number,
    cb: (listenSocket: us_listen_socket | false) => void,
  ) => TemplatedApp;
  return new Promise((resolve) => {
    listen(host, port, shared ? LISTEN_SHARED_PORT : LISTEN_EXCLUSIVE_PORT, resolve);
  });
}
