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

/**
 * A server URL fit for a log line or an error message: user, password or token removed (a NATS URL may
 * carry them: `nats://user:pass@host:4222`). A bare `host:port` is returned as given.
 */
export function urlWithoutCredentials(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "[unparseable url]";
  }
}
