import { patternMatches } from "../protocol/index.ts";

/**
 * Entitlement checks (issue 13): may a connection holding `grants` (the `tw.topics` patterns of its
 * token) subscribe to a pattern, or read a concrete topic?
 *
 * Semantics are NATS's, over the general subject space: a topic is any number (≥ 1) of tokens, each
 * any literal; `*` matches exactly one token; `>` (last token only) matches one or more trailing
 * tokens. Containment is exact containment in the UNION of the grants: `a.*` is allowed under
 * `a.b` + `a.*`, and `a.>` is allowed under `a.*` + `a.*.>`, though no single grant contains it.
 *
 * Deliberately NOT used: tickwire's narrower universe (3 tokens, type one of trade|quote|bar). Under
 * it, `xnas.>` would be "covered" by `xnas.*.trade` + `xnas.*.quote` + `xnas.*.bar`; such a grant
 * would silently widen the day a new event type is added. Being general only ever refuses more.
 */

/** Tokens of a pattern or topic (`"xnas.*.quote"` → `["xnas", "*", "quote"]`). */
export type PatternTokens = readonly string[];

/**
 * Whether every topic `pattern` can match is matched by at least one of `grants` (all tokenised,
 * already valid). Exact; worst case grows with the number of distinct literals the grants use at a
 * position where the pattern has `*`, which the `tw` claim parser bounds (src/auth: a token holds at
 * most 256 patterns).
 */
export function grantsCover(grants: readonly PatternTokens[], pattern: PatternTokens): boolean {
  // Fast path: one grant alone contains the pattern (the usual case: `xnas.*.quote` under `xnas.>`).
  for (const grant of grants) if (patternContains(grant, pattern)) return true;
  return coveredFrom(pattern, 0, grants.map(suffixAt0));
}

/** String form of {@link grantsCover}. */
export function grantsAllowPattern(grants: readonly string[], pattern: string): boolean {
  return grantsCover(grants.map(tokensOf), tokensOf(pattern));
}

/** Whether a concrete topic is matched by at least one grant (filters snapshots, `list`, history). */
export function grantsAllowTopic(grants: readonly string[], topic: string): boolean {
  return grantsMatch(grants.map(tokensOf), tokensOf(topic));
}

/** Tokenised form of {@link grantsAllowTopic}, for callers that keep the grants split. */
export function grantsMatch(grants: readonly PatternTokens[], topic: PatternTokens): boolean {
  for (const grant of grants) if (patternMatches(grant, topic)) return true;
  return false;
}

/** Whether `outer` alone matches every topic `inner` matches. */
export function patternContains(outer: PatternTokens, inner: PatternTokens): boolean {
  for (let i = 0; i < outer.length; i++) {
    const o = outer[i];
    // `>` takes one or more remaining tokens; every inner token (literal, `*` or `>`) takes at least one.
    if (o === ">") return i < inner.length;
    const t = inner[i];
    if (t === undefined || t === ">") return false;
    if (o !== "*" && o !== t) return false;
  }
  return outer.length === inner.length;
}

export function tokensOf(patternOrTopic: string): PatternTokens {
  return patternOrTopic.split(".");
}

/** A grant still alive at some depth: its tokens and the index of its next token. */
interface Suffix {
  readonly tokens: PatternTokens;
  readonly at: number;
}

function suffixAt0(tokens: PatternTokens): Suffix {
  return { tokens, at: 0 };
}

/**
 * Every topic that the pattern's tokens from `i` can complete is completed by some alive grant suffix.
 * A `*` in the pattern splits into one branch per literal an alive grant names at this position, plus
 * one branch for "any other literal" (the token space is unbounded, so there always is one). A `>`
 * splits into "exactly one more token" (`*`) and "two or more" (`*.>`); the recursion ends because
 * every step consumes one token of every alive grant.
 */
function coveredFrom(pattern: PatternTokens, i: number, alive: readonly Suffix[]): boolean {
  if (alive.length === 0) return false; // the pattern still matches some topic; nothing left covers it
  const head = pattern[i];
  if (head === undefined) return alive.some((g) => g.at === g.tokens.length);
  // A grant at `>` takes whatever non-empty rest the pattern has.
  if (alive.some((g) => g.tokens[g.at] === ">")) return true;
  if (head === ">") {
    return coveredStar(pattern, i, alive, true) && coveredStar(pattern, i, alive, false);
  }
  if (head === "*") return coveredStar(pattern, i, alive, false);
  return coveredFrom(pattern, i + 1, advance(alive, head));
}

/**
 * The pattern has `*` at `i` (or `>`, taken as `*.>` when `deeper`): every literal choice for this
 * token must be covered.
 */
function coveredStar(pattern: PatternTokens, i: number, alive: readonly Suffix[], deeper: boolean): boolean {
  const literals = new Set<string>();
  for (const g of alive) {
    const t = g.tokens[g.at];
    if (t !== undefined && t !== "*") literals.add(t);
  }
  const rest = (next: readonly Suffix[]): boolean =>
    deeper ? coveredFrom(pattern, i, next) : coveredFrom(pattern, i + 1, next);
  for (const literal of literals) if (!rest(advance(alive, literal))) return false;
  // A literal no grant names here: only the grants with `*` here survive it.
  return rest(advance(alive, undefined));
}

/** The grant suffixes that match `literal` (undefined: a literal none of them names) as the next token. */
function advance(alive: readonly Suffix[], literal: string | undefined): Suffix[] {
  const next: Suffix[] = [];
  for (const g of alive) {
    const t = g.tokens[g.at];
    if (t === "*" || (t !== undefined && t === literal)) next.push({ tokens: g.tokens, at: g.at + 1 });
  }
  return next;
}
