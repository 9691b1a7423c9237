import { DecodeError, type DecodeLimits } from "./decode-limits.ts";

/**
 * A strict JSON parser for untrusted text (client text frames, JSON feed payloads), in place of
 * `JSON.parse`, for two reasons:
 * - an integer literal outside ±(2^53 − 1) comes back as an exact `bigint`, where `JSON.parse` rounds it
 *   silently (issue 10: a request id or a feed value above 2^53 came back changed);
 * - nesting and the number of values are bounded by {@link DecodeLimits}.
 * Otherwise it accepts exactly RFC 8259 JSON (string tokens are checked by `JSON.parse` itself). Object
 * keys become own properties, "__proto__" included. Not on the per-update path: feed handlers publish
 * msgpack; JSON is for people and debugging.
 */
export function decodeJson(text: string, limits: DecodeLimits): unknown {
  const parser = new Parser(text, limits);
  parser.space();
  const value = parser.value(1);
  parser.space();
  if (parser.pos !== text.length) throw new DecodeError("trailing characters after the JSON value");
  return value;
}

/** Decodes UTF-8 bytes (refusing invalid UTF-8) and parses them with {@link decodeJson}. */
export function decodeJsonBytes(bytes: Uint8Array, limits: DecodeLimits): unknown {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch (cause) {
    throw new DecodeError("text is not valid UTF-8", { cause });
  }
  return decodeJson(text, limits);
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

class Parser {
  pos = 0;
  #elements = 0;

  constructor(
    readonly text: string,
    readonly limits: DecodeLimits,
  ) {}

  space(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      pos++;
    }
    this.pos = pos;
  }

  value(depth: number): unknown {
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.#object(depth);
      case 0x5b: // [
        return this.#array(depth);
      case 0x22: // "
        return this.#string();
      case 0x74: // t
        return this.#word("true", true);
      case 0x66: // f
        return this.#word("false", false);
      case 0x6e: // n
        return this.#word("null", null);
      default:
        return this.#number();
    }
  }

  #word<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) throw new DecodeError(`unexpected JSON at ${this.pos}`);
    this.pos += word.length;
    return value;
  }

  #number(): number | bigint {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) throw new DecodeError(`unexpected JSON at ${this.pos}`);
    const literal = match[0];
    this.pos += literal.length;
    const value = Number(literal);
    // An integer literal that a double cannot hold exactly stays exact.
    if (match[1] === undefined && match[2] === undefined && !Number.isSafeInteger(value)) {
      return BigInt(literal);
    }
    return value;
  }

  #string(): string {
    const text = this.text;
    const start = this.pos;
    let pos = start + 1;
    let escaped = false;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (Number.isNaN(c)) throw new DecodeError("unterminated JSON string");
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        pos++;
      }
      pos++;
    }
    this.pos = pos + 1;
    if (!escaped) {
      const raw = text.slice(start + 1, pos);

      if (/[\u0000-\u001f]/.test(raw)) throw new DecodeError("control character in a JSON string");
      return raw;
    }
    try {
      return JSON.parse(text.slice(start, pos + 1)) as string;
    } catch (cause) {
      throw new DecodeError("invalid JSON string", { cause });
    }
  }

  #enter(depth: number): void {
    if (depth > this.limits.maxDepth)
      throw new DecodeError(`JSON nesting deeper than ${this.limits.maxDepth}`);
  }

  #counted(weight: number): void {
    this.#elements += weight;
    if (this.#elements > this.limits.maxElements) {
      throw new DecodeError(`JSON value has more than ${this.limits.maxElements} elements`);
    }
  }

  #array(depth: number): unknown[] {
    this.#enter(depth);
    this.pos++;
    const array: unknown[] = [];
    this.space();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return array;
    }
    for (;;) {
      this.#counted(1);
      this.space();
      array.push(this.value(depth + 1));
      this.space();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x5d) return array;
      if (c !== 0x2c) throw new DecodeError(`expected "," or "]" in JSON at ${this.pos - 1}`);
    }
  }

  #object(depth: number): Record<string, unknown> {
    this.#enter(depth);
    this.pos++;
    const map: Record<string, unknown> = {};
    this.space();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return map;
    }
    for (;;) {
      this.#counted(2);
      this.space();
      if (this.text.charCodeAt(this.pos) !== 0x22)
        throw new DecodeError(`expected a key in JSON at ${this.pos}`);
      const key = this.#string();
      this.space();
      if (this.text.charCodeAt(this.pos++) !== 0x3a)
        throw new DecodeError(`expected ":" in JSON at ${this.pos - 1}`);
      this.space();
      const value = this.value(depth + 1);
      if (key === "__proto__") Object.defineProperty(map, key, { value, enumerable: true, writable: true });
      else map[key] = value;
      this.space();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x7d) return map;
      if (c !== 0x2c) throw new DecodeError(`expected "," or "}" in JSON at ${this.pos - 1}`);
    }
  }
}
