import { InvalidArgumentError } from "./errors.ts";
import type { SubscribeResult, UnsubscribeResult } from "./events.ts";
import type { SubscribeOptions } from "./subscription.ts";
import type { WebSocketLike } from "./transport.ts";

// Argument checks and reply readers of the client, kept apart so client.ts reads as the lifecycle.

/** Silences a socket the client is done with; `onClose` still hears its end. */
export function detach(ws: WebSocketLike, onClose: (() => void) | undefined): void {
  // No-ops rather than null: `ws` throws on an "error" event nobody listens to.
  ws.onopen = () => undefined;
  ws.onmessage = () => undefined;
  ws.onerror = () => undefined;
  ws.onclose = onClose === undefined ? () => undefined : () => onClose();
}

export function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value))
    throw new InvalidArgumentError(`${name} must be a positive number, got ${value}`);
  return value;
}

export function checkTopics(topics: readonly string[]): void {
  if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === "string"))
    throw new InvalidArgumentError("topics must be a non-empty array of strings");
}

export function checkSubscribe(topics: readonly string[], options: SubscribeOptions): void {
  checkTopics(topics);
  const { maxHz, onSlow, bufferLimit } = options;
  if (maxHz !== undefined && !(maxHz > 0 && Number.isFinite(maxHz)))
    throw new InvalidArgumentError(`maxHz must be a positive number, got ${maxHz}`);
  if (onSlow !== undefined && onSlow !== "conflate" && onSlow !== "disconnect")
    throw new InvalidArgumentError(`onSlow must be "conflate" or "disconnect", got ${String(onSlow)}`);
  if (bufferLimit !== undefined && !(Number.isInteger(bufferLimit) && bufferLimit > 0))
    throw new InvalidArgumentError(`bufferLimit must be a positive integer, got ${bufferLimit}`);
}

export function asSubscribeResult(result: Record<string, unknown>): SubscribeResult {
  const maxHz = result["maxHz"];
  return {
    subscribed: Array.isArray(result["subscribed"]) ? (result["subscribed"] as string[]) : [],
    errors: Array.isArray(result["errors"]) ? (result["errors"] as SubscribeResult["errors"]) : [],
    ...(typeof maxHz === "number" ? { maxHz } : {}),
  };
}

export function asUnsubscribeResult(result: Record<string, unknown>): UnsubscribeResult {
  return {
    unsubscribed: Array.isArray(result["unsubscribed"]) ? (result["unsubscribed"] as string[]) : [],
    errors: Array.isArray(result["errors"]) ? (result["errors"] as UnsubscribeResult["errors"]) : [],
  };
}
