import { pino, type Logger } from "pino";

export type { Logger };

/** JSON lines on stdout (pino), the format log shippers expect. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "tickwire" } });
}

/**
 * Logs a recurring condition at most once per `intervalMs`, with how many times it happened since the
 * last line, so a flood of bad input cannot flood the log.
 */
export class RateLimitedLog {
  #suppressed = 0;
  #lastMs = -Infinity;
  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const now = performance.now();
    if (now - this.#lastMs < this.intervalMs) {
      this.#suppressed++;
      return;
    }
    this.log.warn({ ...fields, suppressed: this.#suppressed }, msg);
    this.#suppressed = 0;
    this.#lastMs = now;
  }
}
