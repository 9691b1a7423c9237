import type { HttpRequest, HttpResponse, us_socket_context_t } from "uWebSockets.js";
import type { GatewayStats } from "./stats.ts";

/**
 * Who may upgrade to a WebSocket (issue 13), decided before uWS builds a socket:
 * - a token in the query string is refused with 400 (URLs end up in proxy logs, access logs and browser
 *   history: a token there is a leaked token);
 * - a browser upgrade (it carries `Origin`) from an origin outside `--allowed-origins` is refused with 403
 *   (cross-site WebSocket hijacking: a page on another site using the visitor's network position);
 * - `Authorization: Bearer TOKEN` (non-browser clients; browsers cannot set it) is verified before the
 *   upgrade under `--auth jwt`; refused → 401 with the reason in the body.
 * Each refusal is counted in {@link GatewayStats}.
 */

/** The upgrade request's headers, copied: uWS's HttpRequest is only valid until the handler returns. */
export interface UpgradeHeaders {
  readonly key: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly origin: string;
  readonly host: string;
  readonly authorization: string;
  readonly query: string;
}

export function readUpgradeHeaders(req: HttpRequest): UpgradeHeaders {
  return {
    key: req.getHeader("sec-websocket-key"),
    protocol: req.getHeader("sec-websocket-protocol"),
    extensions: req.getHeader("sec-websocket-extensions"),
    origin: req.getHeader("origin"),
    host: req.getHeader("host"),
    authorization: req.getHeader("authorization"),
    query: req.getQuery() ?? "",
  };
}

/** Query parameters that look like a credential: refused wherever they appear. */
const TOKEN_PARAMS = new Set(["token", "access_token", "jwt", "auth", "authorization", "bearer"]);

/** Whether the query string carries a token-like parameter. */
export function hasQueryToken(query: string): boolean {
  if (query === "") return false;
  for (const name of new URLSearchParams(query).keys()) {
    if (TOKEN_PARAMS.has(name.toLowerCase())) return true;
  }
  return false;
}

/**
 * Whether an upgrade's `Origin` is allowed: no `Origin` (not a browser) always is; an empty list checks
 * nothing; `*` allows any; otherwise the origin must equal one entry (scheme://host[:port], no path).
 */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  if (origin === "" || allowed.length === 0) return true;
  const normalised = origin.toLowerCase().replace(/\/$/, "");
  for (const entry of allowed) {
    if (entry === "*" || entry.toLowerCase().replace(/\/$/, "") === normalised) return true;
  }
  return false;
}

/** The token of an `Authorization: Bearer` header; undefined without one, null when malformed. */
export function bearerToken(authorization: string): string | undefined | null {
  if (authorization === "") return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(authorization);
  return match?.[1] ?? null;
}

/** An HTTP refusal of an upgrade, or undefined when it may go on. */
export interface Refusal {
  readonly status: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The checks that need no I/O: token in the URL (400), `Origin` (403). Counts what it refuses. */
export function checkUpgrade(
  headers: UpgradeHeaders,
  allowedOrigins: readonly string[],
  stats: GatewayStats,
): Refusal | undefined {
  if (hasQueryToken(headers.query)) {
    stats.upgradesRejectedTokenInUrl++;
    return {
      status: "400 Bad Request",
      body: "token in URL not accepted: send it in an auth request or an Authorization: Bearer header\n",
    };
  }
  if (!originAllowed(headers.origin, allowedOrigins)) {
    stats.upgradesRejectedOrigin++;
    return { status: "403 Forbidden", body: "origin not allowed\n" };
  }
  return undefined;
}

export function refuse(res: HttpResponse, refusal: Refusal): void {
  res.writeStatus(refusal.status).writeHeader("content-type", "text/plain");
  for (const [name, value] of Object.entries(refusal.headers ?? {})) res.writeHeader(name, value);
  res.end(refusal.body);
}

/** uWS's upgrade context type, re-exported for server.ts's one call. */
export type UpgradeContext = us_socket_context_t;
