import { EventEncoder, EventFlag, encodeEventJson, type MarketEvent } from "../protocol/index.ts";

/** Encodes the SNAPSHOT variants; off the hot path (once per cached event that someone snapshots). */
const snapshotEncoder = new EventEncoder();
/**
 * Encodes CONFLATED variants, one per (connection, topic) delivery of merged updates. These bytes may be
 * views of the encoder's slab: they live only until the turn's write (uWS copies on send).
 */
const conflatedEncoder = new EventEncoder();

/** An update encoded once for every subscriber: msgpack bytes up front, JSON text on first need. */
export class EncodedEvent {
  #json: string | undefined;
  #snapshot: EncodedEvent | undefined;
  #staleSnapshot: EncodedEvent | undefined;
  constructor(
    readonly event: MarketEvent,
    readonly msgpack: Uint8Array,
  ) {}

  /** An event with exact-size bytes of its own (not a slab view), for values kept long (history). */
  static standalone(event: MarketEvent): EncodedEvent {
    return new EncodedEvent(event, new Uint8Array(snapshotEncoder.encode(event)));
  }

  /** JSON text frame; pure ASCII (topics are ASCII), so its length is its byte length. */
  get json(): string {
    return (this.#json ??= encodeEventJson(this.event));
  }

  /**
   * The same event flagged SNAPSHOT (same `q`, `te` and `ts`), encoded on first need and then shared by
   * every subscriber that gets it as a snapshot, as the live bytes are.
   */
  get snapshot(): EncodedEvent {
    return (this.#snapshot ??= snapshotOf(this.event, EventFlag.SNAPSHOT));
  }

  /** The same event flagged SNAPSHOT and STALE (see FeedState.snapshotOf), encoded on first need and shared. */
  get staleSnapshot(): EncodedEvent {
    return (this.#staleSnapshot ??= snapshotOf(this.event, EventFlag.SNAPSHOT | EventFlag.STALE));
  }

  /**
   * This update standing for `n` updates of its topic (itself and the `n - 1` before it since the last
   * event the connection got): flagged CONFLATED with `n`, same `q` (the newest), `te` and `ts`, plus the
   * `carry` flags of the updates merged into it ({@link carriedFlags}). Encoded for the one connection
   * it goes to.
   */
  conflated(n: number, isBinary: boolean, carry = 0): Uint8Array | string {
    const merged: MarketEvent = { ...this.event, f: (this.event.f ?? 0) | EventFlag.CONFLATED | carry, n };
    return isBinary ? conflatedEncoder.encode(merged) : encodeEventJson(merged);
  }

  /** Whether `msgpack` is a view of a larger buffer (the encoder's slab) rather than its own bytes. */
  get isView(): boolean {
    return this.msgpack.byteLength !== this.msgpack.buffer.byteLength;
  }

  /** The same event with exact-size bytes of its own (keeps caches made so far). */
  detached(): EncodedEvent {
    // `new Uint8Array(view)` copies; `Buffer#slice` would return another view.
    const copy = new EncodedEvent(this.event, new Uint8Array(this.msgpack));
    copy.#json = this.#json;
    copy.#snapshot = this.#snapshot;
    copy.#staleSnapshot = this.#staleSnapshot;
    return copy;
  }
}

/**
 * `event` as a snapshot with `flags`. RESYNC is dropped: "updates may have been lost before this one"
 * says nothing to a subscriber whose first event this is.
 */
function snapshotOf(event: MarketEvent, flags: number): EncodedEvent {
  const flagged: MarketEvent = { ...event, f: ((event.f ?? 0) & ~EventFlag.RESYNC) | flags };
  // A copy, not a view of the encoder's 256 KiB slab: a cached snapshot can live for as long as its
  // topic stays quiet, and a view would keep the whole slab alive with it.
  return new EncodedEvent(flagged, new Uint8Array(snapshotEncoder.encode(flagged)));
}

/**
 * The flags an update passes on when it is merged away into a later one (conflation, maxHz): RESYNC
 * ("updates of this topic may have been lost before this one") is about the stream, not the value, so
 * the CONFLATED event standing for it must say it too (PROTOCOL.md, Feed state).
 */
export function carriedFlags(event: EncodedEvent): number {
  return (event.event.f ?? 0) & EventFlag.RESYNC;
}
