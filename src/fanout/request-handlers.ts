import { nowMicros, type ControlMessage, type Request, type RequestId } from "../protocol/index.ts";
import { ErrorCode, checkPattern } from "../wire/index.ts";
import type { SubscriptionTable } from "../subscriptions/index.ts";
import type { AccessPolicy, AccessReplies } from "./access.ts";
import type { Delivery } from "./delivery.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import type { Session } from "./session.ts";
import type { Snapshots } from "./snapshots.ts";
import type { HubStats } from "./stats.ts";
import { MAX_TOPICS_LISTED, type TopicDirectory } from "./topic-directory.ts";

/** What a request handler may use: the parts, and the session's reply path. */
export interface RequestContext extends AccessReplies {
  readonly table: SubscriptionTable<Session, EncodedEvent>;
  readonly stats: HubStats;
  readonly delivery: Delivery;
  readonly snapshots: Snapshots;
  /** Who the connection is and what it may read (`--auth jwt`); no-ops with `--auth none`. */
  readonly access: AccessPolicy;
  readonly directory: TopicDirectory;
  /** Queues a reply in the session's order (held behind a pending snapshot, as every control frame). */
  reply(session: Session, message: ControlMessage): void;
  /** Counts a client error and replies with it (a 4001 with its `reason`). */
  error(session: Session, id: RequestId | null, code: number, msg: string, reason?: string): void;
}

/** The request of one method, as {@link parseRequest} returns it. */
export type RequestOf<M extends Request["method"]> = Extract<Request, { readonly method: M }>;

/** Handles one parsed request of a method for a session. Never throws on input. */
export type RequestHandler<M extends Request["method"]> = (
  context: RequestContext,
  session: Session,
  request: RequestOf<M>,
) => void;

/** Reply, then (unless `snapshot` is false) the snapshot sequence ({@link Snapshots}), then live. */
function subscribe(context: RequestContext, session: Session, request: RequestOf<"subscribe">): void {
  const { table, stats, delivery, access } = context;
  // Entitlements first: a pattern outside the grants gets 4003 and never reaches the table.
  const { allowed, refused } = access.entitled(session, request.topics);
  // Wildcard patterns enter their existing topics a chunk at a time (snapshot-pump.ts), never all in this frame.
  const result = table.add(session, allowed, true);
  if (!result.ok) {
    context.error(session, request.id, result.code, result.msg);
    return;
  }
  for (const e of result.errors) stats.countClientError(e.code);
  const policy = delivery.policyOf(access.maxHzOf(session, request.maxHz), request.onSlow);
  if (result.added.length > 0) delivery.setPolicies(session, result.added, policy);
  const errors = refused.length === 0 ? result.errors : [...result.errors, ...refused];
  const reply: Record<string, unknown> = { subscribed: result.added, errors };
  if (policy !== undefined && policy.hz > 0) reply["maxHz"] = policy.hz;
  context.reply(session, { id: request.id, result: reply });
  // Publish never runs inside this call, so anything published later is queued after the snapshot.
  context.snapshots.send(session, request.id, result.added, result.entered, result.walks, request.snapshot);
}

function unsubscribe(context: RequestContext, session: Session, request: RequestOf<"unsubscribe">): void {
  const result = context.table.remove(session, request.topics);
  for (const e of result.errors) context.stats.countClientError(e.code);
  if (result.removed.length > 0) context.delivery.unsubscribed(session, result.removed);
  context.snapshots.left(result.left);
  context.reply(session, { id: request.id, result: { unsubscribed: result.removed, errors: result.errors } });
}

function list(context: RequestContext, session: Session, request: RequestOf<"list">): void {
  context.reply(session, { id: request.id, result: { topics: context.table.patternsOf(session) } });
}

/** `auth {token}`: verified asynchronously; the reply comes from {@link AccessPolicy.auth}. */
function auth(context: RequestContext, session: Session, request: RequestOf<"auth">): void {
  context.access.auth(session, request.id, request.token, context);
}

function ping(context: RequestContext, session: Session, request: RequestOf<"ping">): void {
  context.reply(session, { id: request.id, result: { ts: nowMicros() } });
}

/** Discovery: the known topics matching a pattern, from the cache and the feed history, bounded. */
function topics(context: RequestContext, session: Session, request: RequestOf<"topics">): void {
  const check = checkPattern(request.pattern);
  if (!check.ok) {
    context.error(session, request.id, check.code, check.msg);
    return;
  }
  const pattern = request.pattern as string;
  if (!context.access.covers(session, pattern)) {
    context.error(
      session,
      request.id,
      ErrorCode.NOT_ENTITLED,
      "not entitled: the token's grants do not cover every topic this pattern matches",
    );
    return;
  }
  const limit = request.limit === 0 ? MAX_TOPICS_LISTED : Math.min(request.limit, MAX_TOPICS_LISTED);
  void context.directory.list(pattern, limit, session).then((listing) => {
    if (session.closed) return;
    context.reply(session, {
      id: request.id,
      result: { pattern, topics: listing.topics, truncated: listing.truncated },
    });
  });
}

/**
 * The control plane's request handlers, one per method of protocol v1 (centrifuge's `OnSubscribe`,
 * socket.io's `namespace.use`). A new method (`auth`) is one entry here plus its parse rule in
 * protocol/request.ts; the type makes a missing entry a compile error.
 */
export const REQUEST_HANDLERS: { readonly [M in Request["method"]]: RequestHandler<M> } = {
  subscribe,
  unsubscribe,
  list,
  ping,
  topics,
  auth,
};

/** Runs the handler of `request.method`. */
export function handleRequest(context: RequestContext, session: Session, request: Request): void {
  // Indexed by the request's own method, so the handler's request type is this request's.
  const handler = REQUEST_HANDLERS[request.method] as RequestHandler<Request["method"]>;
  handler(context, session, request);
}
