/** Messages between a benchmark and its client processes (Node IPC, JSON). */

export interface ConnectCommand {
  readonly type: "connect";
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** `Authorization` header of every upgrade (a Bearer token for a gateway running --auth jwt). */
  readonly authorization?: string;
  /** Global index of the first client to open; client i subscribes to topics (i·T + k) mod M, k < T. */
  readonly from: number;
  readonly count: number;
  readonly topicNames: readonly string[];
  readonly topicsPerClient: number;
  /** Source addresses used in turn (127.0.0.x), to get past one address's ephemeral port range. */
  readonly sourceAddresses: readonly string[];
  /** Handshakes in flight at once (the listen backlog is bounded: somaxconn 4096). */
  readonly concurrency: number;
  /** Bytes per second each client reads at most (a slow reader); 0 or absent = as fast as it can. */
  readonly readBytesPerSec?: number;
  /** Decode what the clients read and sample the age of the newest price each has seen (see MarkReport). */
  readonly trackStaleness?: boolean;
  /** Decode each client's frames until its first market event, to count the clients that received one. */
  readonly watchFirstData?: boolean;
  /**
   * The process never sleeps in `epoll_wait`: a `setImmediate` chain keeps libuv polling with a zero
   * timeout until `close`, so the process holds a core. On one machine, a server's write to a sleeping
   * client pays for waking it (on a VM, a cross-CPU interrupt inside the server's `sendto`); clients on
   * other machines cost the server no such thing. Busy-polling clients take that cost out of the server's
   * figures. Absent or false = the process sleeps when it has nothing to read (the other benchmarks).
   */
  readonly busyPoll?: boolean;
  /**
   * Retries per client of a connect that failed in a way a real client retries (a 503, a reset or a close
   * before the subscribe reply, a refused or timed-out TCP connect), with backoff: each is counted by cause
   * in the `connected` reply. 0 or absent = the first failure fails the process (the other benchmarks).
   */
  readonly retryAttempts?: number;
}

export type ToClients = ConnectCommand | { readonly type: "mark" } | { readonly type: "close" };

export interface MarkReport {
  readonly type: "mark";
  /** Data frames received by every client of the process so far (subscribe replies included). */
  readonly frames: number;
  /** Events in those frames (array frames count their elements). */
  readonly events: number;
  readonly payloadBytes: number;
  /** `performance.now()` of the client process when it counted. */
  readonly atMs: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  /** Clients whose connection is open. */
  readonly open: number;
  /** Clients that have received at least one market event (with `te`); counted with `watchFirstData` (else 0). */
  readonly receiving: number;
  /**
   * With `trackStaleness`: the age (ms) of the newest price each client had seen, sampled every 100 ms
   * per client since the previous mark: median and maximum (-1 = no samples).
   */
  readonly staleP50Ms: number;
  readonly staleMaxMs: number;
}

export type FromClients =
  | {
      readonly type: "connected";
      readonly clients: number;
      readonly ms: number;
      /** Connects retried, by cause (with `retryAttempts`). */
      readonly retried: Readonly<Record<string, number>>;
    }
  | MarkReport
  | { readonly type: "closed"; readonly destroyed: number }
  | { readonly type: "error"; readonly message: string };

/** The topics client `index` subscribes to: T consecutive topics, wrapping at M. */
export function topicsOfClient(
  index: number,
  topicNames: readonly string[],
  topicsPerClient: number,
): string[] {
  const topics: string[] = [];
  for (let k = 0; k < topicsPerClient; k++) {
    topics.push(topicNames[(index * topicsPerClient + k) % topicNames.length] as string);
  }
  return topics;
}

/** The v1 subscribe request each client sends (proto/PROTOCOL.md); the raw uWS server reads it too. */
export function subscribeRequest(topics: readonly string[]): string {
  return JSON.stringify({ method: "subscribe", id: 1, params: { topics, snapshot: false } });
}
