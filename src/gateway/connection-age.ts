/** Something the age limit can close (the gateway's Connection). */
export interface AgedConnection {
  close(code: number, reason: string): void;
}

/** How far past the age limit a connection's deadline may be drawn: [age, (1 + JITTER) × age). */
export const AGE_JITTER = 0.5;

/**
 * `--max-connection-age-ms`: closes each connection once past its own deadline, drawn uniformly in
 * [age, 1.5 × age) when it opens, with 1001 and the retry hint. A WebSocket cannot move between servers,
 * so after a scale-out the old nodes would keep their clients forever; closing by age makes clients
 * reconnect (through the load balancer, to any node), and the jitter spreads those reconnects over half an
 * age instead of one storm. Checked once a second (at most a tenth of the age): O(connections) per sweep.
 */
export class ConnectionAges {
  readonly #deadlines = new Map<AgedConnection, number>();
  #timer: NodeJS.Timeout | undefined;
  /** Connections closed for their age. */
  closed = 0;

  constructor(
    private readonly maxAgeMs: number,
    private readonly reason: string,
    private readonly now: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {}

  get enabled(): boolean {
    return this.maxAgeMs > 0;
  }

  add(connection: AgedConnection): void {
    if (!this.enabled) return;
    this.#deadlines.set(connection, this.now() + this.maxAgeMs * (1 + AGE_JITTER * this.random()));
  }

  delete(connection: AgedConnection): void {
    this.#deadlines.delete(connection);
  }

  start(): void {
    if (!this.enabled || this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.sweep(), Math.min(1000, Math.max(10, this.maxAgeMs / 10)));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Closes every connection past its deadline. */
  sweep(): void {
    const now = this.now();
    for (const [connection, deadline] of this.#deadlines) {
      if (deadline > now) continue;
      this.#deadlines.delete(connection);
      this.closed++;
      connection.close(1001, this.reason);
    }
  }
}
