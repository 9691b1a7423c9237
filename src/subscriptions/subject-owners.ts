import { PatternIndex } from "./pattern-index.ts";
import { SubjectIndex } from "./subject-index.ts";

/**
 * The owner of one tracked subject, kept current by its {@link SubjectOwners}: read `id` per message.
 * Reading it costs one field check unless a removal made it stale, in which case it is recomputed
 * once from the patterns that match this subject.
 */
export class SubjectOwner {
  #id = 0;
  #stale = true;

  constructor(
    private readonly patterns: PatternIndex<number>,
    /** The concrete subject's tokens. */
    readonly tokens: readonly string[],
  ) {}

  /** The smallest id among the patterns matching this subject; 0 when none matches. */
  get id(): number {
    if (this.#stale) {
      let owner = 0;
      this.patterns.forEachMatch(this.tokens, (id) => {
        if (owner === 0 || id < owner) owner = id;
      });
      this.#id = owner;
      this.#stale = false;
    }
    return this.#id;
  }

  /** Told by SubjectOwners: a pattern with `id` now matches this subject. */
  gained(id: number): void {
    if (!this.#stale && (this.#id === 0 || id < this.#id)) this.#id = id;
  }

  /** Told by SubjectOwners: the pattern with `id` no longer matches this subject. */
  lost(id: number): void {
    if (this.#id === id) this.#stale = true;
  }
}

/**
 * Which of several overlapping patterns owns each subject: the one with the smallest id (the ingest
 * numbers its NATS subscriptions in creation order, so the oldest matching subscription owns a
 * subject and a message delivered twice by overlapping subscriptions is processed once).
 *
 * Each tracked subject keeps its owner (a cache), and a pattern that comes or goes updates or marks
 * stale only the tracked subjects it matches, found through a {@link SubjectIndex}: adding a pattern,
 * removing one, tracking a new subject and reading an owner cost in proportion to the patterns and
 * subjects involved, not to all patterns held (issue 10 §4: this replaced a scan of every pattern for
 * each new subject and for every subject after any removal).
 */
export class SubjectOwners {
  readonly #patterns = new PatternIndex<number>();
  readonly #subjects = new SubjectIndex<SubjectOwner>();

  /** Patterns held. */
  get patternCount(): number {
    return this.#patterns.size;
  }

  /** Subjects tracked. */
  get subjectCount(): number {
    return this.#subjects.size;
  }

  /** A pattern with `id` (positive, unique among the patterns held) now exists. */
  add(pattern: readonly string[], id: number): void {
    if (!this.#patterns.add(pattern, id)) return;
    this.#subjects.forEachMatching(pattern, (subject) => subject.gained(id));
  }

  /** The pattern with `id` is gone. */
  delete(pattern: readonly string[], id: number): void {
    if (!this.#patterns.delete(pattern, id)) return;
    this.#subjects.forEachMatching(pattern, (subject) => subject.lost(id));
  }

  /** Stops tracking a subject (its topic was forgotten); a later {@link track} starts afresh. */
  untrack(subject: readonly string[]): void {
    this.#subjects.delete(subject);
  }

  /** The owner record of a concrete subject, created on first use and kept current from then on. */
  track(subject: readonly string[]): SubjectOwner {
    let owner = this.#subjects.get(subject);
    if (owner === undefined) {
      owner = new SubjectOwner(this.#patterns, subject);
      this.#subjects.set(subject, owner);
    }
    return owner;
  }
}
