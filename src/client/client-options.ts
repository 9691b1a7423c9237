import type {
  BarEvent,
  Encoding,
  FeedEvent,
  HeartbeatEvent,
  MarketEvent,
  QuoteEvent,
  SnapshotEndEvent,
  TradeEvent,
} from "../wire/index.ts";
import type { GapNotice, StateChange } from "./events.ts";
import type { AuthResult, TokenSource } from "./token-keeper.ts";
import type { WebSocketConstructor } from "./transport.ts";

/** Options of {@link connect}; every duration in milliseconds. */
export interface ClientOptions extends TokenSource {
  // From TokenSource, for a gateway running --auth jwt: `token` (a fixed token) or `getToken()` (called
  // when a token is needed: first connection, within `refreshBeforeExpiryMs` of exp, after a refusal),
  // sent as the first frame of every connection and refreshed before it expires.
  /** Wire encoding (default "msgpack"; "json" for reading frames in devtools). */
  readonly encoding?: Encoding;
  /** WebSocket class; default `globalThis.WebSocket`, else the `ws` package (Node 20). */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * The gateway's heartbeat period (default 1000, its `--heartbeat-ms` default). After one silent
   * period the client pings; after 3 periods without a frame of any kind it drops the connection and
   * reconnects. 0 turns the watchdog off.
   */
  readonly heartbeatMs?: number;
  /** Longest wait for the WebSocket upgrade before retrying (default 10000). */
  readonly connectTimeoutMs?: number;
  /** First reconnect delay window (default 250); doubles per failed attempt. */
  readonly initialDelayMs?: number;
  /** Cap of every reconnect delay, the server's retry hint included (default 30000). */
  readonly maxDelayMs?: number;
  /** Fetch a fresh snapshot of a topic after a sequence gap (default true). */
  readonly resyncOnGap?: boolean;
  /** Least time between two gap-triggered snapshots of the same pattern (default 1000). */
  readonly minResyncIntervalMs?: number;
  /**
   * The gateway's `--max-message-bytes` (default 16384, its default): subscribes are split into
   * requests whose frames fit it. A 1009 close naming a lower limit lowers it and reconnects.
   */
  readonly maxMessageBytes?: number;
}

/** Events of a client: everything its connection receives, and the SDK's own notices. */
export interface ClientEvents {
  trade: TradeEvent;
  quote: QuoteEvent;
  bar: BarEvent;
  /** Every data event, whatever its type. */
  event: MarketEvent;
  snapshot_end: SnapshotEndEvent;
  heartbeat: HeartbeatEvent;
  /** The `lag` (ms) of each heartbeat that carries one (protocol v1.5; see `client.lagMs`). */
  lag: number;
  /** A sequence gap or a CONFLATED event, emitted before the event that revealed it. */
  gap: GapNotice;
  /** Every connection state change. */
  state: StateChange;
  /** A fresh snapshot was requested after a gap on `topic`, by re-adding `patterns`. */
  resync: { readonly topic: string; readonly patterns: readonly string[] };
  /** The gateway accepted a token (each connection, each refresh); `removed` lists patterns a refresh dropped. */
  auth: AuthResult;
  /**
   * The gateway's feed went down or came back (a `feed` event, or a heartbeat whose `feed` field
   * changed the state). While down no live event arrives and snapshots are flagged STALE.
   */
  feed: FeedEvent;
  /**
   * Something went wrong that the client handled (undecodable frame, refused resync, listener threw), or
   * an `UnrecoverableCloseError` after which the client is closed.
   */
  error: Error;
}
