import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { eventually, natsSubscriptionsOfGateway, quote, startStack, trade } from "./helpers/stack.ts";

// Debian's python3-websockets and python3-msgpack install for /usr/bin/python3 (PERF-NOTES.md).
const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("../examples/python/subscribe.py", import.meta.url));

describe("Python client (examples/python, standard msgpack library)", () => {
  it("subscribes and decodes frames with the standard msgpack library: frames are plain msgpack", async () => {
    const stack = await startStack();
    try {
      const child = spawn(
        PYTHON,
        [SCRIPT, "--url", stack.wsUrl, "--count", "6", "xnas.AAPL.quote", "binance.*.trade"],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      await eventually(async () => {
        const subs = await natsSubscriptionsOfGateway(stack.nats);
        return subs.includes("md.xnas.AAPL.quote") && subs.includes("md.binance.*.trade");
      }, `the Python client's subscription (stderr: ${stderr})`);
      const te = Date.now() * 1000;
      for (let i = 0; i < 3; i++) {
        stack.publish("xnas.AAPL.quote", { ...quote(228 + i), te: te + i });
        stack.publish("binance.BTC-USDT.trade", { ...trade(96000.5 + i, 2), te: te + i });
      }
      assert.equal(await exited, 0, stderr);
      const events = stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(events.length, 6);
      const quotes = events.filter((e) => e["e"] === "quote");
      assert.deepEqual(
        quotes.map((e) => [e["t"], e["q"], e["bp"], e["te"]]),
        [0, 1, 2].map((i) => ["xnas.AAPL.quote", i + 1, 228 + i, te + i]),
      );
      // Python printed te as an integer: the µs timestamps travel as msgpack uint64, not floats.
      assert.match(stdout, new RegExp(`"te": ${te}[,}]`));
      assert.equal(events.filter((e) => e["e"] === "trade" && e["p"] === 96000.5).length, 1);
      assert.equal(stderr.includes("gap"), false);
    } finally {
      await stack.close();
    }
  });
});
