import { pino, type Logger } from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger };

/** How log lines are written: `json` for log shippers, `text` for a person at a terminal. */
export type LogFormat = "text" | "json";

/** `auto` resolved: text on a terminal, JSON otherwise (a pipe, a file, journald, a container runtime). */
export function resolveLogFormat(format: string, isTTY: boolean | undefined): LogFormat {
  if (format === "text" || format === "json") return format;
  return isTTY === true ? "text" : "json";
}

/**
 * The process's logger on stdout: JSON lines (pino), or in `text` one readable line per event (pino-pretty,
 * synchronous so nothing is lost at exit): time, level name, message, then the fields.
 */
export function createLogger(level: string, format: LogFormat = "json"): Logger {
  if (format === "json") return pino({ level, base: { service: "tickwire" } });
  const pretty = PinoPretty({
    sync: true,
    colorize: process.stdout.isTTY,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,service",
  });
  return pino({ level, base: { service: "tickwire" } }, pretty);
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
