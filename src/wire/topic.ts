import { ErrorCode } from "./codes.ts";

/** Event types a topic may name (third token). */
export const EVENT_TYPES = ["trade", "quote", "bar"] as const;
export type MarketEventType = (typeof EVENT_TYPES)[number];

/** Longest topic or pattern accepted, in bytes (all topic characters are ASCII). */
export const MAX_TOPIC_LENGTH = 200;
/** One literal token of a topic (venue, symbol or type); feed subjects use the same grammar. */
export const TOPIC_TOKEN = /^[A-Za-z0-9_\-+=:@~^]{1,64}$/;

export function isEventType(token: string): token is MarketEventType {
  return token === "trade" || token === "quote" || token === "bar";
}

export type PatternCheck =
  | { readonly ok: true; readonly tokens: readonly string[]; readonly wildcard: boolean }
  | { readonly ok: false; readonly code: ErrorCode; readonly msg: string };

/**
 * Validates a subscription pattern: `<venue>.<symbol>.<type>` where any token may be `*` and the last
 * token may be `>` (one or more tokens). A literal type must be one of {@link EVENT_TYPES}.
 */
export function checkPattern(pattern: unknown): PatternCheck {
  if (typeof pattern !== "string") return bad(`topic must be a string, got ${typeof pattern}`);
  if (pattern.length === 0) return bad("topic is empty");
  if (pattern.length > MAX_TOPIC_LENGTH) return bad(`topic is longer than ${MAX_TOPIC_LENGTH} characters`);
  const tokens = pattern.split(".");
  if (tokens.length > 3) return bad(`topic "${pattern}" has more than 3 tokens (venue.symbol.type)`);
  let wildcard = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token === ">") {
      if (i !== tokens.length - 1) return bad(`topic "${pattern}": ">" must be the last token`);
      wildcard = true;
    } else if (token === "*") {
      wildcard = true;
    } else if (!TOPIC_TOKEN.test(token)) {
      return bad(
        `topic "${pattern}": token "${token}" is empty or has a character outside [A-Za-z0-9_-+=:@~^]`,
      );
    }
  }
  if (tokens.length < 3 && tokens[tokens.length - 1] !== ">") {
    return bad(`topic "${pattern}" needs 3 tokens (venue.symbol.type) or must end in ">"`);
  }
  const type = tokens[2];
  if (type !== undefined && type !== "*" && type !== ">" && !isEventType(type)) {
    return {
      ok: false,
      code: ErrorCode.UNKNOWN_TOPIC,
      msg: `topic "${pattern}": unknown event type "${type}" (known: ${EVENT_TYPES.join(", ")})`,
    };
  }
  return { ok: true, tokens, wildcard };
}

function bad(msg: string): PatternCheck {
  return { ok: false, code: ErrorCode.BAD_TOPIC, msg };
}

/** Whether concrete topic tokens match pattern tokens (NATS semantics for `*` and `>`). */
export function patternMatches(pattern: readonly string[], topic: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === ">") return topic.length > i;
    if (i >= topic.length) return false;
    if (p !== "*" && p !== topic[i]) return false;
  }
  return pattern.length === topic.length;
}
