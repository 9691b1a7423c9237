import { MAX_HZ_LIMIT, MIN_HZ, checkPattern } from "../protocol/index.ts";

/** Most patterns one token may grant (bounds the entitlement check's work per subscribe). */
export const MAX_GRANT_PATTERNS = 256;
/** Longest `sub` accepted, characters. */
export const MAX_SUB_LENGTH = 256;
/** Largest `tw.maxConnections` accepted. */
export const MAX_GRANT_CONNECTIONS = 1_000_000;

/** What a token grants: the `tw` claim, validated. */
export interface Grants {
  /** Topic patterns the holder may read (NATS wildcards), deduplicated, in the token's order. */
  readonly topics: readonly string[];
  /** Cap on every subscription's rate, updates per second per topic (MIN_HZ ≤ maxHz ≤ MAX_HZ_LIMIT). */
  readonly maxHz?: number;
  /** Most simultaneous connections of this `sub` on one node. */
  readonly maxConnections?: number;
}

/** Who a verified token speaks for. */
export interface Identity {
  readonly sub: string;
  /** The token's `exp`, ms since the epoch: the connection is closed then unless it re-authenticates. */
  readonly expiresAtMs: number;
  readonly grants: Grants;
}

export type ClaimsCheck =
  { readonly ok: true; readonly identity: Identity } | { readonly ok: false; readonly detail: string };

const TW_KEYS = new Set(["topics", "maxHz", "maxConnections"]);

/**
 * Reads `sub`, `exp` and the `tw` claim of a verified payload, strictly: unknown keys inside `tw` are
 * refused rather than ignored, so a restriction added by a newer issuer is never silently dropped by an
 * older gateway (fail closed). `detail` names the bad field and may be shown to the token's holder.
 */
export function parseClaims(payload: Readonly<Record<string, unknown>>): ClaimsCheck {
  const { sub, exp, tw } = payload;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_SUB_LENGTH) {
    return bad(`"sub" must be a string of 1 to ${MAX_SUB_LENGTH} characters`);
  }
  if (typeof exp !== "number" || !Number.isFinite(exp)) return bad('"exp" must be a number (seconds)');
  if (typeof tw !== "object" || tw === null || Array.isArray(tw)) return bad('"tw" must be an object');
  const claim = tw as Record<string, unknown>;
  for (const key of Object.keys(claim)) {
    if (!TW_KEYS.has(key))
      return bad(`"tw.${key.slice(0, 40)}" is not a known field (topics, maxHz, maxConnections)`);
  }
  const { topics, maxHz, maxConnections } = claim;
  if (!Array.isArray(topics)) return bad('"tw.topics" must be an array of topic patterns');
  if (topics.length > MAX_GRANT_PATTERNS)
    return bad(`"tw.topics" has more than ${MAX_GRANT_PATTERNS} patterns`);
  const seen = new Set<string>();
  for (let i = 0; i < topics.length; i++) {
    const check = checkPattern(topics[i]);
    if (!check.ok) return bad(`"tw.topics[${i}]": ${check.msg}`);
    seen.add(topics[i] as string);
  }
  let grants: Grants = { topics: [...seen] };
  if (maxHz !== undefined) {
    if (typeof maxHz !== "number" || !(maxHz >= MIN_HZ && maxHz <= MAX_HZ_LIMIT)) {
      return bad(`"tw.maxHz" must be a number from ${MIN_HZ} to ${MAX_HZ_LIMIT}`);
    }
    grants = { ...grants, maxHz };
  }
  if (maxConnections !== undefined) {
    if (
      typeof maxConnections !== "number" ||
      !Number.isInteger(maxConnections) ||
      maxConnections < 1 ||
      maxConnections > MAX_GRANT_CONNECTIONS
    ) {
      return bad(`"tw.maxConnections" must be a whole number from 1 to ${MAX_GRANT_CONNECTIONS}`);
    }
    grants = { ...grants, maxConnections };
  }
  return { ok: true, identity: { sub, expiresAtMs: exp * 1000, grants } };
}

function bad(detail: string): ClaimsCheck {
  return { ok: false, detail };
}
