import type { PatternTokens } from "../subscriptions/index.ts";

/**
 * Access control of the fan-out (issue 13): who a connection is, what it may read, until when. The
 * fan-out owns this small interface; the node implements it over src/auth's TokenVerifier (jose), so
 * the hot path never imports the auth library (.dependency-cruiser.cjs: fanout-inward).
 */

/** What a token grants (the `tw` claim, validated by the verifier). */
export interface AccessGrants {
  /** Topic patterns the holder may read (NATS wildcards). */
  readonly topics: readonly string[];
  /** Cap on every subscription's rate, events/s per topic. */
  readonly maxHz?: number;
  /** Most connections of this `sub` open at once on this node. */
  readonly maxConnections?: number;
}

/** Who a verified token speaks for. */
export interface AccessIdentity {
  readonly sub: string;
  /** The token's `exp`, ms since the epoch (wall clock), for the `auth` result. */
  readonly expiresAtMs: number;
  readonly grants: AccessGrants;
}

/** A verification's outcome. `validForMs`: from now until the connection must be closed (exp + tolerance). */
export type AuthOutcome =
  | { readonly ok: true; readonly identity: AccessIdentity; readonly validForMs: number }
  | { readonly ok: false; readonly reason: string; readonly detail: string };

/** Verifies tokens for the fan-out (the node's adapter over src/auth). */
export interface Authenticator {
  /** `--auth-timeout-ms`: a connection without a valid token by then is closed with 4001. */
  readonly timeoutMs: number;
  /**
   * Verifies a token, never rejects (a refusal is an outcome, counted by reason). With `sub` (a refresh),
   * a token for another subject is refused with reason `sub_changed`.
   */
  verify(token: string, sub: string | undefined): Promise<AuthOutcome>;
}

/** A client frame that arrived while its session's `auth` was being verified (the bytes copied). */
export interface QueuedFrame {
  readonly data: ArrayBuffer;
  readonly isBinary: boolean;
}

/** Per-connection access state (`--auth jwt` only; null on the session otherwise). */
export class AccessState {
  identity: AccessIdentity | undefined = undefined;
  /** The identity's grants, tokenised once. */
  grants: readonly PatternTokens[] = [];
  /** Hub clock, ms: before authentication the auth timeout, after it the token's expiry. */
  deadlineMs: number;
  /** An `auth` request is being verified: later frames wait in `queue`, in order. */
  verifying = false;
  queue: QueuedFrame[] | null = null;
  constructor(deadlineMs: number) {
    this.deadlineMs = deadlineMs;
  }
}
