import { Packr, Unpackr } from "msgpackr";
import type { Encoding } from "../wire/index.ts";
import { InvalidArgumentError, NoWebSocketError } from "./errors.ts";

/**
 * The part of the WHATWG WebSocket API the SDK uses. Browsers' `WebSocket` and the `ws` package's
 * class both fit, so the SDK needs no DOM typings and no Node types.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { readonly data: unknown }) => void) | null;
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the TCP connection at once, without a closing handshake. */
  terminate?: () => void;
}

/** A WebSocket constructor (browser `WebSocket`, or `ws`'s default export). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** WebSocket readyState OPEN. */
export const OPEN = 1;

/**
 * The WebSocket class to use: the caller's, else `globalThis.WebSocket` (browsers, Node ≥ 22), else
 * the `ws` package loaded on demand (Node 20 has no global WebSocket). The specifier is a variable so
 * that bundlers leave the import alone: a browser never reaches it.
 */
export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given !== undefined) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined) return global;
  const specifier = "ws";
  try {
    const mod = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as {
      default: WebSocketConstructor;
    };
    return mod.default;
  } catch (error) {
    throw new NoWebSocketError({ cause: error });
  }
}

const packr = new Packr({ useRecords: false });
// int64AsType "number": µs timestamps arrive as uint64 and are below 2^53 (PROTOCOL.md "Conventions").
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

/** Encodes a request for the wire. */
export function encodeRequest(value: unknown, encoding: Encoding): string | Uint8Array {
  return encoding === "json" ? JSON.stringify(value) : packr.pack(value);
}

/**
 * Decodes one server frame (binary: msgpack, text: JSON) into its messages: a frame holds one message
 * or an array of data events (PROTOCOL.md "Encodings").
 */
export function decodeFrame(data: unknown): unknown[] {
  let value: unknown;
  if (typeof data === "string") value = JSON.parse(data);
  else if (data instanceof ArrayBuffer) value = unpackr.unpack(new Uint8Array(data));
  else if (ArrayBuffer.isView(data))
    value = unpackr.unpack(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  else throw new TypeError(`unexpected WebSocket message data: ${typeof data}`);
  return Array.isArray(value) ? value : [value];
}

/** Checks a stream URL: ws:// or wss://. */
export function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new InvalidArgumentError(`url "${url}" is not a URL`, { cause: error });
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:")
    throw new InvalidArgumentError(`url "${url}" must start with ws:// or wss://`);
  return url;
}
