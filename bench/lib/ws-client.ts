import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { Unpackr } from "msgpackr";

/**
 * A deliberately minimal WebSocket client for load generation: raw `node:net` socket, hand-written
 * RFC 6455 handshake, and a frame-header walker that counts server frames without decoding them.
 *
 * Why not `ws`: at ~1.6 M frames/s the clients share the machine's 2 cores with the server
 * (PERF-NOTES.md), so every microsecond the client spends is taken from the server under test. This
 * client reads into one shared buffer (`onread`, no Buffer per read), never copies payloads, and only
 * answers pings and closes. Server → client frames are unmasked (RFC 6455 §5.1).
 */

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** One read buffer for every socket of the process: frames are walked synchronously inside `onread`. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const MAX_HANDSHAKE_BYTES = 8192;

const Opcode = { TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

export interface WsClientOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** `Authorization` header of the upgrade request (a Bearer token), when set. */
  readonly authorization?: string | undefined;
  /** Source address (a 127.0.0.x on loopback) so more than ~28k connections fit the ephemeral ports. */
  readonly localAddress?: string | undefined;
  /**
   * A read buffer of this client's own, of this size, instead of the shared 256 KiB one. A throttled
   * (slow) reader uses a small one: one read can take no more than the buffer, so it reads steadily
   * instead of taking 256 KiB at once and then owing its budget for seconds.
   */
  readonly readBufferBytes?: number | undefined;
  /**
   * Decode every data frame to keep {@link WsClient.newestTeUs}, the newest `te` seen (the staleness
   * figure of bench/slow-clients.ts). Costs a decode per frame: for a few slow readers only.
   */
  readonly trackNewestTe?: boolean | undefined;
  /**
   * Decode data frames only until the first event with a `te` (a market event, not a reply or a
   * heartbeat) has been seen: {@link WsClient.newestTeUs} > 0 then says "this client received data".
   * At most a few decodes per client (bench/connections-100k.ts: did every connection receive?).
   */
  readonly watchFirstData?: boolean | undefined;
}

/** Counters shared by every client of a process (one increment per frame, no per-client sum later). */
export class FrameTotals {
  /** Data frames (text or binary) received by all clients. */
  frames = 0;
  /**
   * Events in those frames: a binary frame whose msgpack payload is an array (protocol v1: "a frame
   * holds one event or an array of events") counts its elements; any other frame counts 1.
   */
  events = 0;
  /** WebSocket payload bytes of those frames. */
  payloadBytes = 0;
}

export class WsClient {
  /** Data frames received by this client. */
  frames = 0;
  /** Newest `te` (µs since the epoch) among the events read, with `trackNewestTe`; 0 = none yet. */
  newestTeUs = 0;
  readonly #trackNewestTe: boolean;
  readonly #watchFirstData: boolean;
  /** The data frame payload being collected across reads (with `trackNewestTe`). */
  #collect: Buffer | undefined;
  #collected = 0;
  readonly socket: Socket;
  readonly opened: Promise<void>;
  readonly #key = randomBytes(16).toString("base64");
  #open = false;
  #handshake: Buffer | undefined = Buffer.alloc(0);
  /** Bytes of the current data frame's payload still to skip. */
  #skip = 0;
  /** Start of a frame split across reads (at most a header, or a whole control frame). */
  #pending: Buffer | undefined;
  #onFrame: ((client: WsClient) => void) | undefined;

  constructor(
    options: WsClientOptions,
    private readonly totals: FrameTotals,
  ) {
    this.#trackNewestTe = options.trackNewestTe === true;
    this.#watchFirstData = options.watchFirstData === true;
    let resolveOpened!: () => void;
    let rejectOpened!: (error: Error) => void;
    this.opened = new Promise<void>((resolve, reject) => {
      resolveOpened = resolve;
      rejectOpened = reject;
    });
    this.socket = connect({
      host: options.host,
      port: options.port,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
      noDelay: true,
      onread: {
        buffer:
          options.readBufferBytes !== undefined ? Buffer.allocUnsafe(options.readBufferBytes) : READ_BUFFER,
        callback: (length: number, buffer: Uint8Array): boolean => {
          try {
            // A throttled client stops reading once its window's budget is spent: the kernel
            // buffers fill and the server sees a slow consumer (see throttleReads in client-process).
            this.budgetBytes -= length;
            if (this.budgetBytes <= 0) this.socket.pause();
            this.#read(buffer as Buffer, length, resolveOpened);
          } catch (error) {
            rejectOpened(error as Error);
            this.socket.destroy(error as Error);
          }
          return true;
        },
      },
    });
    this.socket.on("connect", () => {
      this.socket.write(
        `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${this.#key}\r\n` +
          `Sec-WebSocket-Version: 13\r\n` +
          (options.authorization !== undefined ? `Authorization: ${options.authorization}\r\n` : "") +
          "\r\n",
      );
    });
    this.socket.on("error", (error) => rejectOpened(error));
    this.socket.on("close", () => {
      if (!this.#open) rejectOpened(new Error("connection closed before the WebSocket handshake"));
      this.#open = false;
    });
  }

  /** Bytes this client may still read in the current throttle window (Infinity = unthrottled). */
  budgetBytes = Number.POSITIVE_INFINITY;

  get isOpen(): boolean {
    return this.#open;
  }

  /** Called after each data frame (the benchmarks use it once, to see the subscribe reply). */
  onFrame(listener: ((client: WsClient) => void) | undefined): void {
    this.#onFrame = listener;
  }

  /** Sends one masked text frame (client → server frames must be masked, RFC 6455 §5.3). */
  sendText(text: string): void {
    const payload = Buffer.from(text, "utf8");
    const length = payload.length;
    const headerLength = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
    const frame = Buffer.allocUnsafe(headerLength + 4 + length);
    frame[0] = 0x80 | Opcode.TEXT;
    if (length < 126) {
      frame[1] = 0x80 | length;
    } else if (length < 0x10000) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeUInt32BE(0, 2);
      frame.writeUInt32BE(length, 6);
    }
    writeMasked(frame, headerLength, payload);
    this.socket.write(frame);
  }

  /** Sends a close frame (1000) and ends the TCP connection; the caller destroys stragglers. */
  close(): void {
    if (!this.socket.destroyed && this.#open) {
      this.#open = false;
      this.#sendControl(Opcode.CLOSE, Buffer.from([0x03, 0xe8])); // 1000
      this.socket.end();
    } else {
      this.socket.destroy();
    }
  }

  #read(buffer: Buffer, length: number, resolveOpened: () => void): void {
    let data = buffer;
    let end = length;
    if (this.#handshake !== undefined) {
      const received = Buffer.concat([this.#handshake, buffer.subarray(0, length)]);
      const headerEnd = received.indexOf("\r\n\r\n");
      if (headerEnd < 0) {
        if (received.length > MAX_HANDSHAKE_BYTES) throw new Error("handshake response too long");
        this.#handshake = received;
        return;
      }
      this.#checkHandshake(received.toString("latin1", 0, headerEnd));
      this.#handshake = undefined;
      this.#open = true;
      resolveOpened();
      // Frames sent right after the 101 response may share its read; copy them out of the shared buffer.
      data = received.subarray(headerEnd + 4);
      end = data.length;
      if (end === 0) return;
    }
    if (this.#pending !== undefined) {
      data = Buffer.concat([this.#pending, data.subarray(0, end)]);
      end = data.length;
      this.#pending = undefined;
    }
    this.#walk(data, end);
  }

  #checkHandshake(head: string): void {
    if (!head.startsWith("HTTP/1.1 101")) {
      throw new Error(`upgrade refused: ${head.split("\r\n", 1)[0] ?? ""}`);
    }
    const expected = createHash("sha1")
      .update(this.#key + GUID)
      .digest("base64");
    if (!new RegExp(`^sec-websocket-accept:\\s*${escapeRegExp(expected)}\\s*$`, "im").test(head)) {
      throw new Error("upgrade response has a wrong or missing Sec-WebSocket-Accept");
    }
  }

  /** Walks frame headers in `data[0, end)`, skipping payloads; keeps a split header for the next read. */
  #walk(data: Buffer, end: number): void {
    const totals = this.totals;
    let i = 0;
    while (i < end) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, end - i);
        if (this.#collect !== undefined) {
          data.copy(this.#collect, this.#collected, i, i + take);
          this.#collected += take;
          if (this.#collected === this.#collect.length) {
            this.#seeTe(this.#collect);
            this.#collect = undefined;
          }
        }
        this.#skip -= take;
        i += take;
        continue;
      }
      const available = end - i;
      if (available < 2) {
        this.#pending = Buffer.from(data.subarray(i, end));
        return;
      }
      const b0 = data[i] as number;
      const b1 = data[i + 1] as number;
      let payloadLength = b1 & 0x7f;
      let headerLength = 2;
      if (payloadLength === 126) {
        headerLength = 4;
        if (available < headerLength) {
          this.#pending = Buffer.from(data.subarray(i, end));
          return;
        }
        payloadLength = data.readUInt16BE(i + 2);
      } else if (payloadLength === 127) {
        headerLength = 10;
        if (available < headerLength) {
          this.#pending = Buffer.from(data.subarray(i, end));
          return;
        }
        payloadLength = data.readUInt32BE(i + 2) * 0x100000000 + data.readUInt32BE(i + 6);
      }
      if ((b1 & 0x80) !== 0) throw new Error("server frame is masked (RFC 6455 §5.1 forbids it)");
      const opcode = b0 & 0x0f;
      if (opcode >= 0x8) {
        // Control frame (≤ 125 bytes): handle it whole, waiting for the rest if it is split.
        if (available < headerLength + payloadLength) {
          this.#pending = Buffer.from(data.subarray(i, end));
          return;
        }
        this.#control(opcode, data.subarray(i + headerLength, i + headerLength + payloadLength));
        i += headerLength + payloadLength;
        continue;
      }
      if (opcode === Opcode.BINARY && available < headerLength + Math.min(payloadLength, 5)) {
        // The msgpack array header (≤ 5 bytes) is needed to count events: wait for it.
        this.#pending = Buffer.from(data.subarray(i, end));
        return;
      }
      if (opcode !== 0) {
        // A new text or binary message (uWS does not fragment; continuation frames are not counted).
        this.frames++;
        totals.frames++;
        totals.payloadBytes += payloadLength;
        totals.events += opcode === Opcode.BINARY ? eventsIn(data, i + headerLength, payloadLength) : 1;
        if (this.#onFrame !== undefined) this.#onFrame(this);
        if (
          opcode === Opcode.BINARY &&
          (this.#trackNewestTe || (this.#watchFirstData && this.newestTeUs === 0))
        ) {
          this.#collect = Buffer.allocUnsafe(payloadLength);
          this.#collected = 0;
        }
      }
      i += headerLength;
      this.#skip = payloadLength;
    }
  }

  #seeTe(payload: Buffer): void {
    const value = unpackr.unpack(payload) as unknown;
    for (const event of Array.isArray(value) ? value : [value]) {
      const te = (event as { te?: unknown }).te;
      if (typeof te === "number" && te > this.newestTeUs) this.newestTeUs = te;
    }
  }

  #control(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.PING) {
      this.#sendControl(Opcode.PONG, Buffer.from(payload));
    } else if (opcode === Opcode.CLOSE) {
      if (this.#open) {
        this.#open = false;
        this.#sendControl(Opcode.CLOSE, Buffer.from(payload.subarray(0, 2)));
      }
      this.socket.end();
    }
  }

  #sendControl(opcode: number, payload: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    const frame = Buffer.allocUnsafe(2 + 4 + payload.length);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | payload.length;
    writeMasked(frame, 2, payload);
    this.socket.write(frame);
  }
}

/** Writes a random 4-byte masking key at `offset` and the masked payload after it. */
function writeMasked(frame: Buffer, offset: number, payload: Buffer): void {
  const mask = randomBytes(4);
  mask.copy(frame, offset);
  const start = offset + 4;
  for (let j = 0; j < payload.length; j++)
    frame[start + j] = (payload[j] as number) ^ (mask[j & 3] as number);
}

/** Events in a msgpack payload starting at `at`: the length of a top-level array, else 1. */
function eventsIn(data: Buffer, at: number, length: number): number {
  if (length === 0) return 1;
  const first = data[at] as number;
  if (first >= 0x90 && first <= 0x9f) return first & 0x0f;
  if (first === 0xdc && length >= 3) return data.readUInt16BE(at + 1);
  if (first === 0xdd && length >= 5) return data.readUInt32BE(at + 1);
  return 1;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
