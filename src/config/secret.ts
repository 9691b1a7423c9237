import { inspect } from "node:util";

const REDACTED = "[redacted]";

/**
 * A secret option's value. It prints, serialises and inspects as `[redacted]`, so passing the whole
 * config to a logger, `JSON.stringify` or an error message cannot leak it; the one way out is {@link reveal}.
 */
export class Secret {
  static readonly REDACTED = REDACTED;
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself: call this only where the secret is used (a key, a passphrase). */
  reveal(): string {
    return this.#value;
  }

  /** Whether a value was given (the empty string means unset). */
  get isSet(): boolean {
    return this.#value !== "";
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}
