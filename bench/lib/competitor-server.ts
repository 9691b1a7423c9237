/**
 * Server process of one side-by-side competitor (bench/side-by-side.ts), fed from NATS like tickwire:
 *
 *   raw-uws   uWebSockets.js `app.publish(topic, bytes, true)`: the topic tree in C++, the ceiling
 *   ws        the `ws` library, a Map<topic, Set<socket>> and one `socket.send(bytes)` per subscriber:
 *             the fan-out most Node teams write
 *   socketio  socket.io rooms: `socket.join(topics)`, `io.to(topic).emit("md", event)`
 *
 * Each subscribes to `md.>` once, and per feed message does what a team would: decode, number the
 * topic's events, encode once (msgpack; socket.io its own JSON), fan out. raw-uws and ws read the
 * tickwire v1 subscribe request and write the same event maps, so the harness's tickwire adapter
 * drives them; socket.io needs bench/lib/adapters/socketio-adapter.ts.
 *
 *   node --import tsx lib/competitor-server.ts <raw-uws|ws|socketio> <nats-url>   (IPC: "listening" {port})
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Packr, Unpackr } from "msgpackr";
import { connect, type Msg } from "nats";
import { Server as SocketIoServer } from "socket.io";
import type { us_listen_socket, TemplatedApp } from "uWebSockets.js";
import { WebSocketServer, type WebSocket } from "ws";
import { loadUws } from "../../src/gateway/index.ts";

export type CompetitorVariant = "raw-uws" | "ws" | "socketio";
export type FromCompetitor =
  | { readonly type: "listening"; readonly port: number }
  | { readonly type: "error"; readonly message: string };

const HOST = "127.0.0.1";
const PREFIX = "md.";
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
/** Same limits as tickwire's defaults where the library has them. */
const MAX_BACKPRESSURE_BYTES = 2 * 1024 * 1024;
const MAX_MESSAGE_BYTES = 16 * 1024;

const variant = process.argv[2] as CompetitorVariant;
const natsUrl = process.argv[3] ?? "";
const seq = new Map<string, number>();
const originUs = performance.timeOrigin * 1000;

/** The tickwire event map for a feed message: e, t, q, te, ts, then the payload keys. */
function toEvent(msg: Msg): { topic: string; event: Record<string, unknown> } {
  const topic = msg.subject.slice(PREFIX.length);
  const fields = unpackr.unpack(msg.data) as Record<string, unknown>;
  const q = (seq.get(topic) ?? 0) + 1;
  seq.set(topic, q);
  const { te, x: _padding, ...payload } = fields;
  return {
    topic,
    event: {
      e: topic.slice(topic.lastIndexOf(".") + 1),
      t: topic,
      q,
      te,
      ts: Math.round(originUs + performance.now() * 1000),
      ...payload,
    },
  };
}

function subscribeReply(data: ArrayBuffer | Buffer): { id: unknown; topics: string[]; reply: Buffer } {
  const request = unpackr.unpack(Buffer.from(data as ArrayBuffer)) as {
    id: unknown;
    params: { topics: string[] };
  };
  const topics = request.params.topics;
  return {
    id: request.id,
    topics,
    reply: packr.pack({ id: request.id, result: { subscribed: topics, errors: [] } }),
  };
}

async function main(): Promise<void> {
  const nc = await connect({ servers: natsUrl, name: `bench-${variant}`, maxReconnectAttempts: 0 });
  let publish: (topic: string, event: Record<string, unknown>) => void;
  let port: number;
  let close: () => Promise<void>;
  if (variant === "raw-uws") {
    const uws = loadUws();
    const app: TemplatedApp = uws.App();
    app.ws("/*", {
      compression: uws.DISABLED,
      maxPayloadLength: MAX_MESSAGE_BYTES,
      maxBackpressure: MAX_BACKPRESSURE_BYTES,
      idleTimeout: 120,
      message: (ws, message) => {
        const { topics, reply } = subscribeReply(message);
        for (const t of topics) ws.subscribe(t);
        ws.send(reply, true);
      },
    });
    const listen = await new Promise<us_listen_socket>((resolve, reject) =>
      app.listen(HOST, 0, (s) => (s === false ? reject(new Error("raw uWS: cannot listen")) : resolve(s))),
    );
    port = uws.us_socket_local_port(listen);
    publish = (topic, event) => app.publish(topic, packr.pack(event), true, false);
    close = () => {
      uws.us_listen_socket_close(listen);
      (app as TemplatedApp & { close(): void }).close();
      return Promise.resolve();
    };
  } else if (variant === "ws") {
    const subscribers = new Map<string, Set<WebSocket>>();
    const wss = new WebSocketServer({
      host: HOST,
      port: 0,
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE_BYTES,
    });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    wss.on("connection", (ws) => {
      const mine: string[] = [];
      ws.on("message", (data: Buffer) => {
        const { topics, reply } = subscribeReply(data);
        for (const t of topics) {
          let set = subscribers.get(t);
          if (set === undefined) subscribers.set(t, (set = new Set()));
          set.add(ws);
          mine.push(t);
        }
        ws.send(reply);
      });
      ws.on("close", () => {
        for (const t of mine) subscribers.get(t)?.delete(ws);
      });
    });
    port = (wss.address() as AddressInfo).port;
    publish = (topic, event) => {
      const set = subscribers.get(topic);
      if (set === undefined) return;
      const bytes = packr.pack(event); // encoded once for every subscriber
      for (const ws of set) ws.send(bytes, { binary: true });
    };
    close = () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      });
  } else {
    const http = createServer();
    const io = new SocketIoServer(http, {
      transports: ["websocket"],
      serveClient: false,
      perMessageDeflate: false,
    });
    io.on("connection", (socket) => {
      socket.on("subscribe", (topics: string[], ack: (reply: unknown) => void) => {
        void socket.join(topics);
        ack({ subscribed: topics });
      });
    });
    await new Promise<void>((resolve) => http.listen(0, HOST, () => resolve()));
    port = (http.address() as AddressInfo).port;
    publish = (topic, event) => io.to(topic).emit("md", event);
    close = () => new Promise<void>((resolve) => void io.close(() => resolve()));
  }
  nc.subscribe(`${PREFIX}>`, {
    callback: (error, msg) => {
      if (error !== null) return;
      const { topic, event } = toEvent(msg);
      publish(topic, event);
    },
  });
  await nc.flush();
  process.send?.({ type: "listening", port } satisfies FromCompetitor);
  process.once("disconnect", () => {
    void nc
      .close()
      .then(close)
      .then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.send?.({
    type: "error",
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  } satisfies FromCompetitor);
  process.exitCode = 1;
  process.disconnect?.();
});
