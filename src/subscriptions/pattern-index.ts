/**
 * One level of the pattern trie: the patterns' next token, as nats-server's sublist keeps it
 * (server/sublist.go: a level of literal nodes plus one `*` node and one `>` node).
 */
class PatternNode<V> {
  /** Children by literal token. */
  literal: Map<string, PatternNode<V>> | undefined = undefined;
  /** Child for a `*` token (exactly one subject token). */
  star: PatternNode<V> | undefined = undefined;
  /** Values of the patterns that end in `>` here (one or more further subject tokens). */
  rest: Set<V> | undefined = undefined;
  /** Values of the patterns that end exactly here. */
  here: Set<V> | undefined = undefined;

  get empty(): boolean {
    return (
      this.here === undefined &&
      this.rest === undefined &&
      this.star === undefined &&
      (this.literal === undefined || this.literal.size === 0)
    );
  }
}

/**
 * Patterns with NATS wildcards, indexed token by token, so that finding the patterns that match a
 * concrete subject costs a few map lookups per token (one literal child, one `*` child and one `>`
 * set per level) however many patterns are held: the per-subject cost depends on the patterns that
 * match, not on all patterns (issue 10 §4; the design is nats-server's sublist).
 *
 * Semantics are those of `patternMatches` in protocol/topic.ts: `*` is exactly one token, `>` one or
 * more trailing tokens (tokens after a `>` are ignored, as there; checkPattern refuses them anyway).
 * A value may be held under several patterns and a pattern may hold several values; the index holds
 * each (pattern, value) pair at most once. Subject tokens are always literal: a subject token `*` is
 * matched only by a pattern token `*` or `>`, as in patternMatches.
 */
export class PatternIndex<V> {
  readonly #root = new PatternNode<V>();
  #size = 0;

  /** (pattern, value) pairs held. */
  get size(): number {
    return this.#size;
  }

  /** No node left: every removal pruned the nodes it emptied (memory follows the patterns held). */
  get empty(): boolean {
    return this.#root.empty;
  }

  /** Adds `value` under `pattern`; false when that pair was held already. */
  add(pattern: readonly string[], value: V): boolean {
    let node = this.#root;
    for (const token of pattern) {
      if (token === ">") {
        const rest = (node.rest ??= new Set<V>());
        return this.#insert(rest, value);
      }
      if (token === "*") {
        node = node.star ??= new PatternNode<V>();
      } else {
        const literal = (node.literal ??= new Map<string, PatternNode<V>>());
        let child = literal.get(token);
        if (child === undefined) {
          child = new PatternNode<V>();
          literal.set(token, child);
        }
        node = child;
      }
    }
    return this.#insert((node.here ??= new Set<V>()), value);
  }

  /** Removes `value` from under `pattern`, pruning emptied nodes; false when the pair was not held. */
  delete(pattern: readonly string[], value: V): boolean {
    return this.#delete(this.#root, pattern, 0, value);
  }

  /** Calls `visit` once per (pattern, value) pair whose pattern matches the concrete `subject`. */
  forEachMatch(subject: readonly string[], visit: (value: V) => void): void {
    matchFrom(this.#root, subject, 0, visit);
  }

  /** The values of every pattern matching `subject` (a value held under two matching patterns twice). */
  match(subject: readonly string[]): V[] {
    const out: V[] = [];
    matchFrom(this.#root, subject, 0, (value) => out.push(value));
    return out;
  }

  /** Whether some pattern matching `subject` holds a value satisfying `test`; stops at the first. */
  some(subject: readonly string[], test: (value: V) => boolean): boolean {
    return someFrom(this.#root, subject, 0, test);
  }

  #insert(set: Set<V>, value: V): boolean {
    if (set.has(value)) return false;
    set.add(value);
    this.#size++;
    return true;
  }

  #delete(node: PatternNode<V>, pattern: readonly string[], i: number, value: V): boolean {
    if (i === pattern.length) {
      if (node.here?.delete(value) !== true) return false;
      if (node.here.size === 0) node.here = undefined;
      this.#size--;
      return true;
    }
    const token = pattern[i] as string;
    if (token === ">") {
      if (node.rest?.delete(value) !== true) return false;
      if (node.rest.size === 0) node.rest = undefined;
      this.#size--;
      return true;
    }
    if (token === "*") {
      const star = node.star;
      if (star === undefined || !this.#delete(star, pattern, i + 1, value)) return false;
      if (star.empty) node.star = undefined;
      return true;
    }
    const child = node.literal?.get(token);
    if (child === undefined || !this.#delete(child, pattern, i + 1, value)) return false;
    if (child.empty) node.literal?.delete(token);
    return true;
  }
}

function matchFrom<V>(
  node: PatternNode<V>,
  subject: readonly string[],
  i: number,
  visit: (value: V) => void,
): void {
  if (i === subject.length) {
    if (node.here !== undefined) for (const value of node.here) visit(value);
    return;
  }
  // At least one subject token remains: a `>` here matches it and every token after it.
  if (node.rest !== undefined) for (const value of node.rest) visit(value);
  if (node.star !== undefined) matchFrom(node.star, subject, i + 1, visit);
  const child = node.literal?.get(subject[i] as string);
  if (child !== undefined) matchFrom(child, subject, i + 1, visit);
}

function someFrom<V>(
  node: PatternNode<V>,
  subject: readonly string[],
  i: number,
  test: (value: V) => boolean,
): boolean {
  if (i === subject.length) {
    if (node.here !== undefined) for (const value of node.here) if (test(value)) return true;
    return false;
  }
  if (node.rest !== undefined) for (const value of node.rest) if (test(value)) return true;
  if (node.star !== undefined && someFrom(node.star, subject, i + 1, test)) return true;
  const child = node.literal?.get(subject[i] as string);
  return child !== undefined && someFrom(child, subject, i + 1, test);
}
