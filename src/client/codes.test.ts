import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as protocol from "../protocol/index.ts";
import { CloseCode, ErrorCode, EventFlag, STREAM_PATH, Subprotocol } from "./codes.ts";
import { patternMatches } from "./pattern.ts";

// The SDK keeps its own copy of the protocol constants so the browser bundle carries no server code;
// these tests keep the copy equal to src/protocol/, the source of truth.
describe("SDK protocol constants equal src/protocol", () => {
  it("error codes, close codes, flags and subprotocols", () => {
    assert.deepEqual(ErrorCode, protocol.ErrorCode);
    assert.deepEqual(CloseCode, protocol.CloseCode);
    assert.deepEqual(EventFlag, protocol.EventFlag);
    assert.deepEqual(Subprotocol, protocol.Subprotocol);
    assert.equal(STREAM_PATH, "/v1/stream");
  });

  it("pattern matching agrees with the gateway's", () => {
    const patterns = ["xnas.AAPL.quote", "xnas.*.quote", "*.*.trade", "xnas.>", ">", "xnas.AAPL.>", "a.b"];
    const topics = ["xnas.AAPL.quote", "xnas.MSFT.trade", "binance.BTC-USDT.trade", "xlon.BP.bar"];
    for (const p of patterns)
      for (const t of topics)
        assert.equal(
          patternMatches(p.split("."), t.split(".")),
          protocol.patternMatches(p.split("."), t.split(".")),
          `${p} vs ${t}`,
        );
  });
});
