import type { HttpRequest, HttpResponse, TemplatedApp } from "uWebSockets.js";
import { STREAM_PATH } from "../protocol/index.ts";
import type { HttpBody, HttpEndpoints } from "./http-endpoints.ts";
import { deferResponse, isHead, refuseBusy, writeReply, type HttpTurnBudget } from "./http-respond.ts";

/** Which HTTP endpoints one listener serves. */
export interface HttpRouteSet {
  /** `/metrics` here (false on the public port when `--metrics-port` is set: 404 there). */
  readonly metrics: boolean;
  /** Dashboard and SDK files (public port only). */
  readonly assets: boolean;
}

const NOT_FOUND = {
  status: "404 Not Found",
  headers: { "content-type": "text/plain" },
  body: `not found; WebSocket endpoint is ${STREAM_PATH}\n`,
} as const;

/**
 * The HTTP endpoints of a listener (the public one, and the `--metrics-port` one): `/healthz`, `/readyz`,
 * `/metrics` and the static files when `routes` says so, 404 for anything else; GET and HEAD. Every
 * request takes one response from the shared {@link HttpTurnBudget} first.
 */
export function httpRoutes(
  app: TemplatedApp,
  http: HttpEndpoints,
  routes: HttpRouteSet,
  budget: HttpTurnBudget,
): void {
  const handle = (serve: (res: HttpResponse, req: HttpRequest, head: boolean) => void) => {
    return (res: HttpResponse, req: HttpRequest): void => {
      if (!budget.take()) {
        refuseBusy(res);
        return;
      }
      serve(res, req, isHead(req.getMethod()));
    };
  };
  const get = (path: string, serve: (res: HttpResponse, req: HttpRequest, head: boolean) => void): void => {
    app.get(path, handle(serve));
    app.head(path, handle(serve));
  };
  get("/healthz", (res, _req, head) => {
    writeReply(res, { status: "200 OK", headers: { "content-type": "text/plain" }, body: "ok\n" }, head);
  });
  get("/readyz", (res, _req, head) => {
    const { ready, detail } = http.readiness();
    writeReply(
      res,
      {
        status: ready ? "200 OK" : "503 Service Unavailable",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ready, ...detail }) + "\n",
      },
      head,
    );
  });
  if (routes.metrics) {
    get("/metrics", (res, _req, head) => {
      const body = http.metrics();
      if (!(body instanceof Promise)) {
        writeReply(res, ok(body, {}), head);
        return;
      }
      const aborted = deferResponse(res);
      body.then(
        (out) => writeReply(res, ok(out, {}), head, aborted),
        (error: unknown) => writeReply(res, failed(error), head, aborted),
      );
    });
  }
  if (routes.assets) {
    // Any other GET is a static file when the asset source has one (its own list of paths is the only
    // one: src/web's WEB_FILES), else 404. uWS matches the static routes above before this wildcard.
    get("/*", (res, req, head) => {
      const aborted = deferResponse(res);
      http.asset(req.getUrl()).then(
        (out) =>
          writeReply(
            res,
            out === undefined ? NOT_FOUND : ok(out, { "cache-control": "no-cache" }),
            head,
            aborted,
          ),
        (error: unknown) => writeReply(res, failed(error), head, aborted),
      );
    });
  }
  app.any(
    "/*",
    handle((res, _req, head) => writeReply(res, NOT_FOUND, head)),
  );
}

function ok(out: HttpBody, headers: Readonly<Record<string, string>>) {
  return {
    status: "200 OK",
    headers: { "content-type": out.contentType, ...headers, ...out.headers },
    body: out.body,
  };
}

function failed(error: unknown) {
  return { status: "500 Internal Server Error", headers: {}, body: `${String(error)}\n` };
}
