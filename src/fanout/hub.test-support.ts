/**
 * What the hub's unit tests share: an in-memory FrameSink, a hub on a fake clock, and small helpers.
 * Not part of the build (tsconfig.build.json excludes *.test-support.ts).
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { Packr, Unpackr } from "msgpackr";
import {
  EventEncoder,
  EventFlag,
  patternMatches,
  type Encoding,
  type MarketEvent,
} from "../protocol/index.ts";
import type { InterestListener } from "../subscriptions/index.ts";
import { EncodedEvent } from "./encoded-event.ts";
import { Hub, type HistorySource, type HubOptions } from "./hub.ts";
import type { Session } from "./session.ts";
import { SendResult, type FrameSink } from "./sink.ts";

export interface SentFrame {
  readonly data: Uint8Array | string;
  readonly bytes: Uint8Array | string;
  readonly isBinary: boolean;
}

/** In-memory FrameSink: records what is sent, lets a test set the buffered bytes or refuse frames. */
export class MemorySink implements FrameSink {
  readonly frames: SentFrame[] = [];
  buffered = 0;
  /** Added to `buffered` by every frame sent (a socket that does not read). */
  growPerFrame = 0;
  /** When set, `send` refuses data as the WebSocket layer does past its backpressure limit. */
  refuse = false;
  corks = 0;
  inCork = false;
  closes: { code: number; reason: string }[] = [];

  send(frame: Uint8Array | string, isBinary: boolean): SendResult {
    assert.ok(this.inCork, "frames are written inside cork");
    if (this.refuse) return SendResult.DROPPED;
    // `data` is what was passed (identity checks: encode once); `bytes` a copy taken as uWS does,
    // since batched frames are views of a scratch buffer reused after `send`.
    this.frames.push({
      data: frame,
      bytes: typeof frame === "string" ? frame : Uint8Array.from(frame),
      isBinary,
    });
    this.buffered += this.growPerFrame;
    return SendResult.SENT;
  }
  cork(fn: () => void): void {
    this.corks++;
    this.inCork = true;
    try {
      fn();
    } finally {
      this.inCork = false;
    }
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
  /** Payloads of the pings sent (copied, as uWS copies). */
  readonly pings: Uint8Array[] = [];
  /** Per ping: sent inside a cork, and how many frames were sent before it. */
  readonly pingLog: { corked: boolean; afterFrames: number }[] = [];
  ping(payload: Uint8Array): SendResult {
    if (this.refuse) return SendResult.DROPPED;
    this.pings.push(Uint8Array.from(payload));
    this.pingLog.push({ corked: this.inCork, afterFrames: this.frames.length });
    return SendResult.SENT;
  }
}

export class RecordingListener implements InterestListener {
  readonly calls: string[] = [];
  patternActive(pattern: string): void {
    this.calls.push(`active ${pattern}`);
  }
  patternIdle(pattern: string): void {
    this.calls.push(`idle ${pattern}`);
  }
}

export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
export const packr = new Packr({ useRecords: false });
const encoder = new EventEncoder();
export const TE = 1_800_000_000_000_000;

export const OPTIONS: HubOptions = {
  maxTopicsPerConnection: 8,
  slowSoftBytes: 1000,
  slowHardBytes: 4000,
  slowCloseMs: 10_000,
  retryAfterMs: 2000,
  // Tests that want heartbeats turn them on; the others see no frames they did not cause.
  heartbeatMs: 0,
  maxHz: 0,
  historyTimeoutMs: 500,
  // Effectively no refill: the rate limit tests do not depend on how fast they run.
  controlRatePerSec: 1e-9,
  controlBurst: 1000,
  // Lag probes off unless a test turns them on (they would need a client answering pings).
  maxLagMs: 1000,
  probeIntervalMs: 0,
  // No idle timeout: relaxed probe periods are max-lag-ms (lag-probes.ts relaxedIntervalMs).
  idleTimeoutMs: 0,
};

/** The hub's clock in a test: moves only when the test says. */
export interface FakeClock {
  nowMs: number;
}

const hubs: Hub[] = [];
after(() => {
  for (const hub of hubs) hub.stop();
});

export function setup(
  options: Partial<HubOptions> = {},
  history?: HistorySource,
): { hub: Hub; listener: RecordingListener; clock: FakeClock } {
  const listener = new RecordingListener();
  const clock: FakeClock = { nowMs: 1000 };
  const hub = new Hub({ ...OPTIONS, ...options }, () => clock.nowMs);
  hub.attach({ interest: listener, history });
  hub.start();
  hubs.push(hub);
  return { hub, listener, clock };
}

export function connect(hub: Hub, encoding: Encoding = "msgpack"): { session: Session; sink: MemorySink } {
  const sink = new MemorySink();
  return { session: hub.open(sink, encoding), sink };
}

/** One event-loop turn: the hub's setImmediate flush has run. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function textFrame(value: unknown): ArrayBuffer {
  return new TextEncoder().encode(JSON.stringify(value)).buffer;
}

export function binaryFrame(value: unknown): ArrayBuffer {
  const bytes = packr.pack(value);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}

export function request(hub: Hub, session: Session, value: unknown): void {
  hub.receive(session, textFrame(value), false);
}

export function decode(frame: SentFrame): unknown {
  return typeof frame.bytes === "string" ? JSON.parse(frame.bytes) : unpackr.unpack(frame.bytes);
}

export const decodedFrames = (sink: MemorySink): unknown[] => sink.frames.map(decode);

/** Decoded frames with array frames flattened: one entry per event or control message. */
export const messages = (sink: MemorySink): Record<string, unknown>[] =>
  decodedFrames(sink).flatMap((m) => (Array.isArray(m) ? (m as unknown[]) : [m])) as Record<
    string,
    unknown
  >[];

let seq = 0;
/** A quote event with a fresh q (the ingest assigns q per topic; these tests only need it to grow). */
export function quote(topic: string, bp = 1.5): EncodedEvent {
  const event: MarketEvent = {
    e: "quote",
    t: topic,
    q: ++seq,
    te: TE + seq,
    ts: TE + seq + 5,
    bp,
    bz: 10,
    ap: bp + 0.25,
    az: 20,
  };
  return new EncodedEvent(event, encoder.encode(event));
}

/** `update` as the ingest marks a topic's first event after a NATS reconnect (flag RESYNC). */
export function resynced(update: EncodedEvent): EncodedEvent {
  const event: MarketEvent = { ...update.event, f: (update.event.f ?? 0) | EventFlag.RESYNC };
  return new EncodedEvent(event, encoder.encode(event));
}

/** A session subscribed to `topics` whose subscribe replies have been written and cleared. */
export async function subscribed(
  hub: Hub,
  topics: string[],
  encoding: Encoding = "msgpack",
  params: Record<string, unknown> = {},
): Promise<{ session: Session; sink: MemorySink }> {
  const client = connect(hub, encoding);
  request(hub, client.session, {
    method: "subscribe",
    id: "s",
    params: { topics, snapshot: false, ...params },
  });
  await turn();
  assert.equal(client.sink.frames.length, 1, "subscribe reply");
  client.sink.frames.length = 0;
  client.sink.corks = 0;
  return client;
}

/** A real HistorySource over an in-memory store, read when asked, answering when the test says (or at once). */
export class StoreHistory implements HistorySource {
  readonly asked: string[] = [];
  readonly #waiting: (() => void)[] = [];
  constructor(
    readonly store: Map<string, MarketEvent>,
    private readonly manual = false,
  ) {}

  lastValues(
    pattern: string,
    tokens: readonly string[],
    wanted: (topic: string) => boolean,
  ): Promise<readonly MarketEvent[]> {
    this.asked.push(pattern);
    // Read when asked, answered later (as JetStream's filter by `wanted` runs before the reads finish):
    // a live update may come in between.
    const answer = [...this.store.values()].filter(
      (e) => patternMatches(tokens, e.t.split(".")) && wanted(e.t),
    );
    if (!this.manual) return Promise.resolve(answer);
    return new Promise((resolve) => this.#waiting.push(() => resolve(answer)));
  }

  /** Answers every lookup made so far. */
  answer(): void {
    for (const go of this.#waiting.splice(0)) go();
  }
}
