import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import type { TemplatedApp, WebSocket, us_listen_socket } from "uWebSockets.js";
import { SendResult } from "../src/fanout/index.ts";
import { loadUws, type Uws } from "../src/gateway/index.ts";

/** The socket's backpressure limit in this test: small, so `send` reaches DROPPED after a few frames. */
const MAX_BACKPRESSURE_BYTES = 64 * 1024;
const FRAME = new Uint8Array(16 * 1024).fill(7);
/** Enough frames to fill both kernel buffers of a loopback connection (a few MB) many times over. */
const MAX_FRAMES = 20_000;

/**
 * SendResult against the real uWebSockets.js binding (issue 9): a real uWS app on port 0 and a raw TCP
 * client that completes the WebSocket handshake and then stops reading, so the kernel buffers fill, uWS
 * buffers the rest, and `send` goes from sent to backpressure to dropped.
 */
describe("SendResult matches uWebSockets.js's WebSocket.send", () => {
  let uws: Uws;
  let app: TemplatedApp;
  let listenSocket: us_listen_socket | undefined;
  let port = 0;
  let opened: Promise<WebSocket<unknown>>;
  let client: Socket | undefined;

  before(async () => {
    uws = loadUws();
    app = uws.App();
    let resolveOpened: (ws: WebSocket<unknown>) => void = () => undefined;
    opened = new Promise((resolve) => (resolveOpened = resolve));
    app.ws("/*", {
      compression: uws.DISABLED,
      maxBackpressure: MAX_BACKPRESSURE_BYTES,
      closeOnBackpressureLimit: 0,
      idleTimeout: 0,
      open: (ws) => resolveOpened(ws),
    });
    await new Promise<void>((resolve, reject) =>
      app.listen("127.0.0.1", 0, (socket) => {
        if (socket === false) {
          reject(new Error("uWS did not listen on 127.0.0.1:0"));
          return;
        }
        listenSocket = socket;
        port = uws.us_socket_local_port(socket);
        resolve();
      }),
    );
  });

  after(() => {
    client?.destroy();
    if (listenSocket !== undefined) uws.us_listen_socket_close(listenSocket);
    // `close()` exists in uWS 20.30 but is missing from its typings (as in src/gateway/server.ts).
    (app as TemplatedApp & { close(): void }).close();
  });

  it("returns SENT (1) while the client reads, then BACKPRESSURE (0) once bytes stay buffered, then DROPPED (2) past maxBackpressure", async () => {
    const socket = connect(port, "127.0.0.1");
    client = socket;
    await once(socket, "connect");
    socket.write(
      "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const [response] = (await once(socket, "data")) as [Buffer];
    assert.match(response.toString("latin1"), /^HTTP\/1\.1 101 /);
    const ws = await opened;

    // The client still reads: a small frame goes straight to the kernel.
    assert.equal(ws.send(new Uint8Array(8), true, false), SendResult.SENT);
    assert.equal(ws.getBufferedAmount(), 0);

    // From now on the client reads nothing.
    socket.pause();
    const results: number[] = [];
    let result: number = SendResult.SENT;
    while (result !== SendResult.DROPPED && results.length < MAX_FRAMES) {
      result = ws.send(FRAME, true, false);
      results.push(result);
    }
    const firstBackpressure = results.indexOf(SendResult.BACKPRESSURE);
    assert.ok(firstBackpressure >= 0, `no BACKPRESSURE among ${results.length} results`);
    assert.deepEqual(new Set(results.slice(0, firstBackpressure)), new Set([SendResult.SENT]));
    assert.equal(results.at(-1), SendResult.DROPPED, `not dropped after ${results.length} frames`);
    const firstDropped = results.indexOf(SendResult.DROPPED);
    assert.deepEqual(
      new Set(results.slice(firstBackpressure, firstDropped)),
      new Set([SendResult.BACKPRESSURE]),
    );
    assert.ok(ws.getBufferedAmount() > MAX_BACKPRESSURE_BYTES - FRAME.length);
    ws.end(1000, "done");
  });
});
