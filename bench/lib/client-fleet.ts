import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ConnectCommand, FromClients, MarkReport, ToClients } from "./client-protocol.ts";
import { childExecArgv } from "./run-info.ts";

const CLIENT_PROCESS = fileURLToPath(new URL("./client-process.ts", import.meta.url));

export interface FleetTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** `Authorization` header of every upgrade (the `tickwire-auth` variant's Bearer token). */
  readonly authorization?: string;
  readonly topicNames: readonly string[];
  readonly topicsPerClient: number;
  readonly sourceAddresses: readonly string[];
  readonly concurrency: number;
  /** Bytes per second each client reads at most (0 = unthrottled). */
  readonly readBytesPerSec?: number;
  /** Sample the age of the newest price each client has seen (decodes every frame: few clients only). */
  readonly trackStaleness?: boolean;
  /** Count the clients that received at least one market event ({@link FleetMark.receiving}). */
  readonly watchFirstData?: boolean;
  /** Retries per client of a connect a real client would retry (see ConnectCommand.retryAttempts); 0 = none. */
  readonly retryAttempts?: number;
  /** The client processes poll without sleeping until `close` (see ConnectCommand.busyPoll). */
  readonly busyPoll?: boolean;
}

/** Sum of the marks of every client process. */
export interface FleetMark {
  readonly frames: number;
  readonly events: number;
  readonly payloadBytes: number;
  /** Mean over processes of their `performance.now()`; only differences of marks are meaningful. */
  readonly atMs: number;
  readonly cpuUs: number;
  readonly open: number;
  /** Clients that received at least one market event (targets with `watchFirstData`; else 0). */
  readonly receiving: number;
  /** Age of the newest price seen, ms, over the samples since the previous mark: worst median of a process, and max (-1 = none). */
  readonly staleP50Ms: number;
  readonly staleMaxMs: number;
}

/**
 * Benchmark clients in child processes (not the server's process, so their CPU and memory are
 * their own). Every wait is bounded: a stuck child fails the benchmark instead of hanging it.
 */
export class ClientFleet {
  readonly #children: ChildProcess[];
  readonly #exited: Promise<unknown>[];
  /** Connects retried by cause, summed over the processes, in the last {@link connect}. */
  retried: Record<string, number> = {};

  private constructor(children: ChildProcess[]) {
    this.#children = children;
    this.#exited = children.map(
      (child) => new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
    );
  }

  /** Process ids of the client processes (their CPU and memory are read from /proc). */
  get pids(): readonly number[] {
    return this.#children.flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  static spawn(processes: number): ClientFleet {
    const children: ChildProcess[] = [];
    for (let i = 0; i < processes; i++) {
      children.push(
        fork(CLIENT_PROCESS, [], {
          execArgv: childExecArgv(),
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        }),
      );
    }
    return new ClientFleet(children);
  }

  /** Opens clients [from, from + count), split evenly over the processes; resolves when all are subscribed. */
  async connect(target: FleetTarget, from: number, count: number, timeoutMs: number): Promise<number> {
    const started = performance.now();
    const n = this.#children.length;
    const replies = await Promise.all(
      this.#children.map((child, i) => {
        const share = Math.floor(count / n) + (i < count % n ? 1 : 0);
        const offset = from + i * Math.floor(count / n) + Math.min(i, count % n);
        const command: ConnectCommand = { type: "connect", ...target, from: offset, count: share };
        return this.#request(child, command, "connected", timeoutMs);
      }),
    );
    this.retried = {};
    for (const reply of replies) {
      if (reply.type !== "connected") continue;
      for (const [cause, times] of Object.entries(reply.retried)) {
        this.retried[cause] = (this.retried[cause] ?? 0) + times;
      }
    }
    return performance.now() - started;
  }

  async mark(timeoutMs = 10_000): Promise<FleetMark> {
    const marks = (await Promise.all(
      this.#children.map((child) => this.#request(child, { type: "mark" }, "mark", timeoutMs)),
    )) as MarkReport[];
    let frames = 0;
    let events = 0;
    let payloadBytes = 0;
    let atMs = 0;
    let cpuUs = 0;
    let open = 0;
    let receiving = 0;
    let staleP50Ms = -1;
    let staleMaxMs = -1;
    for (const m of marks) {
      staleP50Ms = Math.max(staleP50Ms, m.staleP50Ms);
      staleMaxMs = Math.max(staleMaxMs, m.staleMaxMs);
      frames += m.frames;
      events += m.events;
      payloadBytes += m.payloadBytes;
      atMs += m.atMs / marks.length;
      cpuUs += m.cpuUserUs + m.cpuSystemUs;
      open += m.open;
      receiving += m.receiving;
    }
    return { frames, events, payloadBytes, atMs, cpuUs, open, receiving, staleP50Ms, staleMaxMs };
  }

  /** Closes every client (close frame, then TCP end) and waits for the processes to exit. */
  async close(timeoutMs = 10_000): Promise<void> {
    await Promise.all(
      this.#children.map((child) =>
        child.connected ? this.#request(child, { type: "close" }, "closed", timeoutMs) : undefined,
      ),
    );
    await withTimeout(Promise.all(this.#exited), timeoutMs, "client processes did not exit");
  }

  /** Last resort on failure: kill the client processes this fleet started. */
  kill(): void {
    for (const child of this.#children) if (child.exitCode === null) child.kill("SIGKILL");
  }

  #request(
    child: ChildProcess,
    command: ToClients,
    reply: FromClients["type"],
    timeoutMs: number,
  ): Promise<FromClients> {
    return withTimeout(
      new Promise<FromClients>((resolve, reject) => {
        const onMessage = (message: FromClients): void => {
          if (message.type === "error") {
            cleanup();
            reject(new Error(`client process ${child.pid}: ${message.message}`));
          } else if (message.type === reply) {
            cleanup();
            resolve(message);
          }
        };
        const onExit = (code: number | null): void => {
          cleanup();
          reject(new Error(`client process ${child.pid} exited (code ${code}) while waiting for "${reply}"`));
        };
        const cleanup = (): void => {
          child.off("message", onMessage);
          child.off("exit", onExit);
        };
        child.on("message", onMessage);
        child.once("exit", onExit);
        child.send(command);
      }),
      timeoutMs,
      `client process ${child.pid} did not answer "${command.type}" within ${timeoutMs} ms`,
    );
  }
}

export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Source addresses for `clients` connections: one 127.0.0.x per 10,000 (the ephemeral port range
 * here is 32768–60999 per source address, PERF-NOTES.md; bind() with port 0 slows down past half of it,
 * kernel-limits.ts), and at least `atLeast`.
 */
export function sourceAddressesFor(clients: number, atLeast = 1): string[] {
  const count = Math.max(1, atLeast, Math.ceil(clients / 10_000));
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
}
