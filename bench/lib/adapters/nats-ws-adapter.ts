/**
 * Load-harness adapter for nats-server's own WebSocket listener: clients speak the NATS protocol over
 * WebSocket (INFO, CONNECT, SUB, PING/PONG, MSG) and subscribe to the feed subjects directly, so the
 * events are the feed messages themselves (msgpack with the publish stamp `te`; no sequence numbers,
 * so gaps cannot be seen, only counted totals). A minimal parser, enough for this benchmark.
 */
import { Unpackr } from "msgpackr";
import type { ClientAdapter, LoadTestOptions } from "../../../loadtest/index.ts";

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const CRLF = Buffer.from("\r\n");

export function createAdapter(options: LoadTestOptions): ClientAdapter {
  const prefix = `${options.subjectPrefix}.`;
  return {
    name: "nats-ws",
    url: (target) => target,
    protocols: [],
    connection(sink, plan) {
      let buffer: Buffer = Buffer.alloc(0);
      let connected = false;
      let subscribed = false;
      const send = (text: string): void => sink.send(Buffer.from(text));
      return {
        open: () => undefined,
        message(data) {
          buffer = buffer.length === 0 ? data : Buffer.concat([buffer, data]);
          let at = 0;
          for (;;) {
            const eol = buffer.indexOf(CRLF, at);
            if (eol < 0) break;
            const line = buffer.toString("latin1", at, eol);
            if (line.startsWith("MSG ")) {
              const tokens = line.split(" ");
              const size = Number(tokens[tokens.length - 1]);
              if (buffer.length < eol + 2 + size + 2) break; // payload not all here yet
              const payload = buffer.subarray(eol + 2, eol + 2 + size);
              const fields = unpackr.unpack(payload) as { te?: unknown };
              sink.event((tokens[1] ?? "").slice(prefix.length), -1, 0, 0, Number(fields.te));
              at = eol + 2 + size + 2;
              continue;
            }
            at = eol + 2;
            if (line === "PING") send("PONG\r\n");
            else if (line === "PONG" && !subscribed) {
              subscribed = true;
              sink.subscribed();
            } else if (line.startsWith("INFO") && !connected) {
              connected = true;
              const subs = plan.patterns.map((p, i) => `SUB ${prefix}${p} ${i + 1}\r\n`).join("");
              send(
                `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":false,"no_responders":false}\r\n${subs}PING\r\n`,
              );
            } else if (line.startsWith("-ERR")) sink.error(0);
          }
          buffer = at >= buffer.length ? Buffer.alloc(0) : Buffer.from(buffer.subarray(at));
        },
      };
    },
  };
}
