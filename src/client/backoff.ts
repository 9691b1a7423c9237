/** Reconnect timing; every value in milliseconds. */
export interface BackoffOptions {
  /** Upper bound of the first retry's random delay (default 250). */
  readonly initialDelayMs: number;
  /** Cap of every delay, the server's hint included (default 30000). */
  readonly maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 250, maxDelayMs: 30_000 };

/**
 * Delay before reconnect attempt `attempt` (0 for the first retry after a loss).
 *
 * Without a hint: "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015): a
 * uniform draw from [0, min(max, initial × 2^attempt)), which spreads a crowd of clients that lost the
 * same gateway over the whole window instead of re-synchronising them into waves.
 *
 * With the server's `retryAfterMs` hint (close 1001 or 4007): never earlier than the hint, plus a
 * uniform jitter of up to the hint again, so a restarted node is not hit by every client at once. The
 * result is capped at `maxDelayMs` in both cases (a hint larger than the cap is not honoured in full).
 *
 * @param random a draw from [0, 1); Math.random by default, injectable for tests.
 */
export function reconnectDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const cap = options.maxDelayMs;
  if (retryAfterMs !== undefined && retryAfterMs > 0) {
    return Math.min(cap, Math.round(retryAfterMs + random() * retryAfterMs));
  }
  // 2^attempt overflows to Infinity past ~1023; min() keeps the window finite.
  const window = Math.min(cap, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * window);
}

/**
 * Reads `retryAfterMs` from a close reason: the gateway sends JSON `{"msg", "retryAfterMs"}` with
 * 1001 (shutdown) and 4007 (slow consumer). Anything else gives undefined.
 */
export function retryHintMs(reason: string): number | undefined {
  if (!reason.startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(reason);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const hint = (parsed as { retryAfterMs?: unknown }).retryAfterMs;
    return typeof hint === "number" && Number.isFinite(hint) && hint >= 0 ? hint : undefined;
  } catch {
    return undefined; // not JSON: a reason without a hint
  }
}
