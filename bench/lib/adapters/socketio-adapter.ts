/**
 * Load-harness adapter for the socket.io competitor: the Engine.IO v4 / Socket.IO v5 wire protocol
 * over the harness's own `ws` clients (so every target is driven by the same client code), enough for
 * `subscribe` with an ack and `md` events: `0{…}` open → `40` connect → `420["subscribe",[…]]` →
 * `430[…]` ack; `2` ping → `3` pong; `42["md",{event}]`.
 */
import type { ClientAdapter, LoadTestOptions } from "../../../loadtest/index.ts";

export function createAdapter(_options: LoadTestOptions): ClientAdapter {
  return {
    name: "socket.io",
    url: (target) => {
      const url = new URL(target);
      url.pathname = "/socket.io/";
      url.search = "?EIO=4&transport=websocket";
      return url.href;
    },
    protocols: [],
    connection(sink, plan) {
      return {
        open: () => undefined,
        message(data) {
          const text = data.toString("utf8");
          if (text.startsWith("42")) {
            const [name, event] = JSON.parse(text.slice(2)) as [string, Record<string, unknown>];
            if (name === "md" && typeof event["t"] === "string")
              sink.event(
                event["t"],
                Number(event["q"] ?? -1),
                Number(event["f"] ?? 0),
                Number(event["n"] ?? 0),
                Number(event["te"]),
              );
          } else if (text === "2") sink.send("3");
          else if (text.startsWith("0")) sink.send("40");
          else if (text.startsWith("40")) sink.send(`420${JSON.stringify(["subscribe", plan.patterns])}`);
          else if (text.startsWith("430")) sink.subscribed();
          else if (text.startsWith("44")) sink.error(4000);
        },
      };
    },
  };
}
