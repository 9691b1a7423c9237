/** One token of the concrete subjects below it. */
class SubjectNode<V> {
  children: Map<string, SubjectNode<V>> | undefined = undefined;
  /** Whether a subject ends here (its value may be `undefined`). */
  held = false;
  value: V | undefined = undefined;
}

/**
 * Concrete subjects indexed token by token, the reverse of {@link PatternIndex}: given a pattern,
 * visit the subjects it matches by walking only the subtrees the pattern can reach (one child per
 * literal token, every child for `*`, the whole subtree for `>`). This is how a cache keyed by subject
 * is invalidated per affected subject when a pattern comes or goes, instead of scanning the whole
 * cache as nats-server's sublist does (its cache is capped at 1,024 subjects; ours holds every topic).
 *
 * Semantics are those of `patternMatches` in protocol/topic.ts; subject tokens are always literal.
 */
export class SubjectIndex<V> {
  readonly #root = new SubjectNode<V>();
  #size = 0;

  /** Subjects held. */
  get size(): number {
    return this.#size;
  }

  /** No node left: every removal pruned the nodes it emptied (memory follows the subjects held). */
  get empty(): boolean {
    return !this.#root.held && (this.#root.children === undefined || this.#root.children.size === 0);
  }

  /** Holds `value` for `subject`, replacing any value it had. */
  set(subject: readonly string[], value: V): void {
    let node = this.#root;
    for (const token of subject) {
      const children = (node.children ??= new Map<string, SubjectNode<V>>());
      let child = children.get(token);
      if (child === undefined) {
        child = new SubjectNode<V>();
        children.set(token, child);
      }
      node = child;
    }
    if (!node.held) {
      node.held = true;
      this.#size++;
    }
    node.value = value;
  }

  /** The value held for `subject` (`undefined` when none). */
  get(subject: readonly string[]): V | undefined {
    let node: SubjectNode<V> | undefined = this.#root;
    for (let i = 0; i < subject.length && node !== undefined; i++) {
      node = node.children?.get(subject[i] as string);
    }
    return node?.value;
  }

  /** Forgets `subject`, pruning emptied nodes; false when it was not held. */
  delete(subject: readonly string[]): boolean {
    if (!deleteFrom(this.#root, subject, 0)) return false;
    this.#size--;
    return true;
  }

  /** Calls `visit` with the value of every held subject that `pattern` matches; `visit` must not change the index. */
  forEachMatching(pattern: readonly string[], visit: (value: V) => void): void {
    walk(this.#root, pattern, 0, visit);
  }

  /**
   * The values of the held subjects `pattern` matches, as a resumable iterator: a caller may take a few
   * and come back in a later event-loop turn. Safe while the index changes between steps (Map iterators
   * skip entries deleted before they are reached and visit entries added ahead of them); a subject is
   * checked as held when it is reached, not when the walk starts.
   */
  matching(pattern: readonly string[]): Generator<V, void, undefined> {
    return walkLazily(this.#root, pattern, 0);
  }
}

function* walkLazily<V>(
  node: SubjectNode<V>,
  pattern: readonly string[],
  i: number,
): Generator<V, void, undefined> {
  if (i === pattern.length) {
    if (node.held) yield node.value as V;
    return;
  }
  const children = node.children;
  if (children === undefined) return;
  const token = pattern[i] as string;
  if (token === ">") {
    for (const child of children.values()) yield* everythingLazily(child);
  } else if (token === "*") {
    for (const child of children.values()) yield* walkLazily(child, pattern, i + 1);
  } else {
    const child = children.get(token);
    if (child !== undefined) yield* walkLazily(child, pattern, i + 1);
  }
}

function* everythingLazily<V>(node: SubjectNode<V>): Generator<V, void, undefined> {
  if (node.held) yield node.value as V;
  if (node.children !== undefined) for (const child of node.children.values()) yield* everythingLazily(child);
}

function deleteFrom<V>(node: SubjectNode<V>, subject: readonly string[], i: number): boolean {
  if (i === subject.length) {
    if (!node.held) return false;
    node.held = false;
    node.value = undefined;
    return true;
  }
  const token = subject[i] as string;
  const child = node.children?.get(token);
  if (child === undefined || !deleteFrom(child, subject, i + 1)) return false;
  if (!child.held && (child.children === undefined || child.children.size === 0))
    node.children?.delete(token);
  return true;
}

function walk<V>(
  node: SubjectNode<V>,
  pattern: readonly string[],
  i: number,
  visit: (value: V) => void,
): void {
  if (i === pattern.length) {
    if (node.held) visit(node.value as V);
    return;
  }
  const children = node.children;
  if (children === undefined) return;
  const token = pattern[i] as string;
  if (token === ">") {
    for (const child of children.values()) everything(child, visit);
  } else if (token === "*") {
    for (const child of children.values()) walk(child, pattern, i + 1, visit);
  } else {
    const child = children.get(token);
    if (child !== undefined) walk(child, pattern, i + 1, visit);
  }
}

/** Every subject at or below `node`. */
function everything<V>(node: SubjectNode<V>, visit: (value: V) => void): void {
  if (node.held) visit(node.value as V);
  if (node.children !== undefined) for (const child of node.children.values()) everything(child, visit);
}
