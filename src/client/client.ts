import { reconnectDelayMs, retryHintMs, type BackoffOptions } from "./backoff.ts";
import { TokenKeeper, closeReasonWord, type AuthResult } from "./token-keeper.ts";
import { Emitter } from "./emitter.ts";
import {
  AuthRefusedError,
  ClientClosedError,
  ConnectionLostError,
  InvalidArgumentError,
  RequestRefusedError,
  UnrecoverableCloseError,
} from "./errors.ts";
import { isUnrecoverableClose, isUnrecoverableUpgrade, lowerLimitFrom } from "./close-policy.ts";
import { DEFAULT_MAX_MESSAGE_BYTES, splitTopics } from "./split-request.ts";
import {
  CloseCode,
  ErrorCode,
  FeedStatus,
  Subprotocol,
  isEventType,
  type Encoding,
  type FeedEvent,
  type HeartbeatEvent,
  type MarketEvent,
  type SnapshotEndEvent,
} from "../wire/index.ts";
import type { ClientStats, ConnectionState, Disconnect, StateChange, UnsubscribeResult } from "./events.ts";
import { SequenceTracker } from "./sequence.ts";
import {
  openSubscription,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionControl,
} from "./subscription.ts";
import {
  OPEN,
  checkUrl,
  decodeFrame,
  encodeRequest,
  resolveWebSocket,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./transport.ts";
import { Watchdog } from "./watchdog.ts";
import type { ClientEvents, ClientOptions } from "./client-options.ts";
import {
  asSubscribeResult,
  asUnsubscribeResult,
  checkSubscribe,
  checkTopics,
  detach,
  positive,
} from "./client-helpers.ts";

export type { ClientEvents, ClientOptions } from "./client-options.ts";

interface Pending {
  readonly method: string;
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** A subscription plus what the client needs to (re)send it. */
interface SubEntry {
  readonly control: SubscriptionControl;
  /** Set until the first reply. */
  first: { resolve(sub: Subscription): void; reject(error: Error): void } | undefined;
}

/**
 * Opens a client for a tickwire gateway's stream (`ws://HOST:PORT/v1/stream`). It connects in the
 * background and keeps reconnecting until {@link TickwireClient.close}: full-jitter exponential backoff,
 * the server's `retryAfterMs` honoured, a heartbeat watchdog, and every subscription re-sent with a
 * snapshot on each new connection.
 */
export function connect(url: string | readonly string[], options: ClientOptions = {}): TickwireClient {
  return new TickwireClient(url, options);
}

/** See {@link connect}. */
export class TickwireClient {
  readonly #stats: ClientStats = {
    eventsReceived: 0,
    gaps: 0,
    missedUpdates: 0,
    conflatedEvents: 0,
    conflatedUpdates: 0,
    reconnects: 0,
    resyncs: 0,
    server: undefined,
    lagMs: undefined,
  };
  /** Gateway URLs, tried in turn: the next one after every lost connection. */
  readonly #urls: readonly string[];
  #urlIndex = 0;
  readonly #encoding: Encoding;
  readonly #backoff: BackoffOptions;
  readonly #options: ClientOptions;
  readonly #emitter = new Emitter<ClientEvents>((error) => this.#reportError(error));
  readonly #tracker = new SequenceTracker();
  readonly #subs = new Map<Subscription, SubEntry>();
  readonly #pending = new Map<number, Pending>();
  readonly #watchdog: Watchdog;
  readonly #resyncedAtMs = new Map<string, number>();
  readonly #resyncing = new Set<string>();
  #ws: WebSocketLike | undefined;
  #state: ConnectionState = "connecting";
  #attempt = 0;
  #everOpened = false;
  #healthy = false;
  #nextId = 1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #openWaiters: { resolve(): void; reject(error: Error): void }[] = [];
  #closed: Promise<void> | undefined;
  /** Under `--auth jwt` (a `token` or `getToken` option): the token, and when to refresh it. */
  readonly #tokens: TokenKeeper | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #feed: FeedStatus = FeedStatus.UP;
  #maxMessageBytes: number;

  /**
   * @param url the gateway's stream URL, or several (gateways behind no common load balancer): the client
   *   starts with the first and moves to the next one, round-robin, after every lost connection.
   */
  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    const urls = typeof url === "string" ? [url] : [...url];
    if (urls.length === 0) throw new InvalidArgumentError("url: give at least one gateway URL");
    this.#urls = urls.map(checkUrl);
    this.#options = options;
    this.#encoding = options.encoding ?? "msgpack";
    this.#tokens =
      options.token !== undefined || options.getToken !== undefined ? new TokenKeeper(options) : undefined;
    this.#backoff = {
      initialDelayMs: positive("initialDelayMs", options.initialDelayMs ?? 250),
      maxDelayMs: positive("maxDelayMs", options.maxDelayMs ?? 30_000),
    };
    this.#maxMessageBytes = positive("maxMessageBytes", options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    const heartbeatMs = options.heartbeatMs ?? 1000;
    if (!(heartbeatMs >= 0)) throw new InvalidArgumentError(`heartbeatMs must be ≥ 0, got ${heartbeatMs}`);
    this.#watchdog = new Watchdog(heartbeatMs, {
      ping: () => this.#send({ method: "ping", id: `w${this.#nextId++}` }),
      dead: (silentMs) =>
        this.#lost({ cause: "watchdog", code: 1006, reason: `no frame for ${Math.round(silentMs)} ms` }),
    });
    this.#open();
  }

  /** Running totals across reconnects: a copy taken now, which the client does not change afterwards. */
  get stats(): ClientStats {
    const stats = this.#stats;
    return { ...stats, server: stats.server === undefined ? undefined : { ...stats.server } };
  }

  /**
   * How far behind this connection reads, ms: the `lag` of the last heartbeat (protocol v1.5), measured
   * by the gateway's WebSocket ping probes; undefined before the first heartbeat of a connection and when
   * the gateway runs no probes. A browser answers pings on its network thread, before the page's script
   * has handled the messages queued ahead of them, so in a page this is the lag up to the browser, not
   * the page's own backlog: time {@link TickwireClient.ping} (a request the page's script answers after
   * everything queued before it) for that, and show the larger of the two.
   */
  get lagMs(): number | undefined {
    return this.#stats.lagMs;
  }

  /** The current connection state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /**
   * The gateway's feed state as last told (a `feed` event or a heartbeat): "down" means no live event
   * can arrive and snapshots are STALE; "up" on a new connection until the gateway says otherwise.
   */
  get feed(): FeedStatus {
    return this.#feed;
  }

  /** The stream URL in use (or being connected to). */
  get url(): string {
    return this.#urls[this.#urlIndex] as string;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.#emitter.on(type, listener);
  }

  /** Resolves when the client is connected (at once if it is); rejects if it is closed first. */
  whenOpen(): Promise<void> {
    if (this.#state === "open") return Promise.resolve();
    if (this.#state === "closed") return Promise.reject(new ClientClosedError("wait for a connection"));
    return new Promise((resolve, reject) => this.#openWaiters.push({ resolve, reject }));
  }

  /**
   * Subscribes to `topics` (patterns such as `xnas.*.quote`). Resolves once the gateway has answered,
   * with a {@link Subscription} carrying its per-topic result (invalid patterns are in `errors`, not a
   * rejection); rejects with {@link RequestRefusedError} (its `protocolCode` e.g. 4006 for a limit, 4000
   * for a parameter the gateway does not support) when the gateway refuses the request whole. Sent as
   * soon as the client is connected, and again with a snapshot on every reconnect.
   */
  subscribe(topics: readonly string[], options: SubscribeOptions = {}): Promise<Subscription> {
    if (this.#state === "closed") return Promise.reject(new ClientClosedError("subscribe"));
    checkSubscribe(topics, options);
    const control = openSubscription(
      (sub) => this.#unsubscribeSubscription(sub),
      topics,
      options,
      (error) => this.#reportError(error),
    );
    return new Promise<Subscription>((resolve, reject) => {
      const entry: SubEntry = { control, first: { resolve, reject } };
      this.#subs.set(control.subscription, entry);
      if (this.#state === "open") this.#sendSubscribe(entry);
    });
  }

  /**
   * Removes patterns, exactly as they were subscribed, from every subscription of this client, and
   * resolves with the gateway's per-topic result (4004 entries for patterns not held). A subscription
   * left without patterns ends.
   */
  async unsubscribe(topics: readonly string[]): Promise<UnsubscribeResult> {
    if (this.#state === "closed") throw new ClientClosedError("unsubscribe");
    checkTopics(topics);
    for (const entry of this.#subs.values()) {
      for (const t of topics) entry.control.patterns.delete(t);
      if (entry.control.patterns.size === 0 && entry.first === undefined) this.#endSub(entry, undefined);
    }
    this.#forgetUnrouted();
    if (this.#state !== "open") return { unsubscribed: [...topics], errors: [] };
    return asUnsubscribeResult(await this.#request("unsubscribe", { topics }));
  }

  /** {@link Subscription.unsubscribe} */
  async #unsubscribeSubscription(sub: Subscription): Promise<UnsubscribeResult> {
    const entry = this.#subs.get(sub);
    if (entry === undefined) return { unsubscribed: [], errors: [] };
    const release = entry.control.patterns.list().filter((p) => !this.#heldByOthers(p, entry));
    this.#endSub(entry, undefined);
    this.#forgetUnrouted();
    if (release.length === 0 || this.#state !== "open") return { unsubscribed: release, errors: [] };
    try {
      return asUnsubscribeResult(await this.#request("unsubscribe", { topics: release }));
    } catch (error) {
      // A lost connection drops its subscriptions with it, and this one is not re-sent.
      if (error instanceof ConnectionLostError) return { unsubscribed: release, errors: [] };
      throw error;
    }
  }

  /** The patterns the gateway holds for this connection. */
  async list(): Promise<string[]> {
    await this.whenOpen();
    const result = await this.#request("list", {});
    return Array.isArray(result["topics"]) ? (result["topics"] as string[]) : [];
  }

  /**
   * Discovery (protocol v1.7): the topics the gateway knows matching `pattern`, from its cache and
   * the feed history, sorted, at most `limit` (the gateway's maximum, 1000, when absent); `truncated` when
   * more match. An empty list for a wildcard means no such venue, symbol or type has ever published (a typo?);
   * a quiet market still lists its topics. A bad pattern rejects with {@link RequestRefusedError}.
   */
  async topics(
    pattern: string,
    options: { limit?: number } = {},
  ): Promise<{ topics: string[]; truncated: boolean }> {
    await this.whenOpen();
    const params: Record<string, unknown> = { pattern };
    if (options.limit !== undefined) params["limit"] = options.limit;
    const result = await this.#request("topics", params);
    return {
      topics: Array.isArray(result["topics"]) ? (result["topics"] as string[]) : [],
      truncated: result["truncated"] === true,
    };
  }

  /** Round trip to the gateway; resolves with its clock (µs since the epoch). */
  async ping(): Promise<{ ts: number }> {
    await this.whenOpen();
    const result = await this.#request("ping", {});
    return { ts: Number(result["ts"]) };
  }

  /** Closes the connection for good: subscriptions end, iterators finish, pending requests reject. */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    const ws = this.#ws;
    this.#ws = undefined;
    this.#setState({ state: "closed", attempt: this.#attempt });
    this.#stopTimers();
    this.#failPending((m) => new ClientClosedError(`get the reply to ${m}`));
    for (const waiter of this.#openWaiters.splice(0)) waiter.reject(new ClientClosedError("connect"));
    for (const entry of [...this.#subs.values()]) {
      entry.first?.reject(new ClientClosedError("subscribe"));
      this.#endSub(entry, undefined);
    }
    this.#closed = new Promise<void>((resolve) => {
      if (ws === undefined) return resolve();
      detach(ws, () => resolve());
      if (ws.readyState === 3) resolve();
      else ws.close(1000, "client closed");
    });
    return this.#closed;
  }

  // ---- connection lifecycle ----

  #open(): void {
    this.#timer = undefined;
    resolveWebSocket(this.#options.WebSocket).then(
      (WebSocketClass) => this.#dial(WebSocketClass),
      (error: unknown) => {
        this.#reportError(error);
        void this.close();
      },
    );
  }

  #dial(WebSocketClass: WebSocketConstructor): void {
    if (this.#state === "closed") return;
    const protocol = this.#encoding === "json" ? Subprotocol.JSON : Subprotocol.MSGPACK;
    let ws: WebSocketLike;
    try {
      ws = new WebSocketClass(this.url, [protocol]);
    } catch (error) {
      this.#reportError(error);
      this.#lost({ cause: "error", code: 1006, reason: String(error) });
      return;
    }
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    let lastError = "";
    const connectTimer = setTimeout(() => {
      if (this.#ws === ws) this.#lost({ cause: "connect_timeout", code: 1006, reason: "connect timeout" });
    }, this.#options.connectTimeoutMs ?? 10_000);
    ws.onopen = () => {
      clearTimeout(connectTimer);
      if (this.#ws === ws) this.#opened();
    };
    ws.onmessage = (event) => {
      if (this.#ws === ws) this.#receive(event.data);
    };
    ws.onerror = (event) => {
      const message = (event as { message?: unknown }).message;
      lastError = typeof message === "string" ? message : "connection error";
    };
    ws.onclose = (event) => {
      clearTimeout(connectTimer);
      if (this.#ws !== ws) return;
      // 4001: the token expired (or none came in time). Reconnect with a new one if one can be had,
      // else stop: reconnecting with the same token would be refused again, forever.
      if (event.code === CloseCode.UNAUTHORISED && this.#tokens !== undefined && !this.#tokens.refused()) {
        this.#authFatal(closeReasonWord(event.reason), event.reason);
        return;
      }
      const opened = this.#state === "open";
      const hint = retryHintMs(event.reason);
      this.#lost({
        cause: opened ? "closed" : "error",
        code: event.code,
        reason: event.reason === "" ? lastError : event.reason,
        ...(hint === undefined ? {} : { retryAfterMs: hint }),
      });
    };
  }

  #opened(): void {
    if (this.#everOpened) this.#stats.reconnects++;
    this.#everOpened = true;
    this.#healthy = false;
    this.#tracker.reset();
    this.#resyncing.clear();
    this.#stats.lagMs = undefined;
    // A new connection: a gateway whose feed is down says so in its first frame.
    this.#feed = FeedStatus.UP;
    const tokens = this.#tokens;
    if (tokens === undefined) {
      this.#ready();
      return;
    }
    // `auth` goes first; the gateway handles the subscribes sent right after it once it has answered.
    const ws = this.#ws;
    tokens.current().then(
      (token) => {
        if (this.#ws !== ws || this.#state === "closed") return;
        this.#sendAuth(token);
        this.#ready();
      },
      (error: unknown) => {
        this.#reportError(error);
        void this.close();
      },
    );
  }

  /** Sends `auth`; its result schedules the next refresh, its refusal ends or restarts the connection. */
  #sendAuth(token: string): void {
    const id = this.#nextId++;
    const ws = this.#ws;
    this.#pending.set(id, {
      method: "auth",
      resolve: (result) => {
        const auth = result as unknown as AuthResult;
        const refreshInMs = this.#tokens?.accepted(auth);
        if (this.#refreshTimer !== undefined) clearTimeout(this.#refreshTimer);
        if (refreshInMs !== undefined) {
          this.#refreshTimer = setTimeout(() => this.#refresh(ws), refreshInMs);
        }
        this.#emitter.emit("auth", auth);
      },
      reject: (error) => {
        if (!(error instanceof RequestRefusedError) || this.#ws !== ws) return;
        // A gateway running --auth none needs no token: carry on without one.
        if (error.reason === "disabled") return;
        if (this.#tokens?.refused() === true) this.#authFailed(error.reason ?? "", error.serverMessage);
        else this.#authFatal(error.reason ?? "", error.serverMessage);
      },
    });
    this.#send({ method: "auth", id, params: { token } });
  }

  /** Before `exp`: a new token from getToken(), sent on the same connection. */
  #refresh(ws: WebSocketLike | undefined): void {
    this.#refreshTimer = undefined;
    this.#tokens?.renew().then(
      (token) => {
        if (this.#ws === ws && this.#state === "open") this.#sendAuth(token);
      },
      (error: unknown) => this.#reportError(error),
    );
  }

  /** A refused token that a new one may fix: drop this connection, reconnect with a fresh token. */
  #authFailed(reason: string, message: string): void {
    this.#lost({ cause: "closed", code: CloseCode.UNAUTHORISED, reason: message || reason });
  }

  /** A refused token that retrying cannot fix: report it and stop (no reconnect loop). */
  #authFatal(reason: string, message: string): void {
    this.#reportError(new AuthRefusedError(reason, message));
    void this.close();
  }

  #ready(): void {
    this.#setState({ state: "open", attempt: this.#attempt });
    this.#watchdog.start();
    for (const entry of this.#subs.values()) this.#sendSubscribe(entry);
    for (const waiter of this.#openWaiters.splice(0)) waiter.resolve();
  }

  /** The connection ended (or is given up on): reconnect after a delay. */
  #lost(disconnect: Disconnect): void {
    const ws = this.#ws;
    if (ws === undefined || this.#state === "closed") return;
    this.#ws = undefined;
    detach(ws, undefined);
    if (ws.readyState !== 3) {
      // A silent or half-open peer would hold a graceful close for long; drop it at once where we can.
      if (ws.terminate !== undefined) ws.terminate();
      else ws.close(1000, disconnect.cause);
    }
    this.#watchdog.stop();
    if (this.#refreshTimer !== undefined) clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    this.#failPending((m) => new ConnectionLostError(m, { cause: disconnect }));
    if (this.#stopsHere(disconnect)) return;
    if (this.#healthy) this.#attempt = 0;
    this.#healthy = false;
    const delayMs = reconnectDelayMs(this.#attempt, disconnect.retryAfterMs, this.#backoff);
    this.#attempt++;
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
    this.#setState({ state: "reconnecting", attempt: this.#attempt, delayMs, disconnect });
    this.#timer = setTimeout(() => this.#open(), delayMs);
  }

  /**
   * A close that would recur on every retry (issue 10 §3): a 1009 naming a lower frame limit lowers the
   * client's and reconnects (with backoff, never immediately); any other such close, or a connection
   * that never opened for a reason every retry meets again (an upgrade refused with 400/401/403/404, an
   * untrusted TLS certificate: {@link isUnrecoverableUpgrade}, code 1006), stops the client with an
   * {@link UnrecoverableCloseError} (emitted as "error", and rejecting what waits) instead of looping.
   */
  #stopsHere(disconnect: Disconnect): boolean {
    if (disconnect.cause !== "closed" && disconnect.cause !== "error") return false;
    const { code, reason } = disconnect;
    if (code === CloseCode.MESSAGE_TOO_BIG) {
      const limit = lowerLimitFrom(reason, this.#maxMessageBytes);
      if (limit !== undefined) {
        this.#maxMessageBytes = limit;
        this.#healthy = false; // the backoff grows: a limit that still does not fit cannot loop fast
        return false;
      }
    }
    // With a token source, a 4001 was already judged by the token keeper (ws.onclose, #authFailed): it
    // stopped the client, or a new token may help and the client reconnects with it.
    if (code === CloseCode.UNAUTHORISED && this.#tokens !== undefined) return false;
    const neverOpened = disconnect.cause === "error" && code === 1006;
    if (!isUnrecoverableClose(code) && !(neverOpened && isUnrecoverableUpgrade(reason))) return false;
    const error = new UnrecoverableCloseError(code, reason);
    for (const entry of [...this.#subs.values()]) {
      entry.first?.reject(error);
      entry.first = undefined;
      this.#endSub(entry, error);
    }
    void this.close();
    this.#reportError(error);
    return true;
  }

  #setState(change: StateChange): void {
    this.#state = change.state;
    this.#emitter.emit("state", change);
  }

  #stopTimers(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#refreshTimer !== undefined) clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    this.#watchdog.stop();
  }

  // ---- frames ----

  #receive(data: unknown): void {
    this.#watchdog.heard();
    let messages: unknown[];
    try {
      messages = decodeFrame(data);
    } catch (error) {
      this.#reportError(new Error("undecodable frame from the gateway", { cause: error }));
      return;
    }
    // A frame proves the gateway serves us: the next loss starts the backoff afresh.
    this.#healthy = true;
    for (const message of messages) {
      if (typeof message !== "object" || message === null) continue;
      const m = message as Record<string, unknown>;
      if ("result" in m || "error" in m) this.#reply(m);
      else this.#event(m);
    }
  }

  #reply(m: Record<string, unknown>): void {
    if (typeof m["id"] !== "number") return; // watchdog pings ("w…") and unreadable-id errors
    const pending = this.#pending.get(m["id"]);
    if (pending === undefined) return;
    this.#pending.delete(m["id"]);
    const error = m["error"] as { code?: unknown; msg?: unknown; reason?: unknown } | undefined;
    if (error !== undefined && error !== null) {
      const reason = typeof error.reason === "string" ? error.reason : undefined;
      pending.reject(new RequestRefusedError(pending.method, Number(error.code), String(error.msg), reason));
    } else pending.resolve((m["result"] ?? {}) as Record<string, unknown>);
  }

  #event(m: Record<string, unknown>): void {
    const type = m["e"];
    if (typeof type === "string" && isEventType(type)) {
      if (typeof m["t"] === "string" && typeof m["q"] === "number") this.#data(m as unknown as MarketEvent);
      return;
    }
    switch (type) {
      case "snapshot_end":
        this.#emitter.emit("snapshot_end", m as unknown as SnapshotEndEvent);
        return;
      case "heartbeat": {
        const hb = m as unknown as HeartbeatEvent;
        this.#stats.server = { sent: hb.sent, conflated: hb.conflated, dropped: hb.dropped };
        const lag = typeof hb.lag === "number" ? hb.lag : undefined;
        this.#stats.lagMs = lag;
        const feed = hb.feed === FeedStatus.DOWN ? FeedStatus.DOWN : FeedStatus.UP;
        if (feed !== this.#feed) this.#feedChanged({ e: "feed", state: feed, ts: hb.ts });
        this.#emitter.emit("heartbeat", hb);
        if (lag !== undefined) this.#emitter.emit("lag", lag);
        return;
      }
      case "feed": {
        const feed = m as unknown as FeedEvent;
        if (feed.state === FeedStatus.UP || feed.state === FeedStatus.DOWN) this.#feedChanged(feed);
        return;
      }
      default:
        return; // an event type from a newer protocol version: ignored (PROTOCOL.md "Conventions")
    }
  }

  #feedChanged(event: FeedEvent): void {
    if (event.state === this.#feed) return;
    this.#feed = event.state;
    this.#emitter.emit("feed", event);
  }

  #data(event: MarketEvent): void {
    const stats = this.#stats;
    stats.eventsReceived++;
    const notice = this.#tracker.observe(event);
    if (notice !== undefined) {
      if (notice.kind === "conflated") {
        stats.conflatedEvents++;
        stats.conflatedUpdates += notice.missed;
      } else {
        stats.gaps++;
        stats.missedUpdates += notice.missed;
      }
      this.#emitter.emit("gap", notice);
      for (const { control } of this.#subs.values())
        if (control.patterns.matches(notice.t)) control.deliverGap(notice);
      if (notice.kind === "missed") this.#resync(notice.t);
    }
    const emitter = this.#emitter;
    emitter.emit(event.e, event);
    emitter.emit("event", event);
    for (const { control } of this.#subs.values())
      if (control.patterns.matches(event.t)) control.deliver(event);
  }

  // ---- requests ----

  #send(message: unknown): void {
    const ws = this.#ws;
    if (ws !== undefined && ws.readyState === OPEN) ws.send(encodeRequest(message, this.#encoding));
  }

  #request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#state !== "open") return Promise.reject(new ConnectionLostError(method));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { method, resolve, reject });
      this.#send({ method, id, params });
    });
  }

  #failPending(error: (method: string) => Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error(p.method));
  }

  #sendSubscribe(entry: SubEntry): void {
    const { control } = entry;
    const sub = control.subscription;
    const topics = control.patterns.list();
    if (topics.length === 0) return;
    const first = entry.first !== undefined;
    const { maxHz, onSlow } = sub.options;
    const params = {
      snapshot: first ? (sub.options.snapshot ?? true) : true,
      ...(maxHz === undefined ? {} : { maxHz }),
      ...(onSlow === undefined ? {} : { onSlow }),
    };
    this.#subscribeSplit(topics, params).then(
      (result) => {
        const waiting = entry.first;
        entry.first = undefined;
        if (sub.ended) return;
        control.accepted(asSubscribeResult(result), waiting !== undefined);
        waiting?.resolve(sub);
      },
      (error: unknown) => {
        if (error instanceof ConnectionLostError) return; // re-sent on the next connection
        // Refused for want of a token: the auth refusal handles the connection; re-sent on the next one.
        if (error instanceof RequestRefusedError && error.protocolCode === ErrorCode.UNAUTHORISED) return;
        const waiting = entry.first;
        entry.first = undefined;
        this.#endSub(entry, waiting === undefined ? (error as Error) : undefined);
        if (waiting !== undefined) waiting.reject(error as Error);
        else this.#reportError(error);
      },
    );
  }

  /**
   * One subscribe, sent as as many requests as its frames need to fit `maxMessageBytes` (issue 10 §3),
   * answered as one result. When the gateway refuses a part, the parts it accepted are unsubscribed
   * again (unless another subscription holds them) and the whole is refused with that part's error.
   */
  async #subscribeSplit(
    topics: readonly string[],
    params: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown>> {
    const runs = splitTopics(
      topics,
      (run) => ({ method: "subscribe", id: Number.MAX_SAFE_INTEGER, params: { topics: run, ...params } }),
      this.#encoding,
      this.#maxMessageBytes,
    );
    if (runs.length === 1) return this.#request("subscribe", { topics, ...params });
    const settled = await Promise.allSettled(
      runs.map((run) => this.#request("subscribe", { topics: run, ...params })),
    );
    const refused = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (refused !== undefined) {
      const accepted = runs.filter((_, i) => settled[i]?.status === "fulfilled").flat();
      const release = accepted.filter(
        (p) => ![...this.#subs.values()].some((e) => e.control.patterns.has(p) && e.first === undefined),
      );
      if (release.length > 0 && this.#state === "open")
        this.#request("unsubscribe", { topics: release }).catch(() => undefined);
      throw refused.reason;
    }
    const results = settled.map((s) => (s as PromiseFulfilledResult<Record<string, unknown>>).value);
    const maxHz = results.find((r) => r["maxHz"] !== undefined)?.["maxHz"];
    return {
      subscribed: results.flatMap((r) =>
        Array.isArray(r["subscribed"]) ? (r["subscribed"] as unknown[]) : [],
      ),
      errors: results.flatMap((r) => (Array.isArray(r["errors"]) ? (r["errors"] as unknown[]) : [])),
      ...(maxHz === undefined ? {} : { maxHz }),
    };
  }

  #endSub(entry: SubEntry, error: Error | undefined): void {
    this.#subs.delete(entry.control.subscription);
    entry.control.end(error);
  }

  #heldByOthers(pattern: string, except: SubEntry): boolean {
    for (const other of this.#subs.values())
      if (other !== except && other.control.patterns.has(pattern)) return true;
    return false;
  }

  /** Drops the sequence baselines of topics no subscription routes any more. */
  #forgetUnrouted(): void {
    this.#tracker.forgetWhere((topic) => {
      for (const { control } of this.#subs.values()) if (control.patterns.matches(topic)) return false;
      return true;
    });
  }

  /**
   * A fresh snapshot of `topic` after a gap. The gateway sends snapshots only for topics a subscribe
   * newly matches (PROTOCOL.md "Snapshots"), so every held pattern matching the topic is removed and
   * re-added in one pipelined unsubscribe + subscribe; the topics of a matching wildcard get a fresh
   * snapshot too. At most one resync per pattern per `minResyncIntervalMs`, so a persistently slow
   * connection is not made slower by snapshot storms; later gaps wait for the next allowed one.
   */
  #resync(topic: string): void {
    if (this.#options.resyncOnGap === false) return;
    const owners = new Map<SubscriptionControl, string[]>();
    const patterns = new Set<string>();
    for (const { control } of this.#subs.values()) {
      const matching = control.patterns.matching(topic);
      if (matching.length === 0) continue;
      owners.set(control, matching);
      for (const p of matching) patterns.add(p);
    }
    if (patterns.size === 0) return;
    const now = performance.now();
    const minIntervalMs = this.#options.minResyncIntervalMs ?? 1000;
    for (const p of patterns) {
      if (this.#resyncing.has(p)) return;
      const last = this.#resyncedAtMs.get(p);
      if (last !== undefined && now - last < minIntervalMs) return;
    }
    const list = [...patterns];
    for (const p of list) {
      this.#resyncing.add(p);
      this.#resyncedAtMs.set(p, now);
    }
    const matchesAny = (t: string): boolean => [...owners.keys()].some((s) => s.patterns.matches(t));
    this.#tracker.forgetWhere(matchesAny);
    this.#stats.resyncs++;
    this.#emitter.emit("resync", { topic, patterns: list });
    const requests = [this.#request("unsubscribe", { topics: list })];
    for (const [control, topics] of owners) {
      const { maxHz, onSlow } = control.subscription.options;
      const params = {
        snapshot: true,
        ...(maxHz === undefined ? {} : { maxHz }),
        ...(onSlow === undefined ? {} : { onSlow }),
      };
      requests.push(this.#subscribeSplit(topics, params));
    }
    Promise.all(requests).then(
      () => list.forEach((p) => this.#resyncing.delete(p)),
      (error: unknown) => {
        list.forEach((p) => this.#resyncing.delete(p));
        // A lost connection resubscribes everything anyway; anything else is worth reporting.
        if (!(error instanceof ConnectionLostError)) this.#reportError(error);
      },
    );
  }

  #reportError(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (this.#emitter.has("error")) {
      this.#emitter.emit("error", err);
      return;
    }
    // Like an EventEmitter without an "error" listener: never swallowed.
    setTimeout(() => {
      throw err;
    }, 0);
  }
}
