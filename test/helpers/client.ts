import { Packr, Unpackr } from "msgpackr";
import WebSocket from "ws";

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const packr = new Packr({ useRecords: false });

export type Message = Record<string, unknown>;

/** A real WebSocket client (the `ws` library) that decodes every frame and records it. */
export class TestClient {
  readonly messages: Message[] = [];
  readonly frames: { binary: boolean; size: number }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** How the connection closed, once it has (code and reason), for failure messages. */
  closeInfo: { code: number; reason: string } | undefined;
  /** Errors `ws` reported after the connection opened (a protocol fault it saw in a server frame). */
  readonly errors: Error[] = [];
  #nextId = 1;
  #waiters: { check: () => boolean; resolve: () => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) =>
      ws.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      }),
    );
    ws.on("message", (data: Buffer, isBinary) => {
      this.frames.push({ binary: isBinary, size: data.length });
      const value: unknown = isBinary ? unpackr.unpack(data) : JSON.parse(data.toString("utf8"));
      for (const m of Array.isArray(value) ? value : [value]) this.messages.push(m as Message);
      this.#wake();
    });
    ws.on("close", () => this.#wake());
    // From the start: a fault in a frame that arrived with the handshake's response is reported in the
    // same turn as "open", before connect() resolves.
    ws.on("error", (error) => this.errors.push(error));
  }

  /**
   * Connects with the given subprotocols (none: the server's default, msgpack); `options` go to `ws`
   * (e.g. `ca` for a wss test certificate).
   */
  static async connect(
    url: string,
    protocols: string[] = [],
    options: WebSocket.ClientOptions = {},
  ): Promise<TestClient> {
    const ws = new WebSocket(url, protocols, { ...options, perMessageDeflate: false });
    // Listening before "open": a frame the server sends on open can arrive with the handshake's response.
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return client;
  }

  /** Data events (snapshot_end and heartbeats left out). */
  get events(): Message[] {
    return this.messages.filter(
      (m) =>
        typeof m["e"] === "string" &&
        m["e"] !== "snapshot_end" &&
        m["e"] !== "heartbeat" &&
        m["e"] !== "feed",
    );
  }

  get heartbeats(): Message[] {
    return this.messages.filter((m) => m["e"] === "heartbeat");
  }

  /** Sends a request and resolves with its reply (matched by id). */
  async request(
    method: string,
    params?: Record<string, unknown>,
    binary = this.ws.protocol !== "tickwire.v1.json",
  ): Promise<Message> {
    const id = this.#nextId++;
    this.send({ method, id, ...(params === undefined ? {} : { params }) }, binary);
    return this.waitFor((m) => m["id"] === id && ("result" in m || "error" in m));
  }

  /** Sends a message encoded as msgpack (binary) or JSON (text). */
  send(value: unknown, binary: boolean): void {
    if (binary) this.ws.send(Buffer.from(packr.pack(value)), { binary: true });
    else this.ws.send(JSON.stringify(value), { binary: false });
  }

  sendRaw(data: Buffer | string, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  /** Resolves with the first recorded message matching `match` (already received or future). */
  async waitFor(match: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    let found: Message | undefined;
    await this.until(
      () => (found = this.messages.find(match)) !== undefined,
      timeoutMs,
      "a matching message",
    );
    return found as Message;
  }

  /** Waits until `check` holds, re-checking on every frame and on close. */
  async until(check: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          if (check()) resolve();
          else
            reject(
              new Error(
                `connection closed (${JSON.stringify(this.closeInfo)}${this.errors.map((e) => `; ws error: ${e.message}`).join("")}) while waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}`,
              ),
            );
        },
      };
      this.#waiters.push(waiter);
    });
  }

  async subscribe(topics: string[], snapshot = false): Promise<Message> {
    return this.request("subscribe", { topics, snapshot });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    await this.closed;
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.check() || this.ws.readyState === WebSocket.CLOSED) {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        waiter.resolve();
      }
    }
  }
}
