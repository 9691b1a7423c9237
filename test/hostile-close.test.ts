import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HonestClient, finishThenClose } from "./helpers/honest-client.ts";
import { RawClient } from "./helpers/raw-client.ts";
import { eventually, quote, startStack, type Stack } from "./helpers/stack.ts";

/**
 * Issue 11 §2: a slow consumer closed while a snapshot storm overflows its buffer must still get 4007
 * (the close frame used to be dropped with everything past uWS's backpressure limit: 1006).
 */
describe("a close frame reaches the client even past the backpressure limit (issue 11 §2)", () => {
  const CACHED = 4000;
  let stack: Stack;
  let honest: HonestClient;

  before(async () => {
    stack = await startStack({
      // Lag probes run but only measure (maxLagMs 0): conflation on lag would keep the paused client's
      // bytes out of uWS, and this is about the byte limit; their pings obey it too (Connection.ping).
      // A snapshot is produced in steps (issue 11 §2) and a conflated connection gets no more steps, so
      // the first step (256 values, ~25 kB) must take it past the hard limit, which equals uWS's
      // backpressure limit: the close goes out with the socket over it.
      fanout: {
        slowSoftBytes: 8 * 1024,
        slowHardBytes: 16 * 1024,
        slowCloseMs: 60_000,
        heartbeatMs: 0,
        maxLagMs: 0,
      },
      gateway: { maxBackpressureBytes: 16 * 1024 },
    });
    honest = await HonestClient.start(stack, "xnas.AAPL.trade", ["xnas.*.quote"]);
    for (let i = 0; i < CACHED; i++) stack.publish(`xnas.T${i}.quote`, quote(100 + i));
    await stack.publisher.flush();
    const quotes = (): number => honest.client.events.filter((m) => m["e"] === "quote").length;
    await honest.client.until(() => quotes() >= CACHED, 20_000, "the cache filled");
  });
  after(() => finishThenClose(honest, stack));

  it("a paused client whose wildcard snapshot overflows its buffer is closed with 4007, and sees it", async () => {
    const slow = await RawClient.connect(stack.service.port);
    await slow.request("subscribe", { topics: ["xnas.MSFT.quote"], snapshot: false });
    slow.pause();
    // Fill the kernel's buffers first (they take MBs before uWS buffers a byte), until uWS buffers some.
    for (let round = 0; round < 16_000; round++) {
      for (let i = 0; i < 20; i++) stack.publish("xnas.MSFT.quote", quote(round, { bz: i }));
      // Checked every 5 rounds (~10 kB): under the 16 KiB hard limit, so it is not closed before the storm.
      if (round % 5 === 4) {
        await stack.publisher.flush();
        if ((await stack.metric("tickwire_buffered_bytes")) > 0) break;
      }
    }
    assert.equal(await stack.metric('tickwire_connections_closed_total{reason="slow_consumer"}'), 0);
    assert.ok((await stack.metric("tickwire_buffered_bytes")) > 0, "uWS buffers for the paused client");
    // The storm: a snapshot of 4000 values, its first step (256) written in the subscribe's turn.
    slow.send("subscribe", { topics: ["xnas.*.quote"], snapshot: true });
    await eventually(
      async () => (await stack.metric('tickwire_connections_closed_total{reason="slow_consumer"}')) === 1,
      "the slow-consumer close",
      10_000,
    );
    slow.resume();
    const close = await slow.closed(20_000);
    assert.equal(close.code, 4007);
    assert.match(close.reason, /retryAfterMs/);
    slow.destroy();
  });
});
