import { SendResult, type FrameSink } from "./sink.ts";

/** Largest array frame built, in bytes; more events in one turn go out as several frames. */
export const MAX_BATCH_BYTES = 64 * 1024;

/** What one {@link BatchWriter.write} did. */
export interface BatchResult {
  /** WebSocket messages written. */
  frames: number;
  /** Events in them. */
  events: number;
  /** Events the WebSocket layer refused (over its backpressure limit). */
  refused: number;
  bytes: number;
}

/**
 * Writes a run of pre-encoded events to one socket as few WebSocket messages as possible: a msgpack
 * array (or a JSON array) of the events, which protocol v1 allows in any frame.
 *
 * Why: the cost of fan-out is the JS→native call and the frame per message, not the bytes
 * (PERF-NOTES.md). One `send` per socket per turn instead of one per event took tickwire from 0.77× to
 * over 1× raw uWS `app.publish` on the ceiling workload (bench/results/, 2026-11-24). The array is
 * assembled by copying the shared encoded bytes into one reused scratch buffer; uWS copies on `send`,
 * so the scratch is free again when `send` returns.
 */
export class BatchWriter {
  #scratch = Buffer.allocUnsafeSlow(MAX_BATCH_BYTES + 16);
  readonly #result: BatchResult = { frames: 0, events: 0, refused: 0, bytes: 0 };

  /** Writes `frames[from..to)` (all msgpack bytes, or all JSON texts when `isBinary` is false). */
  write(
    sink: FrameSink,
    isBinary: boolean,
    frames: readonly (Uint8Array | string | object)[],
    from: number,
    to: number,
  ): BatchResult {
    const result = this.#result;
    result.frames = result.events = result.refused = result.bytes = 0;
    let i = from;
    while (i < to) {
      // Take events while the frame stays under MAX_BATCH_BYTES (at least one).
      let bytes = (frames[i] as Uint8Array | string).length;
      let j = i + 1;
      while (j < to) {
        const next = bytes + (frames[j] as Uint8Array | string).length + 1;
        if (next > MAX_BATCH_BYTES) break;
        bytes = next;
        j++;
      }
      const count = j - i;
      let sent: SendResult;
      let size: number;
      if (count === 1) {
        const frame = frames[i] as Uint8Array | string;
        sent = sink.send(frame, isBinary);
        size = frame.length;
      } else if (isBinary) {
        const out = this.#binaryArray(frames, i, j, count);
        sent = sink.send(out, true);
        size = out.length;
      } else {
        const text = `[${(frames.slice(i, j) as string[]).join(",")}]`;
        sent = sink.send(text, false);
        size = text.length;
      }
      if (sent === SendResult.DROPPED) {
        result.refused += count;
      } else {
        result.frames++;
        result.events += count;
        result.bytes += size;
      }
      i = j;
    }
    return result;
  }

  #binaryArray(
    frames: readonly (Uint8Array | string | object)[],
    from: number,
    to: number,
    count: number,
  ): Uint8Array {
    let total = 5;
    for (let k = from; k < to; k++) total += (frames[k] as Uint8Array).length;
    if (this.#scratch.length < total) this.#scratch = Buffer.allocUnsafeSlow(total);
    const scratch = this.#scratch;
    let pos: number;
    if (count < 16) {
      scratch[0] = 0x90 | count;
      pos = 1;
    } else if (count < 0x10000) {
      scratch[0] = 0xdc;
      scratch[1] = count >>> 8;
      scratch[2] = count & 0xff;
      pos = 3;
    } else {
      scratch[0] = 0xdd;
      scratch.writeUInt32BE(count, 1);
      pos = 5;
    }
    for (let k = from; k < to; k++) {
      const frame = frames[k] as Uint8Array;
      scratch.set(frame, pos);
      pos += frame.length;
    }
    return scratch.subarray(0, pos);
  }
}
