import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { startStack, type Stack } from "./helpers/stack.ts";

/** What a raw TCP client saw after the upgrade: the HTTP status line, then the bytes until the TCP close. */
interface Seen {
  readonly status: string;
  readonly subprotocol: string | undefined;
  /** Bytes after the 101 response, hex (a close frame is `88 LL CODE…`). */
  readonly after: string;
}

/** Upgrades over raw TCP with `protocolLines` (one header line each), then sends `frame` and reads to the end. */
async function raw(port: number, protocolLines: readonly string[], frame: Buffer | undefined): Promise<Seen> {
  const socket = connect(port, "127.0.0.1");
  let buffer = Buffer.alloc(0);
  let head: string | undefined;
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => undefined);
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (head !== undefined) return;
    const end = buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    head = buffer.subarray(0, end).toString();
    buffer = buffer.subarray(end + 4);
    if (!head.startsWith("HTTP/1.1 101") || frame === undefined) socket.end();
    else socket.write(frame);
  });
  socket.write(
    `GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n` +
      protocolLines.map((p) => `Sec-WebSocket-Protocol: ${p}\r\n`).join("") +
      "\r\n",
  );
  await closed;
  const lines = (head ?? "").split("\r\n");
  const protocol = lines.find((l) => l.toLowerCase().startsWith("sec-websocket-protocol:"));
  // Heartbeats may come before the server reacts: keep only what follows the last data frame.
  return {
    status: lines[0] ?? "",
    subprotocol: protocol?.slice(protocol.indexOf(":") + 1).trim(),
    after: closeFrameOf(buffer),
  };
}

/** The close frame among the server's frames, hex, or "" when the TCP connection ended without one. */
function closeFrameOf(bytes: Buffer): string {
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      start += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at + 2));
      start += 8;
    }
    if (opcode === 8) return bytes.subarray(at, start + length).toString("hex");
    at = start + length;
  }
  return "";
}

/** A masked client frame. */
function frame(opcode: number, payload: Buffer, options: { fin?: boolean; rsv1?: boolean } = {}): Buffer {
  const mask = randomBytes(4);
  const first = (options.fin === false ? 0 : 0x80) | (options.rsv1 === true ? 0x40 : 0) | opcode;
  const length =
    payload.length < 126 ? [0x80 | payload.length] : [0x80 | 126, payload.length >> 8, payload.length & 0xff];
  const body = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  return Buffer.concat([Buffer.from([first, ...length]), mask, body]);
}
const closeCode = (code: number): Buffer => Buffer.from([code >> 8, code & 0xff]);

describe("WebSocket edges (issue 10 §6), raw TCP against the real gateway", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it("two Sec-WebSocket-Protocol lines are one list (RFC 6455 §11.3.4): foo, then tickwire.v1.json is accepted", async () => {
    const seen = await raw(stack.service.port, ["foo", "tickwire.v1.json"], undefined);
    assert.equal(seen.status, "HTTP/1.1 101 Switching Protocols");
    assert.equal(seen.subprotocol, "tickwire.v1.json");
    const refused = await raw(stack.service.port, ["foo", "bar"], undefined);
    assert.match(refused.status, /^HTTP\/1.1 400/);
  });

  it("a text frame with invalid UTF-8: the TCP connection is dropped without a close frame (1006), counted", async () => {
    const before = await stack.metric('tickwire_client_protocol_faults_total{reason="invalid_utf8"}');
    const seen = await raw(stack.service.port, ["tickwire.v1.json"], frame(1, Buffer.from([0xc3, 0x28])));
    assert.equal(seen.after, "", "no close frame");
    assert.equal(
      await stack.metric('tickwire_client_protocol_faults_total{reason="invalid_utf8"}'),
      before + 1,
    );
  });

  for (const code of [999, 5000, 1005]) {
    it(`a close frame with the invalid code ${code} is answered with an empty close frame (the client sees 1005)`, async () => {
      const seen = await raw(stack.service.port, ["tickwire.v1.json"], frame(8, closeCode(code)));
      assert.equal(seen.after, "8800");
    });
  }

  const dropped: [string, Buffer][] = [
    ["a 126-byte ping", frame(9, Buffer.alloc(126))],
    ["a fragmented ping", frame(9, Buffer.from("ab"), { fin: false })],
    ["reserved opcode 0x3", frame(3, Buffer.from("x"))],
    ["RSV1 set without an extension", frame(1, Buffer.from("{}"), { rsv1: true })],
  ];
  for (const [what, bytes] of dropped) {
    it(`${what}: the TCP connection is dropped without a close frame (the client sees 1006)`, async () => {
      const seen = await raw(stack.service.port, ["tickwire.v1.json"], bytes);
      assert.equal(seen.status, "HTTP/1.1 101 Switching Protocols");
      assert.equal(seen.after, "");
    });
  }

  it("a valid close (1000) is echoed with 1000", async () => {
    const seen = await raw(stack.service.port, ["tickwire.v1.json"], frame(8, closeCode(1000)));
    assert.equal(seen.after, "880203e8");
  });
});
