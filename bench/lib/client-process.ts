/**
 * Child process holding benchmark WebSocket clients, so that their CPU and memory are not the
 * server's. Driven over IPC by {@link ClientFleet}; exits by itself after `close` or when the parent
 * goes away.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  subscribeRequest,
  topicsOfClient,
  type ConnectCommand,
  type FromClients,
  type ToClients,
} from "./client-protocol.ts";
import { FrameTotals, WsClient } from "./ws-client.ts";

const CLOSE_GRACE_MS = 3000;
/** Throttle window: a slow client's budget is refilled (and its socket resumed) this often. */
const THROTTLE_WINDOW_MS = 50;

const totals = new FrameTotals();
const clients: WsClient[] = [];
const throttled: WsClient[] = [];
let throttleTimer: NodeJS.Timeout | undefined;
/** Clients whose newest price's age is sampled, and the samples (ms) since the last mark. */
const tracked: WsClient[] = [];
let staleSamples: number[] = [];
let staleTimer: NodeJS.Timeout | undefined;
const STALE_SAMPLE_MS = 100;

function sampleStaleness(): void {
  staleTimer ??= setInterval(() => {
    const nowUs = Date.now() * 1000;
    for (const client of tracked) {
      if (client.newestTeUs > 0 && client.isOpen) staleSamples.push((nowUs - client.newestTeUs) / 1000);
    }
  }, STALE_SAMPLE_MS);
}

/**
 * Every window, adds a window's bytes to each throttled client's budget and resumes it once the
 * budget is positive again. One read can take up to the whole read buffer (256 KiB), far past a
 * window's budget: the debt is carried, so the average read rate is `bytesPerSec`.
 */
function throttleReads(bytesPerSec: number): void {
  const perWindow = (bytesPerSec * THROTTLE_WINDOW_MS) / 1000;
  throttleTimer ??= setInterval(() => {
    for (const client of throttled) {
      if (client.budgetBytes === Number.POSITIVE_INFINITY) client.budgetBytes = 0;
      client.budgetBytes = Math.min(perWindow, client.budgetBytes + perWindow);
      if (client.budgetBytes > 0 && !client.socket.destroyed && client.socket.isPaused())
        client.socket.resume();
    }
  }, THROTTLE_WINDOW_MS);
}

/** While true, a `setImmediate` chain keeps libuv polling with a zero timeout (ConnectCommand.busyPoll). */
let polling = false;

function busyPoll(): void {
  if (polling) return;
  polling = true;
  const spin = (): void => {
    if (polling) setImmediate(spin);
  };
  spin();
}

function send(message: FromClients): void {
  process.send?.(message);
}

/** First wait before a retried connect, ms; doubles per retry of the same client, at most {@link RETRY_MAX_MS}. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 4000;

/**
 * The cause of a failed connect when a real client would retry it (a short label, counted), else
 * undefined: a 503 (the gateway says "later": at its cap, or draining), a reset or close before the
 * subscribe reply, a refused or timed-out TCP connect. Anything else (a 4xx, EADDRNOTAVAIL, EMFILE) is
 * the harness's or the plan's fault and fails the run.
 */
function retryableCause(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ECONNRESET" || code === "ECONNREFUSED" || code === "ETIMEDOUT" || code === "EPIPE")
    return code;
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith("upgrade refused: HTTP/1.1 503")) return "503";
  if (message.startsWith("connection closed before")) return message.slice("connection ".length);
  return undefined;
}

/** Opens `count` clients, each subscribing; resolves when every one has its subscribe reply. */
async function connectAll(command: ConnectCommand): Promise<void> {
  const started = performance.now();
  const retried: Record<string, number> = {};
  const retryAttempts = command.retryAttempts ?? 0;
  let next = 0;
  const openOnce = async (index: number): Promise<WsClient> => {
    const addresses = command.sourceAddresses;
    const client = new WsClient(
      {
        host: command.host,
        port: command.port,
        path: command.path,
        authorization: command.authorization,
        localAddress: addresses.length > 0 ? addresses[index % addresses.length] : undefined,
        readBufferBytes: (command.readBytesPerSec ?? 0) > 0 ? 4096 : undefined,
        trackNewestTe: command.trackStaleness === true,
        watchFirstData: command.watchFirstData === true,
      },
      totals,
    );
    try {
      await client.opened;
      let onClose = (): void => undefined;
      const replied = new Promise<void>((resolve, reject) => {
        client.onFrame(() => resolve());
        // A connection closed after the upgrade and before the reply would leave this wait forever.
        onClose = () => reject(new Error("connection closed before the subscribe reply"));
        client.socket.once("close", onClose);
      });
      client.sendText(subscribeRequest(topicsOfClient(index, command.topicNames, command.topicsPerClient)));
      await replied;
      client.socket.off("close", onClose);
      client.onFrame(undefined);
      return client;
    } catch (error) {
      client.socket.destroy();
      throw error;
    }
  };
  const openOne = async (): Promise<void> => {
    for (; next < command.count;) {
      const index = command.from + next++;
      let client: WsClient | undefined;
      for (let attempt = 0; client === undefined; attempt++) {
        try {
          client = await openOnce(index);
        } catch (error) {
          const cause = retryableCause(error);
          if (cause === undefined || attempt >= retryAttempts) {
            const message = error instanceof Error ? error.message : String(error);
            throw new Error(
              `client ${index}: ${message}${attempt > 0 ? ` (after ${attempt} retries)` : ""}` +
                `; retried so far: ${JSON.stringify(retried)}`,
            );
          }
          retried[cause] = (retried[cause] ?? 0) + 1;
          const backoffMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt);
          // A 503 carries `retry-after: 1`: no sooner than that.
          const waitMs = backoffMs / 2 + Math.random() * (backoffMs / 2);
          await sleep(cause === "503" ? Math.max(1000, waitMs) : waitMs);
        }
      }
      clients.push(client);
      if ((command.readBytesPerSec ?? 0) > 0) throttled.push(client);
      if (command.trackStaleness === true) tracked.push(client);
    }
  };
  if (command.busyPoll === true) busyPoll();
  if (command.trackStaleness === true) sampleStaleness();
  if ((command.readBytesPerSec ?? 0) > 0) throttleReads(command.readBytesPerSec ?? 0);
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(command.concurrency, command.count); w++) workers.push(openOne());
  await Promise.all(workers);
  send({ type: "connected", clients: clients.length, ms: performance.now() - started, retried });
}

/** A `close` command came: the process disconnects when done and ends by itself. */
let closing = false;

async function closeAll(): Promise<void> {
  closing = true;
  polling = false;
  clearInterval(throttleTimer);
  clearInterval(staleTimer);
  for (const client of throttled) {
    client.budgetBytes = Number.POSITIVE_INFINITY;
    client.socket.resume();
  }
  const closed = clients.map(
    (client) =>
      new Promise<void>((resolve) => {
        if (client.socket.destroyed) resolve();
        else client.socket.once("close", () => resolve());
      }),
  );
  for (const client of clients) client.close();
  let destroyed = 0;
  const timer = setTimeout(() => {
    for (const client of clients) {
      if (!client.socket.destroyed) {
        destroyed++;
        client.socket.destroy();
      }
    }
  }, CLOSE_GRACE_MS);
  await Promise.all(closed);
  clearTimeout(timer);
  send({ type: "closed", destroyed });
  process.disconnect();
}

function fail(error: unknown): void {
  polling = false;
  send({ type: "error", message: error instanceof Error ? error.message : String(error) });
  for (const client of clients) client.socket.destroy();
  process.exitCode = 1;
  process.disconnect();
}

process.on("message", (message: ToClients) => {
  switch (message.type) {
    case "connect":
      connectAll(message).catch(fail);
      return;
    case "mark": {
      const cpu = process.cpuUsage();
      let open = 0;
      let receiving = 0;
      for (const client of clients) {
        if (client.isOpen) open++;
        if (client.newestTeUs > 0) receiving++;
      }
      const samples = staleSamples.sort((a, b) => a - b);
      staleSamples = [];
      send({
        type: "mark",
        frames: totals.frames,
        events: totals.events,
        payloadBytes: totals.payloadBytes,
        atMs: performance.now(),
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        open,
        receiving,
        staleP50Ms: samples.length > 0 ? Math.round(samples[Math.floor(samples.length / 2)] as number) : -1,
        staleMaxMs: samples.length > 0 ? Math.round(samples.at(-1) as number) : -1,
      });
      return;
    }
    case "close":
      closeAll().catch(fail);
      return;
  }
});

// The parent died or closed the channel: drop everything so this process cannot linger.
process.on("disconnect", () => {
  polling = false;
  for (const client of clients) client.socket.destroy();
  // Connects still in flight or waiting to retry would keep it alive; after `close` it ends by itself
  // (exiting at once here could lose the "closed" reply still on its way).
  if (!closing) process.exit(process.exitCode ?? 0);
});
