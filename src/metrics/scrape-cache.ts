/**
 * One rendered scrape shared by every `/metrics` request for `minIntervalMs` (issue 11 §7: four connections
 * pipelining 2,000 scrapes each froze the event loop for 19.7 s, one render per request). A request inside
 * the interval gets the last body at the cost of a copy; requests that arrive while a render runs share it.
 * `minIntervalMs` 0 still shares a render among requests that arrive while it runs (tests use 0 to read
 * counters right after the action that moved them).
 */
export class ScrapeCache {
  #body: string | undefined;
  #renderedAtMs = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<string> | undefined;
  /** Renders actually done (the rest of the scrapes were served from the cache). */
  renders = 0;

  constructor(
    private readonly render: () => Promise<string>,
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached body when it is younger than the interval, else undefined (call {@link refresh}). */
  fresh(): string | undefined {
    return this.#body !== undefined && this.now() - this.#renderedAtMs < this.minIntervalMs
      ? this.#body
      : undefined;
  }

  /** The cached body when fresh, else one render shared by every caller until it settles. */
  get(): Promise<string> {
    const body = this.fresh();
    if (body !== undefined) return Promise.resolve(body);
    if (this.#inFlight !== undefined) return this.#inFlight;
    this.renders++;
    const started = this.now();
    const inFlight = this.render().then(
      (out) => {
        this.#body = out;
        this.#renderedAtMs = started;
        this.#inFlight = undefined;
        return out;
      },
      (error: unknown) => {
        this.#inFlight = undefined;
        throw error;
      },
    );
    this.#inFlight = inFlight;
    return inFlight;
  }
}
