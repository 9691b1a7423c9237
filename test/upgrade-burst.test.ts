import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { HTTP_RESPONSES_PER_TURN } from "../src/gateway/http-respond.ts";
import { STREAM_PATH } from "../src/protocol/index.ts";
import { startStack, type Stack } from "./helpers/stack.ts";

/**
 * Issue 14: a burst of WebSocket upgrades (100,000 clients connecting to one machine) is never refused by
 * the per-turn HTTP budget (http-respond.ts), which bounds plain HTTP requests only: every upgrade of a
 * burst larger than the budget is answered 101, also while a pipelined /metrics flood spends the budget
 * in the same turns.
 */

const BURST = 4 * HTTP_RESPONSES_PER_TURN;

/** Opens `count` TCP connections; resolves once every one is connected. */
async function sockets(port: number, count: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, "127.0.0.1");
          socket.once("connect", () => resolve(socket));
          socket.once("error", reject);
        }),
    ),
  );
}

/** The status line of the first response on `socket`, or what ended it (bounded: a hang fails). */
function statusLine(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const timer = setTimeout(() => resolve(`no answer within 10 s: ${JSON.stringify(text)}`), 10_000);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const end = text.indexOf("\r\n");
      if (end >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, end));
      }
    });
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(`closed before an answer: ${JSON.stringify(text)}`);
    });
    socket.on("error", () => undefined);
  });
}

function upgradeRequest(): string {
  return (
    `GET ${STREAM_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

describe("an upgrade burst past the per-turn HTTP budget (issue 14)", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it(`answers all ${BURST} upgrades written at once with 101, also while a /metrics flood spends the budget`, async () => {
    const port = stack.service.port;
    const refusedBefore = await stack.metric("tickwire_http_requests_refused_total");
    const clients = await sockets(port, BURST);
    const flood = (await sockets(port, 1))[0] as Socket;
    flood.on("error", () => undefined);
    flood.on("data", () => undefined);
    const answers = clients.map(statusLine);
    // Everything in one synchronous loop: the requests reach the gateway in the same few event-loop turns,
    // the /metrics pipeline first, so that the turn's HTTP budget is spent when the upgrades are read.
    flood.write(`GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(2 * HTTP_RESPONSES_PER_TURN));
    for (const socket of clients) socket.write(upgradeRequest());
    const lines = await Promise.all(answers);
    const refused = lines.filter((line) => !line.startsWith("HTTP/1.1 101"));
    assert.deepEqual(refused, [], `${refused.length} of ${BURST} upgrades not answered 101`);
    assert.ok(
      (await stack.metric("tickwire_http_requests_refused_total")) > refusedBefore,
      "the flood did spend the budget (its requests past it were refused)",
    );
    assert.equal(await stack.metric("tickwire_connections"), BURST, "every upgraded connection is held");
    for (const socket of [...clients, flood]) socket.destroy();
  });
});
