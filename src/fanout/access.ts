import {
  CloseCode,
  ErrorCode,
  checkPattern,
  type ControlMessage,
  type RequestId,
} from "../protocol/index.ts";
import { grantsCover, tokensOf, type SubscriptionTable, type TopicError } from "../subscriptions/index.ts";
import {
  AccessState,
  type AccessGrants,
  type AccessIdentity,
  type AuthOutcome,
  type Authenticator,
  type QueuedFrame,
} from "./access-state.ts";
import type { Delivery } from "./delivery.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { Outboxes } from "./outboxes.ts";
import type { Session } from "./session.ts";
import type { HubStats } from "./stats.ts";

/** Most frames kept while an `auth` verification is pending; more are refused with 4008. */
export const MAX_FRAMES_WHILE_VERIFYING = 32;

/** Least time between two scans for auth deadlines (timeout, expiry), hub clock ms. */
export const ACCESS_SCAN_MS = 100;

/** What the access policy works with. */
export interface AccessParts {
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly stats: HubStats;
  readonly now: () => number;
  readonly outboxes: Outboxes;
  readonly delivery: Delivery;
}

/** The reply path the access policy answers through (the control plane). */
export interface AccessReplies {
  reply(session: Session, message: ControlMessage): void;
  error(session: Session, id: RequestId | null, code: number, msg: string, reason?: string): void;
  /** Handles a frame that waited for a verification, as if it arrived now (no second admission). */
  process(session: Session, data: ArrayBuffer, isBinary: boolean): void;
}

/**
 * The auth policy: session state, the methods allowed before authentication, entitlement checks on
 * subscribe, refresh (grants narrowed → subscriptions removed), expiry and auth-timeout closes, and the
 * per-`sub` connection limit. Without an authenticator (`--auth none`) every check is a no-op.
 */
export class AccessPolicy {
  /** Sessions with a deadline (all of them under `--auth jwt`). */
  readonly #watched = new Set<Session>();
  /** Authenticated connections per `sub` on this node. */
  readonly #bySub = new Map<string, number>();
  #scannedAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly authenticator: Authenticator | undefined,
    private readonly parts: AccessParts,
  ) {}

  get required(): boolean {
    return this.authenticator !== undefined;
  }

  /** A new connection: under `--auth jwt` it starts unauthenticated with the auth timeout running. */
  opened(session: Session): void {
    const authenticator = this.authenticator;
    if (authenticator === undefined) return;
    session.access = new AccessState(this.parts.now() + authenticator.timeoutMs);
    this.#watched.add(session);
  }

  /**
   * A connection whose upgrade carried `Authorization: Bearer TOKEN`: the token is verified as an `auth`
   * request's is (frames meanwhile wait, see {@link holds}), with no reply. A refused token closes the
   * connection with 4001, reason JSON `{"msg":"token rejected: …","reason":REASON}`; a `sub` at its
   * connection limit closes it with 4006.
   *
   * Verified after the upgrade, not before it with an HTTP 401: uWS 20.30's asynchronous upgrade
   * (`res.cork(() => res.upgrade(…))` after an await) can close the new WebSocket right after `open`
   * (1006, no close frame; uWebSockets#1929, fixed upstream after our pinned version), seen here on
   * about 1 Bearer connection in 50 under load. The upgrade handler therefore never waits.
   */
  bearer(session: Session, token: string, replies: AccessReplies): void {
    const access = session.access;
    const authenticator = this.authenticator;
    if (access === undefined || access === null || authenticator === undefined) return;
    void verifying(authenticator, access, token, undefined).then((outcome) =>
      this.#bearerVerified(session, access, outcome, replies),
    );
  }

  #bearerVerified(session: Session, access: AccessState, outcome: AuthOutcome, replies: AccessReplies): void {
    if (session.closed) return;
    if (!outcome.ok) {
      this.parts.stats.authBearerRejected++;
      this.#close(
        session,
        CloseCode.UNAUTHORISED,
        closeReason(`token rejected: ${outcome.detail}`, outcome.reason),
      );
      return;
    }
    const refusal = this.#limitRefusal(outcome.identity);
    if (refusal !== undefined) {
      this.parts.stats.authConnectionLimit++;
      this.#close(session, CloseCode.LIMIT, closeReason(refusal, "connection_limit"));
      return;
    }
    this.#authenticate(session, access, outcome);
    this.#release(session, access, replies);
  }

  closed(session: Session): void {
    const access = session.access;
    if (access === null) return;
    this.#watched.delete(session);
    const sub = access.identity?.sub;
    if (sub !== undefined) {
      const left = (this.#bySub.get(sub) ?? 1) - 1;
      if (left <= 0) this.#bySub.delete(sub);
      else this.#bySub.set(sub, left);
    }
    access.queue = null;
  }

  /** Whether a request of `method` may run now; false means it was answered with 4001. */
  admits(session: Session, method: string, id: RequestId, replies: AccessReplies): boolean {
    const access = session.access;
    if (access === null || access.identity !== undefined || method === "auth" || method === "ping") {
      return true;
    }
    replies.error(
      session,
      id,
      ErrorCode.UNAUTHORISED,
      "authentication required: send auth {token} first",
      "unauthenticated",
    );
    return false;
  }

  /**
   * A frame arriving while a verification is pending waits for it (true), so that `auth` then
   * `subscribe` sent back to back run in that order. Past {@link MAX_FRAMES_WHILE_VERIFYING} it is
   * refused (4008, the rate-limit code: the client sends faster than the gateway can answer).
   */
  holds(session: Session, data: ArrayBuffer, isBinary: boolean, replies: AccessReplies): boolean {
    const access = session.access;
    if (access === null || !access.verifying) return false;
    const queue = (access.queue ??= []);
    if (queue.length >= MAX_FRAMES_WHILE_VERIFYING) {
      replies.error(
        session,
        null,
        ErrorCode.RATE_LIMITED,
        `rate limited: at most ${MAX_FRAMES_WHILE_VERIFYING} frames while a token is being verified`,
      );
      return true;
    }
    // uWS reuses the message's memory after the callback returns.
    queue.push({ data: data.slice(0), isBinary });
    return true;
  }

  /** The `auth` request: verify (async), then apply; frames meanwhile wait (see {@link holds}). */
  auth(session: Session, id: RequestId, token: string, replies: AccessReplies): void {
    const access = session.access;
    const authenticator = this.authenticator;
    if (authenticator === undefined || access === null) {
      replies.error(session, id, ErrorCode.UNAUTHORISED, "auth is not enabled on this gateway", "disabled");
      return;
    }
    void verifying(authenticator, access, token, access.identity?.sub).then((outcome) =>
      this.#verified(session, access, id, outcome, replies),
    );
  }

  #verified(
    session: Session,
    access: AccessState,
    id: RequestId,
    outcome: AuthOutcome,
    replies: AccessReplies,
  ): void {
    if (session.closed) return;
    if (!outcome.ok) {
      replies.error(session, id, ErrorCode.UNAUTHORISED, `token rejected: ${outcome.detail}`, outcome.reason);
    } else if (access.identity === undefined && this.#limitRefusal(outcome.identity) !== undefined) {
      this.parts.stats.authConnectionLimit++;
      replies.error(session, id, ErrorCode.LIMIT, this.#limitRefusal(outcome.identity) as string);
    } else {
      const removed = this.#authenticate(session, access, outcome);
      const { sub, expiresAtMs, grants } = outcome.identity;
      replies.reply(session, {
        id,
        result: { sub, exp: Math.floor(expiresAtMs / 1000), grants: grantsResult(grants), removed },
      });
    }
    this.#release(session, access, replies);
  }

  /** Frames that waited, in arrival order; another `auth` among them waits again for its own turn. */
  #release(session: Session, access: AccessState, replies: AccessReplies): void {
    while (access.queue !== null && access.queue.length > 0 && !access.verifying && !session.closed) {
      const frame = access.queue.shift() as QueuedFrame;
      replies.process(session, frame.data, frame.isBinary);
    }
  }

  #limitRefusal(identity: AccessIdentity): string | undefined {
    const max = identity.grants.maxConnections;
    if (max === undefined || (this.#bySub.get(identity.sub) ?? 0) < max) return undefined;
    return `limit: ${max} connections for this sub on this node`;
  }

  /** Applies a verified identity; on a refresh, drops held patterns the new grants do not cover. */
  #authenticate(session: Session, access: AccessState, outcome: AuthOutcome & { ok: true }): string[] {
    const { identity, validForMs } = outcome;
    if (access.identity === undefined) {
      this.#bySub.set(identity.sub, (this.#bySub.get(identity.sub) ?? 0) + 1);
    }
    access.identity = identity;
    access.grants = identity.grants.topics.map(tokensOf);
    access.deadlineMs = this.parts.now() + Math.max(0, validForMs);
    const { table, delivery, stats } = this.parts;
    const held = table.patternsOf(session);
    const removed = held.filter((pattern) => !grantsCover(access.grants, tokensOf(pattern)));
    if (removed.length > 0) {
      table.remove(session, removed);
      delivery.unsubscribed(session, removed);
      stats.authSubscriptionsRemoved += removed.length;
    }
    const cap = identity.grants.maxHz;
    if (cap !== undefined) {
      for (const pattern of held) {
        if (removed.includes(pattern)) continue;
        const current = session.policies?.get(pattern);
        const hz = current?.hz ?? 0;
        const capped = capHz(hz, cap);
        if (capped === hz) continue;
        const onSlow = current?.disconnectOnSlow === true ? "disconnect" : "conflate";
        delivery.setPolicies(session, [pattern], delivery.policyOf(capped, onSlow));
      }
    }
    return removed;
  }

  /**
   * Splits a subscribe's topics into those the grants allow and a 4003 error per valid pattern they do
   * not wholly cover (invalid ones pass through: the table reports their syntax). Counted.
   */
  entitled(session: Session, topics: readonly unknown[]): { allowed: unknown[]; refused: TopicError[] } {
    const access = session.access;
    if (access === null) return { allowed: topics as unknown[], refused: [] };
    const allowed: unknown[] = [];
    const refused: TopicError[] = [];
    for (const topic of topics) {
      if (!checkPattern(topic).ok || grantsCover(access.grants, tokensOf(topic as string))) {
        allowed.push(topic);
        continue;
      }
      this.parts.stats.countClientError(ErrorCode.NOT_ENTITLED);
      refused.push({
        topic: topic as string,
        code: ErrorCode.NOT_ENTITLED,
        msg: "not entitled: the token's grants do not cover every topic this pattern matches",
      });
    }
    return { allowed, refused };
  }

  /**
   * Whether the connection may see every topic a valid `pattern` matches (the subscribe rule, for
   * discovery: `topics` must not name topics outside the grants). Always true under `--auth none`.
   */
  covers(session: Session, pattern: string): boolean {
    const access = session.access;
    return access === null || grantsCover(access.grants, tokensOf(pattern));
  }

  /** The maxHz a subscribe gets under the connection's grants (`tw.maxHz` caps it; 0 asks for all). */
  maxHzOf(session: Session, requested: number): number {
    const cap = session.access?.identity?.grants.maxHz;
    return cap === undefined ? requested : capHz(requested, cap);
  }

  /** Closes connections past their deadline: no token within the auth timeout, or the token expired. */
  tick(nowMs: number): void {
    if (this.#watched.size === 0 || nowMs - this.#scannedAtMs < ACCESS_SCAN_MS) return;
    this.#scannedAtMs = nowMs;
    for (const session of this.#watched) {
      const access = session.access;
      if (access === null || access.deadlineMs > nowMs || access.verifying) continue;
      this.#watched.delete(session);
      if (access.identity === undefined) {
        this.parts.stats.authTimeouts++;
        const ms = this.authenticator?.timeoutMs ?? 0;
        this.#close(
          session,
          CloseCode.UNAUTHORISED,
          closeReason(`no valid token within ${ms} ms`, "auth_timeout"),
        );
      } else {
        this.parts.stats.authExpired++;
        this.#close(session, CloseCode.UNAUTHORISED, closeReason("token expired", "expired"));
      }
    }
  }

  #close(session: Session, code: number, reason: string): void {
    this.parts.outboxes.flushNow(session);
    session.sink.close(code, reason);
  }
}

/**
 * Verifies `token` with the connection marked as verifying (its frames wait meanwhile: see
 * {@link AccessPolicy.holds}) until the outcome is known. verify() never rejects by contract; if it does,
 * that is a refusal, so the connection is not left waiting forever.
 */
function verifying(
  authenticator: Authenticator,
  access: AccessState,
  token: string,
  sub: string | undefined,
): Promise<AuthOutcome> {
  access.verifying = true;
  return authenticator.verify(token, sub).then(
    (outcome) => {
      access.verifying = false;
      return outcome;
    },
    (error: unknown): AuthOutcome => {
      access.verifying = false;
      return { ok: false, reason: "keys_unavailable", detail: String(error).slice(0, 200) };
    },
  );
}

/** Most bytes of a close frame's reason (RFC 6455 §5.5: a control frame's payload is at most 125 bytes). */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The reason JSON `{"msg":…,"reason":…}` of a gateway close, with `msg` shortened (on a character
 * boundary, with "…") until the whole fits {@link MAX_CLOSE_REASON_BYTES}.
 */
export function closeReason(msg: string, reason: string): string {
  const chars = [...msg];
  let json = JSON.stringify({ msg, reason });
  while (Buffer.byteLength(json) > MAX_CLOSE_REASON_BYTES && chars.length > 0) {
    chars.pop();
    json = JSON.stringify({ msg: `${chars.join("")}…`, reason });
  }
  return json;
}

/** `requested` (0 = every update) under a cap: never above it, and 0 becomes the cap. */
function capHz(requested: number, cap: number): number {
  return requested > 0 ? Math.min(requested, cap) : cap;
}

function grantsResult(grants: AccessGrants): Record<string, unknown> {
  const out: Record<string, unknown> = { topics: [...grants.topics] };
  if (grants.maxHz !== undefined) out["maxHz"] = grants.maxHz;
  if (grants.maxConnections !== undefined) out["maxConnections"] = grants.maxConnections;
  return out;
}
