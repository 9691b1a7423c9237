import {
  connect,
  EventFlag,
  patternMatches,
  RequestRefusedError,
  UnrecoverableCloseError,
  type Disconnect,
  type GapNotice,
  type MarketEvent,
  type SnapshotEndEvent,
  type TickwireClient,
} from "../client/index.ts";

import type { TailConfig } from "../config/index.ts";
import { formatterFor, latencyMs } from "./tail-format.ts";

/** Where `tail` writes; process.stdout/stderr in the CLI. */
export interface TailStreams {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

const SUMMARY_EVERY_MS = 5000;

/**
 * `tickwire tail`: subscribes through the SDK and streams every data event to stdout. Lines of one
 * event-loop turn go out in one write (one syscall per turn, not per event). Gaps, conflation and
 * reconnects are reported on stderr, and so are lag (heartbeat `lag`, protocol v1.5) going over
 * `--max-lag-ms` and back under, the gateway's feed state and STALE/RESYNC events. Resolves with the exit status: 0 when done (`--count` reached,
 * SIGINT/SIGTERM, or stdout closed by the reader: EPIPE is the normal end of `tail … | head`), 1 when
 * the gateway refuses the subscription or cannot be reached at start.
 */
export function runTail(config: TailConfig, streams: TailStreams): Promise<number> {
  return new Promise<number>((resolve) => new TailRun(config, streams, resolve).start());
}

class TailRun {
  readonly #formatter;
  readonly #client: TickwireClient;
  #pending: string[] = [];
  #flushScheduled = false;
  #events = 0;
  #conflated = { events: 0, updates: 0, reportedAtMs: Number.NEGATIVE_INFINITY };
  #done = false;
  #everOpen = false;
  /** Topics of the snapshot events seen so far. */
  readonly #snapshotTopics = new Set<string>();
  #snapshotReported = false;
  #lagging = false;
  readonly #onSignal = (): void => this.#finish(0);

  constructor(
    private readonly config: TailConfig,
    private readonly streams: TailStreams,
    private readonly resolve: (code: number) => void,
  ) {
    this.#formatter = formatterFor(config.format, config.latency);
    this.#client = connect(config.url, config.token === undefined ? {} : { token: config.token });
  }

  start(): void {
    const { stdout } = this.streams;
    stdout.on("error", (error: NodeJS.ErrnoException) => {
      // The reader went away (`| head -1`, a closed pipe): a normal end, not an error.
      if (error.code === "EPIPE") this.#finish(0);
      else this.#fail(`cannot write to stdout: ${error.message}`);
    });
    process.once("SIGINT", this.#onSignal);
    process.once("SIGTERM", this.#onSignal);

    const client = this.#client;
    client.on("state", (change) => {
      if (change.state === "open") {
        if (this.#everOpen) this.#note(`reconnected to ${client.url}; resubscribing with a snapshot`);
        else {
          // Only once connected: a tail that cannot connect prints nothing on stdout.
          const header = this.#formatter.header();
          if (header !== undefined) this.#queue(header);
        }
        this.#everOpen = true;
      } else if (change.state === "reconnecting" && change.disconnect !== undefined) {
        if (!this.#everOpen) {
          this.#fail(`cannot connect to ${client.url}: ${describe(change.disconnect)}`);
          return;
        }
        this.#note(`disconnected (${describe(change.disconnect)}); reconnecting in ${change.delayMs} ms`);
      }
    });
    client.on("gap", (gap) => this.#gap(gap));
    client.on("resync", ({ topic, patterns }) =>
      this.#note(`fetching a fresh snapshot of ${topic} (re-adding ${patterns.join(", ")})`),
    );
    client.on("feed", ({ state }) =>
      this.#note(
        state === "down"
          ? "feed down: the gateway lost its feed; no live updates until it returns, snapshots are STALE"
          : "feed up: the gateway has its feed again; each topic's first event is flagged RESYNC",
      ),
    );
    client.on("error", (error) => {
      if (error instanceof UnrecoverableCloseError) this.#fail(error.message);
      else this.#note(`error: ${error.message}`);
    });
    client.on("event", (event) => this.#event(event));
    if (this.config.snapshot) client.on("snapshot_end", (end) => this.#snapshotEnd(end));
    client.on("lag", (ms) => this.#lag(ms));

    const { maxHz } = this.config;
    client
      .subscribe(this.config.topics, {
        snapshot: this.config.snapshot,
        ...(maxHz === undefined ? {} : { maxHz }),
      })
      .then(
        (sub) => {
          for (const e of sub.errors) this.#note(`${e.topic}: ${e.code} ${e.msg}`);
          if (sub.subscribed.length === 0) this.#fail("no valid topic pattern to subscribe to");
        },
        (error: unknown) => {
          if (error instanceof RequestRefusedError)
            this.#fail(`subscribe refused by the gateway: ${error.protocolCode} ${error.serverMessage}`);
          else if (!this.#done) this.#fail((error as Error).message);
        },
      );
  }

  #event(event: MarketEvent): void {
    if (this.#done) return;
    const f = event.f ?? 0;
    if ((f & EventFlag.SNAPSHOT) !== 0) this.#snapshotTopics.add(event.t);
    if ((f & EventFlag.STALE) !== 0)
      this.#note(
        `${event.t}: snapshot q ${event.q} is STALE (received before the feed outage or while it lasts)`,
      );
    if ((f & EventFlag.RESYNC) !== 0)
      this.#note(
        `${event.t}: updates may have been lost before q ${event.q} (the gateway's feed reconnected)`,
      );
    const received = nowMicros();
    const lat = this.config.latency ? latencyMs(event.te, received) : undefined;
    this.#queue(this.#formatter.line(event, lat, received));
    if (this.config.count !== undefined && ++this.#events >= this.config.count) this.#finish(0);
  }

  /**
   * The first snapshot's end: says which topics have no value yet, and which wildcard patterns matched no
   * topic at all (a typo such as `xnsa.*.quote` would otherwise be silent forever).
   */
  #snapshotEnd(end: SnapshotEndEvent): void {
    if (this.#snapshotReported) return;
    this.#snapshotReported = true;
    if (end.missing !== undefined && end.missing.length > 0) {
      this.#note(`no value yet for ${end.missing.join(", ")} (waiting for the first update)`);
    }
    for (const pattern of this.config.topics) {
      if (!pattern.includes("*") && !pattern.includes(">")) continue;
      const tokens = pattern.split(".");
      if ([...this.#snapshotTopics].some((topic) => patternMatches(tokens, topic.split(".")))) continue;
      this.#note(
        `no known topic matches ${pattern} (nothing in the gateway's cache or feed history): check the venue, symbol and type; waiting`,
      );
    }
  }

  #gap(gap: GapNotice): void {
    if (gap.kind === "missed") {
      this.#note(`gap on ${gap.t}: q ${gap.prevQ} → ${gap.q}, ${gap.missed} update(s) missed`);
      return;
    }
    // With --max-hz most events may be conflated: a periodic summary, not a line each.
    const c = this.#conflated;
    c.events++;
    c.updates += gap.missed;
    const now = performance.now();
    if (now - c.reportedAtMs >= SUMMARY_EVERY_MS) {
      c.reportedAtMs = now;
      this.#note(`conflated: ${c.events} event(s) so far stood for ${c.updates} more update(s)`);
    }
  }

  /** One line when the gateway's measured lag goes over --max-lag-ms, one when it is back under. */
  #lag(ms: number): void {
    const bound = this.config.maxLagMs;
    if (!this.#lagging && ms > bound) {
      this.#lagging = true;
      this.#note(
        `lag ${ms} ms is over ${bound} ms: this reader is behind the gateway (it conflates past its own --max-lag-ms)`,
      );
    } else if (this.#lagging && ms <= bound) {
      this.#lagging = false;
      this.#note(`lag back under ${bound} ms (${ms} ms)`);
    }
  }

  #queue(line: string): void {
    this.#pending.push(line);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("\n") + "\n";
    this.#pending = [];
    if (this.streams.stdout.writable) this.streams.stdout.write(text);
  }

  #note(text: string): void {
    this.streams.stderr.write(`tickwire tail: ${text}\n`);
  }

  #fail(text: string): void {
    if (this.#done) return;
    this.#note(text);
    this.#finish(1);
  }

  #finish(code: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#flush();
    process.off("SIGINT", this.#onSignal);
    process.off("SIGTERM", this.#onSignal);
    this.#client.close().then(
      () => this.resolve(code),
      () => this.resolve(code),
    );
  }
}

function describe(d: Disconnect): string {
  switch (d.cause) {
    case "watchdog":
      return `silent connection: ${d.reason}`;
    case "connect_timeout":
      return "connect timed out";
    case "error":
    case "closed":
      return `${d.code}${d.reason === "" ? "" : ` ${d.reason}`}`;
  }
}

/** The wall clock now (µs): `Date.now()` follows clock corrections (issue 10 §5); ms resolution is enough for lat_ms. */
function nowMicros(): number {
  return Date.now() * 1000;
}
