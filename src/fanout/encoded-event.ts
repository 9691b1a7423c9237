import { encodeEventJson, type MarketEvent } from "../protocol/index.ts";

/** An update encoded once for every subscriber: msgpack bytes up front, JSON text on first need. */
export class EncodedEvent {
  #json: string | undefined;
  constructor(
    readonly event: MarketEvent,
    readonly msgpack: Uint8Array,
  ) {}

  /** JSON text frame; pure ASCII (topics are ASCII), so its length is its byte length. */
  get json(): string {
    return (this.#json ??= encodeEventJson(this.event));
  }
}
