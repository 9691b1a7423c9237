/**
 * Per-message cost against the number of patterns held (issue 10 §4): the gateway's work when a
 * message arrives, old scan vs new pattern index, side by side in one run, at several pattern counts.
 *
 * The scenario of the issue: C connections each subscribe to 1,000 distinct concrete topics
 * (`xc.S<c>_<k>.quote`, so C × 1,000 patterns and as many NATS subscriptions), then
 *   - first message: one message to each of 2,000 of those subjects, none seen before (the gateway
 *     creates the topic entry and elects the subject's owning NATS subscription);
 *   - known subject: messages to subjects already seen (the per-message lookup);
 *   - unsubscribe: one connection drops one pattern elsewhere (not one of the 2,000 subjects), then the
 *     2,000 known subjects get one message each (the old ingest re-elected every subject's owner after
 *     any removal);
 *   - close: one connection holding 1,000 patterns goes away.
 * What runs is the gateway's own code for those steps, without NATS and sockets: the subscription
 * table (`topic()`, `add`, `remove`, `removeAll`) and the ingest's per-subject owner election.
 *   - old: the table as it was at 86b5e56 (bench/lib/old-subscription-table.ts) and the ingest's owner
 *     scan of that commit (`OldIngestOwners` below);
 *   - new: src/subscriptions' SubscriptionTable and SubjectOwners, as NatsIngest uses them.
 * Costs are process CPU time (user + system, GC included; one full GC after building the patterns),
 * since the machine is shared.
 *
 *   cd bench && node --import tsx --expose-gc pattern-index.ts [--patterns 2000,8000,16000,64000] [--rounds 3] [--smoke]
 */
import { patternMatches } from "../src/protocol/index.ts";
import {
  SubjectOwners,
  SubscriptionTable,
  type InterestListener,
  type SubjectOwner,
  type TopicEntry,
} from "../src/subscriptions/index.ts";
import { parseOptions } from "./lib/args.ts";
import { OldSubscriptionTable } from "./lib/old-subscription-table.ts";
import { infoMarkdown, int, median, rounded, runInfo, table, writeResults } from "./lib/run-info.ts";

const opts = parseOptions(
  "pattern-index: per-message cost vs patterns held, old scan vs pattern index (issue 10 §4)",
  {
    patterns: "2000,8000,16000,64000",
    perConnection: 1000,
    newSubjects: 2000,
    knownMessages: 2_000_000,
    unsubscribes: 5,
    rounds: 5,
  },
  { patterns: "2000,4000", newSubjects: 200, knownMessages: 20_000, unsubscribes: 2, rounds: 1 },
  {
    patterns: { help: "pattern counts to measure, comma-separated (each a multiple of --per-connection)" },
    perConnection: { help: "concrete patterns per connection" },
    newSubjects: { help: "subjects getting their first message" },
    knownMessages: { help: "messages to known subjects, timed per variant and round" },
    unsubscribes: { help: "unsubscribes per round, each followed by one message per known subject" },
    rounds: { help: "rounds per variant and pattern count (fresh state each; order alternating)" },
  },
);

const counts = opts.patterns.split(",").map((s) => Number(s.trim()));
if (counts.some((n) => !Number.isInteger(n) || n <= 0 || n % opts.perConnection !== 0)) {
  process.stderr.write(
    `--patterns ${opts.patterns}: each must be a positive multiple of ${opts.perConnection}\n`,
  );
  process.exit(2);
}

/** One NATS subscription of the ingest model. */
interface Interest {
  readonly id: number;
  readonly tokens: readonly string[];
}

/** The ingest at 86b5e56: owner = smallest matching id, recomputed by a scan of every interest after any removal. */
class OldIngestOwners implements InterestListener {
  readonly #interests = new Map<string, Interest>();
  readonly #subjects = new Map<string, { topic: TopicEntry<number>; owner: number; ownerEpoch: number }>();
  #nextId = 1;
  #epoch = 0;
  constructor(readonly topic: (name: string) => TopicEntry<number>) {}

  patternActive(pattern: string, tokens: readonly string[]): void {
    this.#interests.set(pattern, { id: this.#nextId++, tokens });
  }

  patternIdle(pattern: string): void {
    if (this.#interests.delete(pattern)) this.#epoch++;
  }

  /** What #onMessage does before decoding: the subject's state, its owner, and the subscribers. */
  message(subject: string): number {
    let state = this.#subjects.get(subject);
    if (state === undefined) {
      state = { topic: this.topic(subject), owner: 0, ownerEpoch: -1 };
      this.#subjects.set(subject, state);
    }
    if (state.ownerEpoch !== this.#epoch) {
      state.owner = this.#owner(state.topic.tokens);
      state.ownerEpoch = this.#epoch;
    }
    return state.owner + state.topic.list.length;
  }

  #owner(tokens: readonly string[]): number {
    let owner = 0;
    for (const interest of this.#interests.values()) {
      if ((owner === 0 || interest.id < owner) && patternMatches(interest.tokens, tokens))
        owner = interest.id;
    }
    return owner;
  }
}

/** The ingest now (src/ingest/nats-ingest.ts): owners kept per subject by SubjectOwners. */
class NewIngestOwners implements InterestListener {
  readonly #interests = new Map<string, Interest>();
  readonly #subjects = new Map<string, { topic: TopicEntry<number>; owner: SubjectOwner }>();
  readonly #owners = new SubjectOwners();
  #nextId = 1;
  constructor(readonly topic: (name: string) => TopicEntry<number>) {}

  patternActive(pattern: string, tokens: readonly string[]): void {
    const interest = { id: this.#nextId++, tokens };
    this.#interests.set(pattern, interest);
    this.#owners.add(tokens, interest.id);
  }

  patternIdle(pattern: string): void {
    const interest = this.#interests.get(pattern);
    if (interest === undefined) return;
    this.#interests.delete(pattern);
    this.#owners.delete(interest.tokens, interest.id);
  }

  message(subject: string): number {
    let state = this.#subjects.get(subject);
    if (state === undefined) {
      const topic = this.topic(subject);
      state = { topic, owner: this.#owners.track(topic.tokens) };
      this.#subjects.set(subject, state);
    }
    return state.owner.id + state.topic.list.length;
  }
}

interface Gateway {
  add(connection: number, patterns: readonly string[]): void;
  remove(connection: number, patterns: readonly string[]): void;
  close(connection: number): void;
  message(subject: string): number;
}

/** Forwards the table's interest calls to the ingest built after it (the table needs its listener first). */
class Relay implements InterestListener {
  target: InterestListener | undefined;
  patternActive(pattern: string, tokens: readonly string[]): void {
    this.target?.patternActive(pattern, tokens);
  }
  patternIdle(pattern: string): void {
    this.target?.patternIdle(pattern);
  }
}

const VARIANTS = {
  old: (): Gateway => {
    const relay = new Relay();
    const t = new OldSubscriptionTable<number>(relay, 1_000_000);
    const ingest = new OldIngestOwners((name) => t.topic(name));
    relay.target = ingest;
    return {
      add: (c, p) => void t.add(c, p),
      remove: (c, p) => void t.remove(c, p),
      close: (c) => t.removeAll(c),
      message: (s) => ingest.message(s),
    };
  },
  new: (): Gateway => {
    const relay = new Relay();
    const t = new SubscriptionTable<number>(relay, 1_000_000);
    const ingest = new NewIngestOwners((name) => t.topic(name));
    relay.target = ingest;
    return {
      add: (c, p) => void t.add(c, p),
      remove: (c, p) => void t.remove(c, p),
      close: (c) => t.removeAll(c),
      message: (s) => ingest.message(s),
    };
  },
} as const;
type VariantName = keyof typeof VARIANTS;
const NAMES = Object.keys(VARIANTS) as VariantName[];

const topicName = (connection: number, k: number): string => `xc.S${connection}_${k}.quote`;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined)
  throw new Error("pattern-index.ts needs --expose-gc (npm --prefix bench run pattern-index passes it)");
const collect = gc;

/** CPU milliseconds (user + system) spent by `fn`. */
function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

let blackhole = 0;

interface Round {
  /** CPU ms for the first message of every new subject. */
  readonly firstMs: number;
  /** CPU ns per message to a known subject. */
  readonly knownNs: number;
  /** CPU µs per unsubscribe (the table and the ingest's reaction). */
  readonly unsubscribeUs: number;
  /** CPU ms for one message to each known subject right after an unsubscribe (median over unsubscribes). */
  readonly afterUnsubscribeMs: number;
  /** CPU ms to close one connection holding `perConnection` patterns. */
  readonly closeMs: number;
}

function round(variant: VariantName, patterns: number): Round {
  const connections = patterns / opts.perConnection;
  const gateway = VARIANTS[variant]();
  for (let c = 0; c < connections; c++) {
    const mine: string[] = [];
    for (let k = 0; k < opts.perConnection; k++) mine.push(topicName(c, k));
    gateway.add(c, mine);
  }
  // Building tens of thousands of patterns leaves garbage whose collection (concurrent marking threads
  // count in process CPU) would otherwise be billed to the first step timed. Once per round only: a GC
  // before every step would age and flush the bytecode of the functions used by one step alone.
  collect();
  // The new subjects: spread over the connections, the first topics of each.
  const subjects: string[] = [];
  for (let i = 0; i < opts.newSubjects; i++)
    subjects.push(topicName(i % connections, Math.floor(i / connections)));
  const firstMs = cpuMs(() => {
    for (const subject of subjects) blackhole ^= gateway.message(subject);
  });
  const knownNs =
    (cpuMs(() => {
      for (let i = 0; i < opts.knownMessages; i++)
        blackhole ^= gateway.message(subjects[i % subjects.length]!);
    }) *
      1e6) /
    opts.knownMessages;
  // Unsubscribe patterns no new subject uses (the last topics of the connections), each then one
  // message per known subject.
  const unsubscribe: number[] = [];
  const after: number[] = [];
  for (let u = 0; u < opts.unsubscribes; u++) {
    const connection = u % connections;
    const pattern = topicName(connection, opts.perConnection - 1 - Math.floor(u / connections));
    unsubscribe.push(cpuMs(() => gateway.remove(connection, [pattern])) * 1000);
    after.push(
      cpuMs(() => {
        for (const subject of subjects) blackhole ^= gateway.message(subject);
      }),
    );
  }
  const closeMs = cpuMs(() => gateway.close(connections - 1));
  return {
    firstMs,
    knownNs,
    unsubscribeUs: median(unsubscribe),
    afterUnsubscribeMs: median(after),
    closeMs,
  };
}

const info = runInfo();
console.log(`pattern-index: ${JSON.stringify({ ...opts, resultsDir: undefined })}`);

// Warm-up at the smallest size, so neither variant is measured while its code is being compiled.
for (let i = 0; i < 2; i++) for (const name of NAMES) round(name, counts[0]!);

const rounds = new Map<string, Round[]>();
for (const patterns of counts) {
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 === 0 ? NAMES : [...NAMES].reverse();
    for (const name of order) {
      const key = `${name}@${patterns}`;
      const result = round(name, patterns);
      rounds.set(key, [...(rounds.get(key) ?? []), result]);
      console.log(
        `${key.padEnd(10)} round ${r + 1}: first ${result.firstMs.toFixed(1)} ms, known ${result.knownNs.toFixed(0)} ns/msg,` +
          ` unsubscribe ${result.unsubscribeUs.toFixed(0)} µs + ${result.afterUnsubscribeMs.toFixed(2)} ms after,` +
          ` close ${result.closeMs.toFixed(1)} ms`,
      );
    }
  }
}

const med = (name: VariantName, patterns: number, pick: (r: Round) => number): number =>
  median((rounds.get(`${name}@${patterns}`) ?? []).map(pick));
const results = counts.map((patterns) => ({
  patterns,
  connections: patterns / opts.perConnection,
  ...Object.fromEntries(
    NAMES.map((name) => [
      name,
      {
        firstMessageMs: rounded(
          med(name, patterns, (r) => r.firstMs),
          2,
        ),
        firstMessageUsPerSubject: rounded(
          (med(name, patterns, (r) => r.firstMs) * 1000) / opts.newSubjects,
          2,
        ),
        knownNsPerMessage: rounded(
          med(name, patterns, (r) => r.knownNs),
          2,
        ),
        unsubscribeUs: rounded(
          med(name, patterns, (r) => r.unsubscribeUs),
          2,
        ),
        messagesAfterUnsubscribeMs: rounded(
          med(name, patterns, (r) => r.afterUnsubscribeMs),
          2,
        ),
        closeMs: rounded(
          med(name, patterns, (r) => r.closeMs),
          2,
        ),
      },
    ]),
  ),
})) as unknown as readonly ({ patterns: number; connections: number } & Record<VariantName, Measured>)[];

interface Measured {
  readonly firstMessageMs: number;
  readonly firstMessageUsPerSubject: number;
  readonly knownNsPerMessage: number;
  readonly unsubscribeUs: number;
  readonly messagesAfterUnsubscribeMs: number;
  readonly closeMs: number;
}

const base = results[0]!;
const growth = (name: VariantName, patterns: number): number | undefined => {
  const row = results.find((r) => r.patterns === patterns);
  return row === undefined ? undefined : row[name].firstMessageMs / base[name].firstMessageMs;
};
const target = counts.includes(16000) && counts.includes(2000) ? growth("new", 16000) : undefined;

const rows = results.map((r) => [
  int(r.patterns),
  `${r.old.firstMessageMs} / **${r.new.firstMessageMs}**`,
  `${(r.old.firstMessageMs / base.old.firstMessageMs).toFixed(2)}× / **${(r.new.firstMessageMs / base.new.firstMessageMs).toFixed(2)}×**`,
  `${r.old.knownNsPerMessage} / **${r.new.knownNsPerMessage}**`,
  `${r.old.unsubscribeUs} / **${r.new.unsubscribeUs}**`,
  `${r.old.messagesAfterUnsubscribeMs} / **${r.new.messagesAfterUnsubscribeMs}**`,
  `${r.old.closeMs} / **${r.new.closeMs}**`,
]);
const tableText = table(
  [
    "patterns held",
    `first message to ${int(opts.newSubjects)} new subjects, CPU ms (old / new)`,
    `vs ${int(base.patterns)} patterns (old / new)`,
    "known subject, CPU ns/msg (old / new)",
    "one unsubscribe, CPU µs (old / new)",
    `then one message to each of the ${int(opts.newSubjects)} subjects, CPU ms (old / new)`,
    `close a connection of ${int(opts.perConnection)} patterns, CPU ms (old / new)`,
  ],
  rows,
);
console.log(tableText);
if (target !== undefined)
  console.log(
    `first-message cost 16k/2k: new ${target.toFixed(2)}× (target ≤ 1.5), old ${growth("old", 16000)?.toFixed(2)}×`,
  );

const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: ${int(opts.perConnection)} concrete patterns per connection (\`xc.S<c>_<k>.quote\`); ` +
    `${int(opts.newSubjects)} new subjects spread over the connections; ${int(opts.knownMessages)} known-subject ` +
    `messages; ${opts.unsubscribes} unsubscribes per round; medians of ${opts.rounds} rounds per cell ` +
    `(fresh state each, variant order alternating), after two warm-up rounds at ${int(counts[0]!)} patterns`,
  "- old: the subscription table and the ingest's owner scan at 86b5e56; new: SubscriptionTable + SubjectOwners " +
    "(src/subscriptions). CPU time of the process (user + system), the gateway's work without NATS or sockets.",
  "",
  tableText,
  "",
  target !== undefined
    ? `First-message cost at 16,000 patterns ÷ at 2,000: new **${target.toFixed(2)}×** (issue 10 target ≤ 1.5), ` +
      `old ${growth("old", 16000)?.toFixed(2)}×.`
    : "",
].join("\n");
const files = writeResults(
  opts.resultsDir,
  "pattern-index",
  "Per-message cost vs patterns held: old scan vs pattern index",
  { info, options: { ...opts, resultsDir: undefined }, results, blackhole },
  markdown,
);
console.log(`results: ${files.markdown}`);
