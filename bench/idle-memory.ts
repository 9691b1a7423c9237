/**
 * Memory per idle connection (PERF-NOTES.md: uWS.js 2.2 KB, `ws` 7.5 KB with 10 subscriptions).
 * Target (issue): tickwire ≤ 4 KB per idle connection with 10 subscriptions.
 *
 * For each server variant, a fresh server process (bench/lib/idle-server.ts, `--expose-gc`) and
 * client processes (bench/lib/client-process.ts) are started; C clients connect over loopback and
 * each subscribes to T of M topics with the v1 subscribe request, then sit idle. The server measures
 * itself after `gc()` with no clients, with C/2 and with C clients: 1 s after they came, and once it
 * has been idle for `--settle-ms` and its RSS holds still (V8 returns heap pages seconds after a burst):
 *   per connection       = (with C − with none) / C
 *   marginal (2nd half)  = (with C − with C/2) / (C/2), which leaves out one-off costs (code, tables)
 *
 *   cd bench && node --import tsx idle-memory.ts [--clients 5000] [--smoke]
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseOptions, SMOKE_VERDICT } from "./lib/args.ts";
import { ClientFleet, sourceAddressesFor, withTimeout } from "./lib/client-fleet.ts";
import type { FromServer, IdleVariant, MemorySample, MemorySamples, ToServer } from "./lib/idle-server.ts";
import { childExecArgv, infoMarkdown, int, runInfo, table, writeResults } from "./lib/run-info.ts";
import { HOST, STREAM_PATH, topicNames } from "./lib/servers.ts";

const VARIANTS: readonly IdleVariant[] = ["raw-uws", "tickwire"];
const TARGET_BYTES = 4096;
const SERVER_PROCESS = fileURLToPath(new URL("./lib/idle-server.ts", import.meta.url));
/** One client process holds at most this many sockets (the process limit here is 20,000 files). */
const CLIENTS_PER_PROCESS = 15_000;

const opts = parseOptions(
  "idle-memory: server memory per idle connection with T subscriptions, raw uWS vs tickwire",
  {
    clients: 5000,
    topics: 100,
    topicsPerClient: 10,
    settleMs: 12_000,
    variants: "raw-uws,tickwire",
  },
  { clients: 50, settleMs: 0 },
  {
    clients: { help: "idle connections" },
    topics: { help: "distinct topics" },
    topicsPerClient: { help: "subscriptions per connection" },
    settleMs: {
      help: "minimum idle time before each sample, then until RSS holds still (V8 returns heap pages late)",
    },
    variants: { help: "comma-separated, of raw-uws, tickwire" },
  },
);
const variants = opts.variants.split(",").map((v) => v.trim()) as IdleVariant[];
for (const v of variants) {
  if (!VARIANTS.includes(v))
    throw new Error(`--variants: unknown variant "${v}" (known: ${VARIANTS.join(", ")})`);
}

/** A server variant in its own process. */
class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly baseline: MemorySample,
  ) {}

  static async start(variant: IdleVariant): Promise<ServerProcess> {
    const child = fork(SERVER_PROCESS, [variant, String(opts.settleMs)], {
      execArgv: [...childExecArgv(), "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    try {
      const listening = await reply(child, undefined, "listening", opts.settleMs + 45_000);
      if (listening.type !== "listening") throw new Error("unreachable");
      return new ServerProcess(child, listening.port, listening.memory.settled);
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  }

  async measure(): Promise<MemorySamples> {
    const answer = await reply(this.child, { type: "measure" }, "memory", opts.settleMs + 45_000);
    if (answer.type !== "memory") throw new Error("unreachable");
    return answer.memory;
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    if (this.child.connected) await reply(this.child, { type: "close" }, "closed", 15_000);
    await withTimeout(exited, 10_000, "server process did not exit");
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

function reply(
  child: ChildProcess,
  command: ToServer | undefined,
  type: FromServer["type"],
  timeoutMs: number,
): Promise<FromServer> {
  return withTimeout(
    new Promise<FromServer>((resolve, reject) => {
      const onMessage = (message: FromServer): void => {
        if (message.type === "error") {
          cleanup();
          reject(new Error(`server process: ${message.message}`));
        } else if (message.type === type) {
          cleanup();
          resolve(message);
        }
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`server process exited (code ${code}) while waiting for "${type}"`));
      };
      const cleanup = (): void => {
        child.off("message", onMessage);
        child.off("exit", onExit);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
      if (command !== undefined) child.send(command);
    }),
    timeoutMs,
    `server process did not answer "${type}" within ${timeoutMs} ms`,
  );
}

interface PerConnection {
  /** Anonymous RSS (see MemorySample.rssAnon): the headline. */
  readonly rssAnon: number;
  /** Total RSS, file-backed pages included: moves with the kernel's page reclaim, for reference. */
  readonly rss: number;
  readonly heapUsed: number;
  /** V8 heap pages committed (used + free space in them): V8's part of RSS. */
  readonly heapPhysical: number;
  /** Anonymous RSS − V8's committed heap: memory outside V8's heap (uWS sockets and buffers, malloc). */
  readonly native: number;
  readonly external: number;
}

interface VariantResult {
  readonly variant: IdleVariant;
  readonly connectMs: number;
  /** The idle server before any client (settled). */
  readonly baseline: MemorySample;
  readonly half: MemorySamples;
  readonly full: MemorySamples;
  /** Bytes per connection, idle server settled: (full − baseline) / C. The headline. */
  readonly perConnection: PerConnection;
  /** The same 1 s after the last client subscribed, before V8 gave back what the burst grew. */
  readonly perConnectionEarly: PerConnection;
  /** Bytes per connection of the second half, settled: (full − half) / (C − C/2). */
  readonly marginal: PerConnection;
}

function perConnection(from: MemorySample, to: MemorySample, connections: number): PerConnection {
  return {
    rssAnon: Math.round((to.rssAnon - from.rssAnon) / connections),
    rss: Math.round((to.rss - from.rss) / connections),
    heapUsed: Math.round((to.heapUsed - from.heapUsed) / connections),
    heapPhysical: Math.round((to.heapPhysical - from.heapPhysical) / connections),
    native: Math.round((to.rssAnon - to.heapPhysical - (from.rssAnon - from.heapPhysical)) / connections),
    external: Math.round((to.external - from.external) / connections),
  };
}

async function runVariant(variant: IdleVariant): Promise<VariantResult> {
  const server = await ServerProcess.start(variant);
  const processes = Math.max(1, Math.ceil(opts.clients / CLIENTS_PER_PROCESS));
  const fleet = ClientFleet.spawn(processes);
  try {
    const target = {
      host: HOST,
      port: server.port,
      path: STREAM_PATH,
      topicNames: topicNames(opts.topics),
      topicsPerClient: opts.topicsPerClient,
      sourceAddresses: sourceAddressesFor(opts.clients),
      // Handshakes in flight over all processes stay under uWS's listen backlog, or SYNs are dropped
      // and retried a second later.
      concurrency: Math.max(16, Math.floor(256 / processes)),
    };
    const half = Math.floor(opts.clients / 2);
    let connectMs = await fleet.connect(target, 0, half, 120_000);
    const halfSample = await server.measure();
    connectMs += await fleet.connect(target, half, opts.clients - half, 120_000);
    const fullSample = await server.measure();
    const expectedSubscriptions = opts.clients * opts.topicsPerClient;
    const held = fullSample.settled;
    if (held.connections !== opts.clients || held.subscriptions !== expectedSubscriptions) {
      throw new Error(
        `${variant}: server holds ${held.connections} connections and ${held.subscriptions} ` +
          `subscriptions, expected ${opts.clients} and ${expectedSubscriptions}`,
      );
    }
    await fleet.close(30_000);
    return {
      variant,
      connectMs: Math.round(connectMs),
      baseline: server.baseline,
      half: halfSample,
      full: fullSample,
      perConnection: perConnection(server.baseline, fullSample.settled, opts.clients),
      perConnectionEarly: perConnection(server.baseline, fullSample.early, opts.clients),
      marginal: perConnection(halfSample.settled, fullSample.settled, opts.clients - half),
    };
  } catch (error) {
    fleet.kill();
    server.kill();
    throw error;
  } finally {
    await server.close().catch(() => server.kill());
  }
}

const info = runInfo();
const parameters = {
  clients: opts.clients,
  topics: opts.topics,
  topicsPerClient: opts.topicsPerClient,
  settleMs: opts.settleMs,
  variants,
  clientProcesses: Math.max(1, Math.ceil(opts.clients / CLIENTS_PER_PROCESS)),
  sourceAddresses: sourceAddressesFor(opts.clients),
};
console.log(`idle-memory: ${JSON.stringify(parameters)}`);

const results: VariantResult[] = [];
for (const variant of variants) {
  const result = await runVariant(variant);
  results.push(result);
  console.log(
    `${variant.padEnd(8)} anonymous RSS ${int(result.perConnection.rssAnon)} B/conn settled` +
      ` (${int(result.perConnectionEarly.rssAnon)} B 1 s after connecting; marginal ${int(result.marginal.rssAnon)}),` +
      ` JS heap ${int(result.perConnection.heapUsed)} B/conn (marginal ${int(result.marginal.heapUsed)}),` +
      ` native ${int(result.perConnection.native)} B/conn,` +
      ` connected in ${result.connectMs} ms`,
  );
}

const raw = results.find((r) => r.variant === "raw-uws");
const tw = results.find((r) => r.variant === "tickwire");
const verdict = opts.smoke
  ? SMOKE_VERDICT
  : tw === undefined
    ? "n/a"
    : tw.perConnection.rssAnon <= TARGET_BYTES
      ? `met (${int(tw.perConnection.rssAnon)} B ≤ ${TARGET_BYTES} B)`
      : `MISSED (${int(tw.perConnection.rssAnon)} B > ${TARGET_BYTES} B)`;
const rssRatio =
  raw !== undefined && tw !== undefined && raw.perConnection.rssAnon > 0
    ? tw.perConnection.rssAnon / raw.perConnection.rssAnon
    : null;
console.log(`tickwire target ≤ ${TARGET_BYTES} B anonymous RSS per idle connection: ${verdict}`);

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KiB`;
const markdown = [
  `## ${info.startedAt}${opts.smoke ? " (smoke)" : ""}`,
  "",
  infoMarkdown(info),
  `- parameters: ${opts.clients} idle connections, each subscribed to ${opts.topicsPerClient} of ` +
    `${opts.topics} topics; server alone in its own process (\`--expose-gc\`, measured after \`gc()\`), ` +
    `clients in ${parameters.clientProcesses} other process(es) from ${parameters.sourceAddresses.join(", ")}; ` +
    `each sample after ≥ ${opts.settleMs} ms idle and a steady RSS`,
  "",
  table(
    [
      "server variant",
      "anon RSS per conn (settled)",
      "anon RSS per conn 1 s after connecting",
      "total RSS per conn (settled)",
      "JS heap used per conn",
      "V8 heap committed per conn",
      "native (anon RSS − V8 heap) per conn",
      "anon RSS marginal (2nd half)",
      "JS heap marginal",
      "vs raw uWS (anon RSS)",
    ],
    results.map((r) => [
      r.variant,
      `${int(r.perConnection.rssAnon)} B (${kb(r.perConnection.rssAnon)})`,
      `${int(r.perConnectionEarly.rssAnon)} B`,
      `${int(r.perConnection.rss)} B`,
      `${int(r.perConnection.heapUsed)} B`,
      `${int(r.perConnection.heapPhysical)} B`,
      `${int(r.perConnection.native)} B`,
      `${int(r.marginal.rssAnon)} B`,
      `${int(r.marginal.heapUsed)} B`,
      raw !== undefined && raw.perConnection.rssAnon > 0
        ? (r.perConnection.rssAnon / raw.perConnection.rssAnon).toFixed(2)
        : "n/a",
    ]),
  ),
  "",
  `tickwire target ≤ ${TARGET_BYTES} B (anonymous RSS) per idle connection with ${opts.topicsPerClient} subscriptions ` +
    `(settled): **${verdict}**` +
    (tw !== undefined ? `; 1 s after connecting: ${int(tw.perConnectionEarly.rssAnon)} B.` : ""),
  "",
  table(
    [
      "server variant",
      "sample",
      "connections",
      "subscriptions",
      "RSS",
      "anon RSS",
      "heap used",
      "heap total",
      "heap committed",
      "external",
      "array buffers",
    ],
    results.flatMap((r) =>
      (
        [
          ["none (settled)", r.baseline],
          ["half, 1 s after", r.half.early],
          ["half, settled", r.half.settled],
          ["all, 1 s after", r.full.early],
          ["all, settled", r.full.settled],
        ] as const
      ).map(([name, m]) => [
        r.variant,
        name,
        m.connections,
        m.subscriptions,
        int(m.rss),
        int(m.rssAnon),
        int(m.heapUsed),
        int(m.heapTotal),
        int(m.heapPhysical),
        int(m.external),
        int(m.arrayBuffers),
      ]),
    ),
  ),
].join("\n");

const files = writeResults(
  opts.resultsDir,
  "idle-memory",
  "Memory per idle connection: raw uWS vs tickwire",
  {
    info,
    parameters,
    target: { anonymousRssBytesPerConnection: TARGET_BYTES },
    verdict,
    rssRatio,
    smoke: opts.smoke,
    results,
  },
  markdown,
);
console.log(`results: ${files.markdown} and ${files.json}`);
