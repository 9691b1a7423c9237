import { readFileSync } from "node:fs";

/**
 * The process's open-file limit (soft), read like `ulimit -n` from /proc/self/limits (Node 20 has no
 * `process.getrlimit`). Undefined when it cannot be read (not Linux) or is unlimited.
 */
export function openFileLimit(limitsText = readProcLimits()): number | undefined {
  const line = limitsText.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  if (soft === undefined || !/^\d+$/.test(soft)) return undefined;
  return Number(soft);
}

function readProcLimits(): string {
  try {
    return readFileSync("/proc/self/limits", "utf8");
  } catch {
    return "";
  }
}

/** Used when the open-file limit cannot be read and `--max-connections` is 0 (auto). */
export const FALLBACK_MAX_CONNECTIONS = 10_000;

/**
 * `--max-connections` resolved: the configured number, or for 0 (auto) the open-file limit less a
 * reserve of max(64, 5 %) descriptors for HTTP requests, the listen sockets, NATS, logs and files, so the
 * process never reaches the descriptor limit through WebSocket connections (issue 11 §6: at the limit
 * uWS's accept loop spins and nothing answers, not even /healthz).
 */
export function resolveMaxConnections(configured: number, fdLimit: number | undefined): number {
  if (configured > 0) return configured;
  if (fdLimit === undefined) return FALLBACK_MAX_CONNECTIONS;
  return Math.max(1, fdLimit - Math.max(64, Math.ceil(fdLimit * 0.05)));
}

/** What is reported when upgrades are refused at the cap (at most once per {@link CAP_NOTICE_INTERVAL_MS}). */
export interface CapNotice {
  readonly open: number;
  readonly max: number;
  /** Upgrades refused since the previous notice (including the one that caused this one). */
  readonly refused: number;
}

export const CAP_NOTICE_INTERVAL_MS = 10_000;

/**
 * Counts open WebSocket connections against the cap. A refusal is counted by the caller; {@link refuse}
 * says when to log, so a flood of refused upgrades costs one log line per interval.
 */
export class ConnectionCap {
  open = 0;
  #refusedSinceNotice = 0;
  #lastNoticeMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  get full(): boolean {
    return this.open >= this.max;
  }

  /** Records one refusal; returns a notice when one is due. */
  refuse(): CapNotice | undefined {
    this.#refusedSinceNotice++;
    const now = this.now();
    if (now - this.#lastNoticeMs < CAP_NOTICE_INTERVAL_MS) return undefined;
    this.#lastNoticeMs = now;
    const notice = { open: this.open, max: this.max, refused: this.#refusedSinceNotice };
    this.#refusedSinceNotice = 0;
    return notice;
  }
}

/**
 * Open WebSocket connections per client address, for `--max-connections-per-ip` (0 = no limit, nothing
 * kept). The address is the one the trusted-proxy rule resolved (client-address.ts); the map holds one
 * entry per address with an open connection, so it is bounded by the connections themselves.
 */
export class AddressLimit {
  readonly #open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Whether `address` already has `max` connections open (never, without a limit). */
  full(address: string): boolean {
    return this.max > 0 && (this.#open.get(address) ?? 0) >= this.max;
  }

  opened(address: string): void {
    if (this.max > 0) this.#open.set(address, (this.#open.get(address) ?? 0) + 1);
  }

  closed(address: string): void {
    if (this.max === 0) return;
    const left = (this.#open.get(address) ?? 1) - 1;
    if (left <= 0) this.#open.delete(address);
    else this.#open.set(address, left);
  }
}
