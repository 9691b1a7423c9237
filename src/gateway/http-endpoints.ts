import type { CapNotice } from "./connection-cap.ts";

/** What the HTTP endpoints report; supplied by the composition root. */
export interface HttpEndpoints {
  /** The scrape: a body at once when a recent one is cached, else a promise of one. */
  metrics(): HttpBody | Promise<HttpBody>;
  readiness(): { readonly ready: boolean; readonly detail: Readonly<Record<string, unknown>> };
  /** Called with an unexpected exception thrown while handling a client frame. */
  internalError(error: unknown): void;
  /** A static file (dashboard page, SDK bundle) for an HTTP path, or undefined when there is none. */
  asset(path: string): Promise<HttpBody | undefined>;
  /** Called when a WebSocket opens, with its client's address (the TCP peer, or per --trusted-proxies). */
  opened?(clientAddress: string): void;
  /** WebSocket upgrades are being refused at `--max-connections` (called at most once per 10 s). */
  connectionCapReached(notice: CapNotice): void;
}

/** An HTTP response body with its content type (and headers of its own, e.g. CORS for the SDK). */
export interface HttpBody {
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}
