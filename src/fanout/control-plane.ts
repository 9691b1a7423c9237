import {
  CloseCode,
  ErrorCode,
  decodeClientFrame,
  parseRequest,
  requestIdOf,
  type ControlMessage,
  type RequestId,
} from "../protocol/index.ts";
import type { SubscriptionTable } from "../subscriptions/index.ts";
import { AccessPolicy, type AccessReplies } from "./access.ts";
import type { Authenticator } from "./access-state.ts";
import type { Delivery } from "./delivery.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { Outboxes } from "./outboxes.ts";
import { handleRequest, type RequestContext } from "./request-handlers.ts";
import type { Session } from "./session.ts";
import type { Snapshots } from "./snapshots.ts";
import type { TopicDirectory } from "./topic-directory.ts";
import type { HubStats } from "./stats.ts";

/** Control-message admission (part of HubOptions). */
export interface ControlOptions {
  /** Control messages per second per connection, sustained. */
  readonly controlRatePerSec: number;
  /** Control messages a connection may send in a burst; also the refusals tolerated before closing. */
  readonly controlBurst: number;
}

/** What the control plane works with: each a typed part built before it. */
export interface ControlParts {
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly stats: HubStats;
  /** Monotonic clock, ms. */
  readonly now: () => number;
  readonly outboxes: Outboxes;
  readonly delivery: Delivery;
  readonly snapshots: Snapshots;
  /** Token verification under `--auth jwt`; undefined = `--auth none`. */
  readonly authenticator?: Authenticator | undefined;
  readonly directory: TopicDirectory;
}

/**
 * Admission by token bucket: refills `ratePerSec` tokens a second up to `burst`, takes one per message.
 * Updates the session's bucket and its refusals in a row; true when the message is admitted.
 */
export function admitControl(session: Session, nowMs: number, ratePerSec: number, burst: number): boolean {
  session.tokens = Math.min(burst, session.tokens + ((nowMs - session.refilledAtMs) * ratePerSec) / 1000);
  session.refilledAtMs = nowMs;
  if (session.tokens >= 1) {
    session.tokens -= 1;
    session.rejectedInARow = 0;
    return true;
  }
  session.rejectedInARow++;
  return false;
}

/**
 * The control plane: each client frame is admitted (rate limit), decoded, parsed and handed to its
 * method's handler ({@link REQUEST_HANDLERS}); every problem becomes a numbered error reply or, past
 * the burst of refusals, a 4008 close. Never throws on input.
 */
export class ControlPlane implements RequestContext, AccessReplies {
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly stats: HubStats;
  readonly delivery: Delivery;
  readonly snapshots: Snapshots;
  readonly access: AccessPolicy;
  readonly directory: TopicDirectory;
  readonly #now: () => number;
  readonly #outboxes: Outboxes;

  constructor(
    private readonly options: ControlOptions,
    parts: ControlParts,
  ) {
    this.table = parts.table;
    this.stats = parts.stats;
    this.delivery = parts.delivery;
    this.snapshots = parts.snapshots;
    this.directory = parts.directory;
    this.#now = parts.now;
    this.#outboxes = parts.outboxes;
    this.access = new AccessPolicy(parts.authenticator, parts);
  }

  /** Handles one client frame: admit, decode, dispatch, reply. */
  receive(session: Session, data: ArrayBuffer, isBinary: boolean): void {
    if (session.closed) return;
    this.stats.controlMessages++;
    const { controlRatePerSec, controlBurst } = this.options;
    if (!admitControl(session, this.#now(), controlRatePerSec, controlBurst)) {
      if (session.rejectedInARow > controlBurst) {
        // Counted as a close (reason rate_limited), not as one more error reply.
        this.#outboxes.flushNow(session);
        session.sink.close(CloseCode.RATE_LIMITED, "rate limited: too many control messages");
        return;
      }
      // Decoded only to echo the id of the refused request.
      const decoded = decodeClientFrame(data, isBinary);
      const id = decoded.ok ? requestIdOf(decoded.value) : null;
      this.error(
        session,
        id,
        ErrorCode.RATE_LIMITED,
        `rate limited: at most ${controlRatePerSec} control messages per second`,
      );
      return;
    }
    // While a token is being verified, later frames wait for it, in order (AccessPolicy.holds).
    if (session.access !== null && this.access.holds(session, data, isBinary, this)) return;
    this.process(session, data, isBinary);
  }

  /** Decode, parse, check access, dispatch: a frame already admitted. */
  process(session: Session, data: ArrayBuffer, isBinary: boolean): void {
    const decoded = decodeClientFrame(data, isBinary);
    if (!decoded.ok) {
      this.error(session, null, ErrorCode.BAD_REQUEST, decoded.msg);
      return;
    }
    const parsed = parseRequest(decoded.value);
    if (!parsed.ok) {
      this.error(session, parsed.id, parsed.code, parsed.msg);
      return;
    }
    const request = parsed.request;
    if (session.access !== null && !this.access.admits(session, request.method, request.id, this)) return;
    handleRequest(this, session, request);
  }

  reply(session: Session, message: ControlMessage): void {
    this.snapshots.control(session, message);
  }

  error(session: Session, id: RequestId | null, code: number, msg: string, reason?: string): void {
    this.stats.countClientError(code);
    // A 4001 carries `reason` (a fixed word) so a client can act without parsing `msg`.
    const error = reason === undefined ? { code, msg } : { code, msg, reason };
    this.snapshots.control(session, { id, error });
  }
}
