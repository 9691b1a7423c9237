/**
 * Liveness of one connection: a connection that stays open but goes mute is the classic market-data
 * failure (TCP keeps a dead peer "open" for minutes). The gateway sends a heartbeat every
 * `heartbeatMs` (protocol v1.2); after one silent period this side also pings (so an older gateway
 * without heartbeats, or a quiet market, still produces a frame); after three silent periods the
 * connection is declared dead.
 *
 * A tick that comes far too late means this process was not running (suspended laptop, SIGSTOP, a
 * throttled background tab), not that the peer went quiet: the silence is then measured afresh
 * rather than blamed on the gateway.
 */
export class Watchdog {
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastHeardMs = 0;
  #lastTickMs = 0;

  constructor(
    readonly heartbeatMs: number,
    private readonly actions: { ping(): void; dead(silentMs: number): void },
  ) {}

  start(): void {
    this.stop();
    if (this.heartbeatMs === 0) return;
    this.resetAt(performance.now());
    const tickMs = Math.max(10, this.heartbeatMs / 2);
    this.#timer = setInterval(() => this.tick(performance.now(), tickMs), tickMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A frame of any kind arrived. */
  heard(nowMs: number = performance.now()): void {
    this.#lastHeardMs = nowMs;
  }

  /** Starts measuring at `nowMs` (public for unit tests; the SDK's index does not export Watchdog). */
  resetAt(nowMs: number): void {
    this.#lastHeardMs = this.#lastTickMs = nowMs;
  }

  /** One timer tick at `nowMs` (public for unit tests). */
  tick(nowMs: number, tickMs: number): void {
    if (nowMs - this.#lastTickMs > tickMs + this.heartbeatMs) this.#lastHeardMs = nowMs;
    this.#lastTickMs = nowMs;
    const silentMs = nowMs - this.#lastHeardMs;
    if (silentMs >= 3 * this.heartbeatMs) {
      this.stop();
      this.actions.dead(silentMs);
    } else if (silentMs >= this.heartbeatMs) {
      this.actions.ping();
    }
  }
}
