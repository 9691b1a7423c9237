import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

export type Message = Record<string, unknown>;

export interface RawClientOptions {
  /** Answer the server's pings with pongs, as every WebSocket library does (default true). */
  readonly answerPings?: boolean;
  /**
   * Read at most `bytes` from the socket every `everyMs` instead of as fast as data comes (a reader on
   * a poor link, or a script doing work per tick); the kernel buffers behind it fill up for real.
   */
  readonly throttle?: { readonly bytes: number; readonly everyMs: number };
}

/**
 * A WebSocket client written directly on a TCP socket (JSON subprotocol), so a test can stop reading
 * for real: `pause()` stops draining the socket, the kernel buffers fill, and the server sees a slow
 * consumer exactly as it would with a stalled browser tab. Nothing is mocked.
 */
export class RawClient {
  readonly messages: Message[] = [];
  /** `Date.now()` when each entry of `messages` was read, same index. */
  readonly receivedAt: number[] = [];
  /** Pings answered. */
  pongs = 0;
  close: { code: number; reason: string } | undefined;
  #buffer = Buffer.alloc(0);
  #nextId = 1;
  #waiters: (() => void)[] = [];

  #upgraded = false;
  #upgrade: { resolve: () => void; reject: (error: Error) => void } | undefined;

  readonly #answerPings: boolean;
  #throttle: NodeJS.Timeout | undefined;

  private constructor(
    readonly socket: Socket,
    options: RawClientOptions,
  ) {
    this.#answerPings = options.answerPings ?? true;
    const throttle = options.throttle;
    if (throttle === undefined) {
      socket.on("data", (chunk: Buffer) => this.#received(chunk));
    } else {
      // Paused mode: the socket stops taking from the kernel once its own small buffer is full.
      this.#throttle = setInterval(() => {
        const chunk = (socket.read(throttle.bytes) ?? socket.read()) as Buffer | null;
        if (chunk !== null) this.#received(chunk);
      }, throttle.everyMs);
    }
    socket.on("close", () => {
      clearInterval(this.#throttle);
      this.#wake();
    });
    socket.on("error", () => undefined);
  }

  static async connect(port: number, options: RawClientOptions = {}): Promise<RawClient> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new RawClient(socket, options);
    const upgraded = new Promise<void>((resolve, reject) => (client.#upgrade = { resolve, reject }));
    socket.write(
      `GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n` +
        "Sec-WebSocket-Protocol: tickwire.v1.json\r\n\r\n",
    );
    await upgraded;
    return client;
  }

  #received(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (!this.#upgraded && !this.#readUpgrade()) return;
    this.#parse();
  }

  /** Consumes the HTTP 101 response; false while it is incomplete. */
  #readUpgrade(): boolean {
    const end = this.#buffer.indexOf("\r\n\r\n");
    if (end < 0) return false;
    const head = this.#buffer.subarray(0, end).toString();
    this.#buffer = this.#buffer.subarray(end + 4);
    this.#upgraded = true;
    if (head.startsWith("HTTP/1.1 101")) this.#upgrade?.resolve();
    else this.#upgrade?.reject(new Error(`upgrade refused: ${head}`));
    return true;
  }

  /** Data events (replies, snapshot_end and heartbeats left out). */
  get events(): Message[] {
    return this.messages.filter(
      (m) => typeof m["e"] === "string" && m["e"] !== "snapshot_end" && m["e"] !== "heartbeat",
    );
  }

  /** Stops reading from the socket (the kernel buffers, then the server's, fill up). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Sends a request as a masked JSON text frame and returns its id (the reply may come later). */
  send(method: string, params?: Record<string, unknown>): number {
    const id = this.#nextId++;
    this.#write(
      0x1,
      Buffer.from(JSON.stringify({ method, id, ...(params === undefined ? {} : { params }) })),
    );
    return id;
  }

  /** Writes one masked frame (a client must mask, RFC 6455 §5.3). */
  #write(opcode: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    const mask = randomBytes(4);
    const header =
      payload.length < 126
        ? Buffer.from([0x80 | opcode, 0x80 | payload.length])
        : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  async request(method: string, params?: Record<string, unknown>, timeoutMs = 5000): Promise<Message> {
    const id = this.send(method, params);
    return this.waitFor((m) => m["id"] === id && ("result" in m || "error" in m), timeoutMs);
  }

  /** Resolves with the first message (already received or later) matching `check`. */
  async waitFor(check: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(check);
      if (found !== undefined) return found;
      if (this.close !== undefined || this.socket.destroyed) throw new Error("connection closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a message`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves with the close frame's code and reason once the server's close arrives. */
  async closed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (this.close === undefined) {
      if (Date.now() > deadline) throw new Error("no close frame");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.close;
  }

  destroy(): void {
    clearInterval(this.#throttle);
    this.socket.destroy();
  }

  #parse(): void {
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      const opcode = (b[0] as number) & 0x0f;
      let length = (b[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      const payload = b.subarray(offset, offset + length);
      this.#buffer = b.subarray(offset + length);
      if (opcode === 0x1) {
        const value = JSON.parse(payload.toString("utf8")) as Message | Message[];
        const now = Date.now();
        for (const m of Array.isArray(value) ? value : [value]) {
          this.messages.push(m);
          this.receivedAt.push(now);
        }
      } else if (opcode === 0x9) {
        if (this.#answerPings) {
          this.#write(0xa, Buffer.from(payload));
          this.pongs++;
        }
      } else if (opcode === 0x8) {
        this.close = {
          code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005,
          reason: payload.subarray(2).toString("utf8"),
        };
        this.socket.end();
      }
      this.#wake();
    }
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
