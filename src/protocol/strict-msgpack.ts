import { DecodeError, type DecodeLimits } from "./decode-limits.ts";

/**
 * A strict msgpack decoder for untrusted input (client frames, feed payloads), in place of msgpackr's.
 *
 * Why our own: msgpackr decodes extension types (records, structures, references to earlier values) on
 * any input; a few hundred bytes of doubling references froze the gateway for seconds (issue 11 item 1).
 * This decoder reads plain msgpack only, refuses every extension type, refuses the never-used byte 0xc1,
 * trailing bytes, non-string map keys and invalid UTF-8, and checks {@link DecodeLimits} before doing
 * the work a header asks for. Cost on the feed path, same run: 0.92× and 1.09× msgpackr's time per quote
 * payload in two runs (noise on a shared machine), 192 vs 280 B of JS heap per decode (bench/decode.ts,
 * bench/results/2026-11-30-decode.md); the cache of short map keys below is what brought it there (1.93×
 * without it).
 *
 * Integers: a safe integer (|n| ≤ 2^53 − 1) is a `number`; a 64-bit integer outside that range is a
 * `bigint`, never a rounded number (issue 10: ids and feed values above 2^53 came back changed).
 */
export class StrictMsgpackDecoder {
  readonly #limits: DecodeLimits;
  #bytes: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #elements = 0;
  /** Format byte of the value of key "id" in a top-level map, or -1 (see {@link idFormat}). */
  #idFormat = -1;

  constructor(limits: DecodeLimits) {
    this.#limits = limits;
  }

  /**
   * The msgpack format byte of the top-level map's `id` value in the last decode, or -1 when there was
   * none: lets a reply echo an id sent as a float (0xca, 0xcb) as a float, even when its value is integral.
   */
  get idFormat(): number {
    return this.#idFormat;
  }

  /** Decodes exactly one msgpack value filling `bytes`; throws {@link DecodeError} on anything else. */
  decode(bytes: Uint8Array): unknown {
    this.#bytes = bytes;
    this.#pos = 0;
    this.#elements = 0;
    this.#idFormat = -1;
    if (bytes.length === 0) throw new DecodeError("empty input");
    try {
      const value = this.#value(1);
      if (this.#pos !== bytes.length) {
        throw new DecodeError(`${bytes.length - this.#pos} trailing bytes after the msgpack value`);
      }
      return value;
    } finally {
      this.#bytes = EMPTY; // never keep a caller's buffer alive
    }
  }

  #value(depth: number): unknown {
    const bytes = this.#bytes;
    if (this.#pos >= bytes.length) throw new DecodeError("truncated msgpack value");
    const type = bytes[this.#pos++] as number;
    if (type < 0x80) return type;
    if (type < 0x90) return this.#map(type & 0x0f, depth);
    if (type < 0xa0) return this.#array(type & 0x0f, depth);
    if (type < 0xc0) return this.#string(type & 0x1f);
    if (type >= 0xe0) return type - 0x100;
    switch (type) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#binary(this.#uint(1));
      case 0xc5:
        return this.#binary(this.#uint(2));
      case 0xc6:
        return this.#binary(this.#uint(4));
      case 0xca:
        return this.#float32();
      case 0xcb:
        return this.#float64();
      case 0xcc:
        return this.#uint(1);
      case 0xcd:
        return this.#uint(2);
      case 0xce:
        return this.#uint(4);
      case 0xcf:
        return this.#int64(false);
      case 0xd0:
        return (this.#uint(1) << 24) >> 24;
      case 0xd1:
        return (this.#uint(2) << 16) >> 16;
      case 0xd2:
        return this.#uint(4) | 0;
      case 0xd3:
        return this.#int64(true);
      case 0xd9:
        return this.#string(this.#uint(1));
      case 0xda:
        return this.#string(this.#uint(2));
      case 0xdb:
        return this.#string(this.#uint(4));
      case 0xdc:
        return this.#array(this.#uint(2), depth);
      case 0xdd:
        return this.#array(this.#uint(4), depth);
      case 0xde:
        return this.#map(this.#uint(2), depth);
      case 0xdf:
        return this.#map(this.#uint(4), depth);
      case 0xc1:
        throw new DecodeError("byte 0xc1 is never used in msgpack");
      default:
        // 0xc7-0xc9 ext 8/16/32, 0xd4-0xd8 fixext: records, structures, references, timestamps.
        throw new DecodeError(`msgpack extension type 0x${type.toString(16)} is not accepted`);
    }
  }

  /** Big-endian unsigned integer of 1, 2 or 4 bytes. */
  #uint(size: 1 | 2 | 4): number {
    const bytes = this.#bytes;
    const pos = this.#pos;
    if (pos + size > bytes.length) throw new DecodeError("truncated msgpack value");
    this.#pos = pos + size;
    if (size === 1) return bytes[pos] as number;
    if (size === 2) return ((bytes[pos] as number) << 8) | (bytes[pos + 1] as number);
    return (
      (bytes[pos] as number) * 0x1000000 +
      (((bytes[pos + 1] as number) << 16) | ((bytes[pos + 2] as number) << 8) | (bytes[pos + 3] as number))
    );
  }

  /** uint64 or int64: a number when safe, else an exact bigint (computed without BigInt when safe). */
  #int64(signed: boolean): number | bigint {
    const start = this.#pos;
    const high = this.#uint(4);
    const low = this.#uint(4);
    const signedHigh = signed ? high | 0 : high;
    const value = signedHigh * 0x100000000 + low;
    if (Number.isSafeInteger(value)) return value;
    const view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset + start, 8);
    return signed ? view.getBigInt64(0) : view.getBigUint64(0);
  }

  #float32(): number {
    this.#scratch(4);
    return F32[0] as number;
  }

  #float64(): number {
    this.#scratch(8);
    return F64[0] as number;
  }

  /** Copies a big-endian float into the scratch buffer in the machine's byte order. */
  #scratch(size: 4 | 8): void {
    const bytes = this.#bytes;
    const pos = this.#pos;
    if (pos + size > bytes.length) throw new DecodeError("truncated msgpack value");
    if (LITTLE_ENDIAN) for (let i = 0; i < size; i++) SCRATCH[i] = bytes[pos + size - 1 - i] as number;
    else for (let i = 0; i < size; i++) SCRATCH[i] = bytes[pos + i] as number;
    this.#pos = pos + size;
  }

  #string(length: number): string {
    const bytes = this.#bytes;
    const start = this.#pos;
    if (length > bytes.length - start) throw new DecodeError("msgpack string longer than the input");
    const end = start + length;
    this.#pos = end;
    if (length <= SHORT_STRING) {
      // Keys and topics are short ASCII: building them in JS beats a native call per string.
      let text = "";
      for (let i = start; i < end; i++) {
        const byte = bytes[i] as number;
        if (byte >= 0x80) return utf8(bytes, start, end);
        text += String.fromCharCode(byte);
      }
      return text;
    }
    return utf8(bytes, start, end);
  }

  /**
   * A fixstr map key, from a small cache of recently seen keys (feed payloads repeat the same dozen keys):
   * a hit costs a byte comparison and no allocation. Slot by length and first and last bytes.
   */
  #key(length: number): string {
    const bytes = this.#bytes;
    const start = this.#pos;
    if (length === 0 || length > 16 || length > bytes.length - start) return this.#string(length);
    const slot =
      ((length << 6) ^ ((bytes[start] as number) << 1) ^ (bytes[start + length - 1] as number)) & 0x3ff;
    const cached = KEY_CACHE[slot];
    if (cached !== undefined && cached.bytes.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (cached.bytes[i] !== bytes[start + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.#pos = start + length;
        return cached.key;
      }
    }
    const key = this.#string(length);
    KEY_CACHE[slot] = { key, bytes: bytes.slice(start, start + length) };
    return key;
  }

  #binary(length: number): Uint8Array {
    const start = this.#pos;
    if (length > this.#bytes.length - start) throw new DecodeError("msgpack binary longer than the input");
    this.#pos = start + length;
    return this.#bytes.slice(start, start + length); // a copy: the input buffer is reused by its owner
  }

  #count(entries: number, bytesPerEntry: number, depth: number): void {
    if (depth > this.#limits.maxDepth) {
      throw new DecodeError(`msgpack nesting deeper than ${this.#limits.maxDepth}`);
    }
    if (entries * bytesPerEntry > this.#bytes.length - this.#pos) {
      throw new DecodeError(`msgpack header declares ${entries} entries, more than the input holds`);
    }
    this.#elements += entries * bytesPerEntry;
    if (this.#elements > this.#limits.maxElements) {
      throw new DecodeError(`msgpack value has more than ${this.#limits.maxElements} elements`);
    }
  }

  #array(length: number, depth: number): unknown[] {
    this.#count(length, 1, depth);
    const array: unknown[] = new Array(length);
    for (let i = 0; i < length; i++) array[i] = this.#value(depth + 1);
    return array;
  }

  #map(size: number, depth: number): Record<string, unknown> {
    this.#count(size, 2, depth);
    const map: Record<string, unknown> = {};
    const bytes = this.#bytes;
    for (let i = 0; i < size; i++) {
      const type = bytes[this.#pos] as number;
      let key: string;
      if (type >= 0xa0 && type < 0xc0) {
        this.#pos++;
        key = this.#key(type & 0x1f);
      } else if (type === 0xd9 || type === 0xda || type === 0xdb) {
        key = this.#value(depth + 1) as string;
      } else {
        throw new DecodeError("msgpack map key is not a string");
      }
      if (depth === 1 && key === "id") this.#idFormat = bytes[this.#pos] ?? -1;
      const value = this.#value(depth + 1);
      // An own property even for "__proto__", as JSON.parse makes it: never the object's prototype.
      if (key === "__proto__") Object.defineProperty(map, key, { value, enumerable: true, writable: true });
      else map[key] = value;
    }
    return map;
  }
}

const EMPTY = new Uint8Array(0);
interface CachedKey {
  readonly key: string;
  readonly bytes: Uint8Array;
}
const KEY_CACHE = new Array<CachedKey | undefined>(1024).fill(undefined);
const SHORT_STRING = 32;
const SCRATCH = new Uint8Array(8);
const F32 = new Float32Array(SCRATCH.buffer, 0, 1);
const F64 = new Float64Array(SCRATCH.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function utf8(bytes: Uint8Array, start: number, end: number): string {
  try {
    return UTF8.decode(bytes.subarray(start, end));
  } catch (cause) {
    throw new DecodeError("msgpack string is not valid UTF-8", { cause });
  }
}
