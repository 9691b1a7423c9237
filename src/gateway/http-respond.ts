import type { HttpResponse } from "uWebSockets.js";

/** One HTTP response to write: status line, headers and body. */
export interface HttpReply {
  /** Status line without the version, e.g. `200 OK`. */
  readonly status: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Marks `res` as answered later (uWS aborts the process when a handler returns without responding or
 * attaching `onAborted`); the returned function says whether the client went away meanwhile.
 */
export function deferResponse(res: HttpResponse): () => boolean {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  return () => aborted;
}

/**
 * Writes a reply; a HEAD request gets the headers and `content-length` without a body (issue 11 §9:
 * HEAD used to get a 404 with a body). `aborted` comes from {@link deferResponse}
 * for replies written after an await; nothing is written when it says so.
 */
export function writeReply(
  res: HttpResponse,
  reply: HttpReply,
  head: boolean,
  aborted: () => boolean = () => false,
): void {
  if (aborted()) return;
  res.cork(() => {
    res.writeStatus(reply.status);
    for (const [name, value] of Object.entries(reply.headers)) res.writeHeader(name, value);
    // uWS 20.30's endWithoutBody(length) never completes the response (the connection hangs): the
    // length goes in as a header and endWithoutBody() is called without one (checked here).
    if (head) res.writeHeader("content-length", String(Buffer.byteLength(reply.body))).endWithoutBody();
    else res.end(reply.body);
  });
}

/** HTTP responses the gateway writes in one event-loop turn before it refuses the rest of that turn. */
export const HTTP_RESPONSES_PER_TURN = 64;

/**
 * Bounds the HTTP work of one event-loop turn. uWS parses every pipelined request of a read in one go
 * and `end()` queues each whole response in user space (measured here: one connection pipelining 6,000
 * `GET /metrics` without reading made uWS buffer 300 MB and stalled the loop 0.4 s; issue 11 §7 saw 19.7 s
 * when each scrape rendered). uWS gives no way to tell which connection a request came on and mis-orders
 * pipelined responses once one is left pending (`tryEnd`), so the bound is per turn: past
 * {@link HTTP_RESPONSES_PER_TURN}, a request is answered `503` with `retry-after: 1` and the connection
 * is closed after it (which discards the rest of its pipeline). No honest client sends 64 requests in one
 * turn; a refused scrape succeeds at the next one.
 */
export class HttpTurnBudget {
  #used = 0;
  #resetScheduled = false;
  /** Requests refused over the budget. */
  refused = 0;

  constructor(private readonly perTurn = HTTP_RESPONSES_PER_TURN) {}

  /** Takes one response from this turn's budget; false (counted) when it is spent. */
  take(): boolean {
    if (!this.#resetScheduled) {
      this.#resetScheduled = true;
      setImmediate(() => {
        this.#used = 0;
        this.#resetScheduled = false;
      });
    }
    if (this.#used < this.perTurn) {
      this.#used++;
      return true;
    }
    this.refused++;
    return false;
  }
}

/**
 * The answer to a request over the {@link HttpTurnBudget}: a 503 with `retry-after: 1` written, then the
 * connection closed at once. Not `end(body, closeConnection)`: uWS keeps dispatching the rest of the
 * pipeline after it (and aborted the process when a handler ran on the shut-down socket, seen here); a
 * closed socket gets no further request. The client sees the 503 unless its own unread pipeline makes
 * the close a reset.
 */
export function refuseBusy(res: HttpResponse): void {
  res.cork(() => {
    res
      .writeStatus("503 Service Unavailable")
      .writeHeader("retry-after", "1")
      .writeHeader("content-type", "text/plain")
      .writeHeader("connection", "close")
      .write("busy: too many HTTP requests at once\n");
  });
  res.close();
}

/** True for a HEAD request (uWS gives method names in lower case). */
export function isHead(method: string): boolean {
  return method === "head";
}
