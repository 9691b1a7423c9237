import type { MarketEvent } from "../wire/index.ts";

/**
 * Hand-written msgpack encoder for data events, the one encode per update on the hot path.
 *
 * Why not msgpackr here: msgpackr writes integers of 2^32 and above (our µs timestamps) as float64, and
 * each `pack()` allocates a result buffer. This encoder writes exact uint64 timestamps into a shared slab
 * and returns a view of it. Keys are written with byte stores, not `Buffer#copy` (a native call per key
 * made the first version 0.61× msgpackr's speed); now ~315 ns vs msgpackr's ~400 ns per quote
 * (bench/encode.ts, bench/results/2026-11-24-encode.md). Output is plain msgpack: any decoder reads it.
 */
const SLAB_BYTES = 256 * 1024;
/** Upper bound of one encoded event: topic (≤ 200 bytes) plus at most 13 keys and values. */
const MAX_EVENT_BYTES = 512;

/** fixstr bytes of a short ASCII key or value, computed once. */
function fixstr(text: string): readonly number[] {
  return [0xa0 | text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
}
const K = {
  e: fixstr("e"),
  t: fixstr("t"),
  q: fixstr("q"),
  te: fixstr("te"),
  ts: fixstr("ts"),
  f: fixstr("f"),
  n: fixstr("n"),
  p: fixstr("p"),
  z: fixstr("z"),
  bp: fixstr("bp"),
  bz: fixstr("bz"),
  ap: fixstr("ap"),
  az: fixstr("az"),
  o: fixstr("o"),
  h: fixstr("h"),
  l: fixstr("l"),
  c: fixstr("c"),
  v: fixstr("v"),
  trade: fixstr("trade"),
  quote: fixstr("quote"),
  bar: fixstr("bar"),
} as const;

export class EventEncoder {
  #slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  #pos = 0;

  /** Encodes one event; the returned bytes stay valid for as long as they are referenced. */
  encode(event: MarketEvent): Uint8Array {
    if (SLAB_BYTES - this.#pos < MAX_EVENT_BYTES) {
      // Older slabs stay alive while frames in socket outboxes still reference them.
      this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#pos = 0;
    }
    const start = this.#pos;
    const flags = event.f ?? 0;
    let size = 5;
    if (flags !== 0) size++;
    if (event.n !== undefined) size++;
    switch (event.e) {
      case "trade":
        this.#byte(0x80 | (size + 2));
        this.#header(event, flags);
        this.#field(K.p, event.p);
        this.#field(K.z, event.z);
        break;
      case "quote":
        this.#byte(0x80 | (size + 4));
        this.#header(event, flags);
        this.#field(K.bp, event.bp);
        this.#field(K.bz, event.bz);
        this.#field(K.ap, event.ap);
        this.#field(K.az, event.az);
        break;
      case "bar":
        this.#byte(0x80 | (size + 5));
        this.#header(event, flags);
        this.#field(K.o, event.o);
        this.#field(K.h, event.h);
        this.#field(K.l, event.l);
        this.#field(K.c, event.c);
        this.#field(K.v, event.v);
        break;
    }
    return this.#slab.subarray(start, this.#pos);
  }

  #header(event: MarketEvent, flags: number): void {
    this.#raw(K.e);
    this.#raw(K[event.e]);
    this.#raw(K.t);
    this.#ascii(event.t);
    this.#field(K.q, event.q);
    this.#field(K.te, event.te);
    this.#field(K.ts, event.ts);
    if (flags !== 0) this.#field(K.f, flags);
    if (event.n !== undefined) this.#field(K.n, event.n);
  }

  #field(key: readonly number[], value: number): void {
    this.#raw(key);
    this.#number(value);
  }

  #byte(value: number): void {
    this.#slab[this.#pos++] = value;
  }

  #raw(bytes: readonly number[]): void {
    const slab = this.#slab;
    let pos = this.#pos;
    for (let i = 0; i < bytes.length; i++) slab[pos++] = bytes[i] as number;
    this.#pos = pos;
  }

  /** Topics are ASCII by construction (see checkPattern / ingest subject check), at most 200 bytes. */
  #ascii(text: string): void {
    const length = text.length;
    if (length < 32) {
      this.#byte(0xa0 | length);
    } else {
      this.#byte(0xd9);
      this.#byte(length);
    }
    const slab = this.#slab;
    let pos = this.#pos;
    for (let i = 0; i < length; i++) slab[pos++] = text.charCodeAt(i);
    this.#pos = pos;
  }

  #number(value: number): void {
    const slab = this.#slab;
    if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
      if (value >= 0) {
        if (value < 0x80) {
          slab[this.#pos++] = value;
        } else if (value < 0x100) {
          slab[this.#pos++] = 0xcc;
          slab[this.#pos++] = value;
        } else if (value < 0x10000) {
          slab[this.#pos++] = 0xcd;
          this.#pos = slab.writeUInt16BE(value, this.#pos);
        } else if (value < 0x100000000) {
          slab[this.#pos++] = 0xce;
          this.#pos = slab.writeUInt32BE(value, this.#pos);
        } else {
          slab[this.#pos++] = 0xcf;
          this.#pos = slab.writeUInt32BE(Math.floor(value / 0x100000000), this.#pos);
          this.#pos = slab.writeUInt32BE(value >>> 0, this.#pos);
        }
      } else if (value >= -32) {
        slab[this.#pos++] = value & 0xff;
      } else if (value >= -0x80) {
        slab[this.#pos++] = 0xd0;
        this.#pos = slab.writeInt8(value, this.#pos);
      } else if (value >= -0x8000) {
        slab[this.#pos++] = 0xd1;
        this.#pos = slab.writeInt16BE(value, this.#pos);
      } else if (value >= -0x80000000) {
        slab[this.#pos++] = 0xd2;
        this.#pos = slab.writeInt32BE(value, this.#pos);
      } else {
        slab[this.#pos++] = 0xd3;
        this.#pos = slab.writeBigInt64BE(BigInt(value), this.#pos);
      }
    } else {
      slab[this.#pos++] = 0xcb;
      this.#pos = slab.writeDoubleBE(value, this.#pos);
    }
  }
}

/**
 * JSON text of an event with the same keys, in the same order, as {@link EventEncoder.encode}: `f`
 * only when non-zero, `n` only when set, payload keys last.
 */
export function encodeEventJson(event: MarketEvent): string {
  const flags = event.f ?? 0;
  let head = `{"e":"${event.e}","t":${JSON.stringify(event.t)},"q":${event.q},"te":${event.te},"ts":${event.ts}`;
  if (flags !== 0) head += `,"f":${flags}`;
  if (event.n !== undefined) head += `,"n":${event.n}`;
  switch (event.e) {
    case "trade":
      return `${head},"p":${num(event.p)},"z":${num(event.z)}}`;
    case "quote":
      return `${head},"bp":${num(event.bp)},"bz":${num(event.bz)},"ap":${num(event.ap)},"az":${num(event.az)}}`;
    case "bar":
      return `${head},"o":${num(event.o)},"h":${num(event.h)},"l":${num(event.l)},"c":${num(event.c)},"v":${num(event.v)}}`;
  }
}

/** Feed validation guarantees finite numbers; JSON.stringify's number format is what clients parse. */
function num(value: number): string {
  return JSON.stringify(value);
}
