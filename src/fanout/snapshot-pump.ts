import type { TopicWalk } from "../subscriptions/index.ts";
import type { EncodedEvent } from "./encoded-event.ts";
import { SessionMode, type Session, type SnapshotWait, type Topic } from "./session.ts";
import type { HubStats } from "./stats.ts";

/** Topics one job visits per step: a few hundred snapshot values, well under a millisecond. */
export const SNAPSHOT_CHUNK_TOPICS = 256;
/** Work per event-loop turn, ms: the pump stops taking steps once a turn has spent this much. */
export const SNAPSHOT_TURN_BUDGET_MS = 2;
/** A turn in which every job waited (its connection conflating): the next try comes after this, ms. */
const PAUSED_RETRY_MS = 10;

/**
 * The rest of one subscribe's work: its newly entered topics (`entered`, from index `next` on) and the
 * walks of its new wildcard patterns, whose topics it enters into the table. While `wait` is set the
 * job also puts the snapshot of each topic into the connection's stream; once the snapshot ends (all
 * visited, cut at `--max-snapshot-values`, or cut because the connection held too many live frames) it
 * only enters topics.
 */
export class SnapshotJob {
  next = 0;
  /** On the pump's list. */
  scheduled = false;
  constructor(
    readonly session: Session,
    /** The snapshot being produced; undefined = enter topics only (`snapshot: false`, or the snapshot ended). */
    public wait: SnapshotWait | undefined,
    readonly entered: readonly Topic[],
    readonly walks: TopicWalk<Session, EncodedEvent>[],
  ) {}

  /** Nothing left to visit. */
  get finished(): boolean {
    return this.next >= this.entered.length && this.walks.length === 0;
  }
}

/** What runs one step of a job (snapshots.ts): visits up to `maxTopics` topics, returns how many it visited. */
export type StepJob = (job: SnapshotJob, maxTopics: number) => number;

/**
 * Runs subscribe work too large for one frame across event-loop turns: round-robin over the jobs, one
 * step of {@link SNAPSHOT_CHUNK_TOPICS} topics each, until the turn has spent
 * {@link SNAPSHOT_TURN_BUDGET_MS} (issue 11 §2: 20 subscribes to `>` over 200,000 cached topics queued
 * 200,000 snapshot events in one turn each, and the honest client's latency reached 5.5 s). A job of a
 * closed connection goes at once; one that is still emitting a snapshot waits while its connection is
 * conflating (its snapshot is paced by what the client reads; a client that stops reading is closed
 * with 4007 by the slow-consumer rules) or while an earlier snapshot of the connection holds it.
 */
export class SnapshotPump {
  #jobs: SnapshotJob[] = [];
  #scheduled = false;
  readonly #run = (): void => this.#turn();

  constructor(
    private readonly stats: HubStats,
    private readonly step: StepJob,
  ) {}

  /** Jobs waiting for a turn. */
  get pending(): number {
    return this.#jobs.length;
  }

  add(job: SnapshotJob): void {
    if (job.scheduled || job.finished) return;
    job.scheduled = true;
    this.#jobs.push(job);
    this.#schedule(false);
  }

  #schedule(paused: boolean): void {
    if (this.#scheduled || this.#jobs.length === 0) return;
    this.#scheduled = true;
    if (paused) setTimeout(this.#run, PAUSED_RETRY_MS).unref();
    else setImmediate(this.#run);
  }

  #turn(): void {
    this.#scheduled = false;
    const started = performance.now();
    const jobs = this.#jobs;
    this.#jobs = [];
    let progressed = false;
    let i = 0;
    for (; i < jobs.length; i++) {
      if (progressed && performance.now() - started >= SNAPSHOT_TURN_BUDGET_MS) break;
      const job = jobs[i] as SnapshotJob;
      const session = job.session;
      if (session.closed || job.finished) {
        job.scheduled = false;
        continue;
      }
      if (job.wait !== undefined && session.waiting !== job.wait) {
        // Behind an earlier snapshot of the connection: snapshots.ts adds it again at the head.
        job.scheduled = false;
        continue;
      }
      if (job.wait !== undefined && (session.mode & SessionMode.CONFLATING) !== 0) {
        this.#jobs.push(job);
        continue;
      }
      if (this.step(job, SNAPSHOT_CHUNK_TOPICS) > 0) this.stats.snapshotChunks++;
      progressed = true;
      if (job.finished || session.closed) job.scheduled = false;
      else this.#jobs.push(job);
    }
    // Round robin: the jobs not reached this turn go first next turn.
    if (i < jobs.length) this.#jobs = [...jobs.slice(i), ...this.#jobs];
    this.#schedule(!progressed && i >= jobs.length);
  }
}
