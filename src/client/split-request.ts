import type { Encoding } from "../wire/index.ts";
import { encodeRequest } from "./transport.ts";

const utf8 = new TextEncoder();

/** The gateway's default `--max-message-bytes`: the largest client frame it processes. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16_384;
/** Topics one request may carry (PROTOCOL.md "Limits"; `MAX_TOPICS_PER_REQUEST` on the gateway). */
export const MAX_TOPICS_PER_REQUEST = 1024;

/** Encoded size of a request frame, in bytes (JSON text is UTF-8 on the wire). */
export function frameBytes(message: unknown, encoding: Encoding): number {
  const frame = encodeRequest(message, encoding);
  return typeof frame === "string" ? utf8.encode(frame).byteLength : frame.byteLength;
}

/**
 * Splits `topics` into runs whose request (`build(run)`, encoded in `encoding`) fits `maxBytes` and
 * holds at most {@link MAX_TOPICS_PER_REQUEST} topics, in order (issue 10 §3: a subscribe that does not
 * fit a frame cost the connection a 1009 close, and retrying it never helped). Greedy on each
 * topic's encoded cost, then checked by encoding each run; a run still too big is halved.
 * A single topic whose request does not fit is returned alone (the gateway will answer for it).
 */
export function splitTopics(
  topics: readonly string[],
  build: (run: readonly string[]) => unknown,
  encoding: Encoding,
  maxBytes: number,
): string[][] {
  if (topics.length === 0) return [];
  // The request without topics, plus the largest array header (5 bytes in msgpack, "[]" in JSON).
  const base = frameBytes(build([]), encoding) + 5;
  const runs: string[][] = [];
  let run: string[] = [];
  let bytes = base;
  for (const topic of topics) {
    const cost = topicBytes(topic, encoding);
    if (run.length > 0 && (bytes + cost > maxBytes || run.length >= MAX_TOPICS_PER_REQUEST)) {
      runs.push(run);
      run = [];
      bytes = base;
    }
    run.push(topic);
    bytes += cost;
  }
  runs.push(run);
  return runs.flatMap((r) => fitting(r, build, encoding, maxBytes));
}

/** Bytes one more topic adds to a request's `topics` array: its string plus a comma (JSON) or header (msgpack). */
function topicBytes(topic: string, encoding: Encoding): number {
  if (encoding === "json") return utf8.encode(JSON.stringify(topic)).byteLength + 1;
  const length = utf8.encode(topic).byteLength;
  return length + (length < 32 ? 1 : length < 256 ? 2 : 3);
}

function fitting(
  run: string[],
  build: (run: readonly string[]) => unknown,
  encoding: Encoding,
  maxBytes: number,
): string[][] {
  if (run.length <= 1 || frameBytes(build(run), encoding) <= maxBytes) return [run];
  const half = Math.ceil(run.length / 2);
  return [
    ...fitting(run.slice(0, half), build, encoding, maxBytes),
    ...fitting(run.slice(half), build, encoding, maxBytes),
  ];
}
