import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { MarketEvent } from "../client/index.ts";
import { CSV_COLUMNS, formatterFor, latencyMs } from "./tail-format.ts";

const quote = {
  e: "quote",
  t: "xnas.AAPL.quote",
  q: 17,
  te: 1795530600123456,
  ts: 1795530600125329,
  bp: 231.44,
  bz: 300,
  ap: 231.46,
  az: 200,
} as MarketEvent;
const trade = { e: "trade", t: "xnas.AAPL.trade", q: 3, te: 1795530600123456, ts: 1795530600125329, f: 1, p: 231.45, z: 100 } as MarketEvent; // prettier-ignore

describe("tail output formats", () => {
  it("jsonl: the event as received, lat_ms appended when asked", () => {
    const jsonl = formatterFor("jsonl", true);
    assert.equal(jsonl.header(), undefined);
    assert.deepEqual(JSON.parse(jsonl.line(quote, 1.5)), { ...quote, lat_ms: 1.5 });
    assert.equal(formatterFor("jsonl", false).line(quote, undefined), JSON.stringify(quote));
  });

  it("csv: one header for every type, receive time first, empty cells for keys an event does not have", () => {
    const csv = formatterFor("csv", false);
    assert.equal(csv.header(), CSV_COLUMNS.join(","));
    assert.equal(
      csv.line(quote, undefined, 1795530600126000.7),
      "1795530600126000,xnas.AAPL.quote,quote,17,1795530600123456,1795530600125329,,,,,231.44,300,231.46,200,,,,,",
    );
    assert.equal(
      csv.line(trade, undefined, 1795530600126000),
      "1795530600126000,xnas.AAPL.trade,trade,3,1795530600123456,1795530600125329,1,,231.45,100,,,,,,,,,",
    );
    const withLatency = formatterFor("csv", true);
    assert.ok(withLatency.header()?.endsWith(",v,lat_ms"));
    assert.ok(withLatency.line(quote, 2.25, 1).endsWith(",,2.25"));
  });

  it("csv: the columns are those of the Python client's CSV example", () => {
    const script = readFileSync(new URL("../../examples/python/ticks_to_csv.py", import.meta.url), "utf8");
    const tuple = (name: string): string[] =>
      [...(new RegExp(`^${name} = \\(([^)]*)\\)`, "m").exec(script)?.[1] ?? "").matchAll(/"([^"]+)"/g)].map(
        (m) => m[1] as string,
      );
    const python = [...tuple("COLUMNS"), ...tuple("PAYLOAD_KEYS")];
    assert.equal(python.length, 19, "read the Python columns");
    assert.deepEqual([...CSV_COLUMNS], python);
  });

  it("table: aligned columns with the venue time, flags and the payload in words", () => {
    const table = formatterFor("table", true);
    assert.match(table.header() ?? "", /^time \(UTC\)\s+topic\s+q fl\s+values\s+latency$/);
    const line = table.line(trade, 0.75);
    assert.match(
      line,
      /^14:30:00\.123\s+xnas\.AAPL\.trade\s+3 S\s+last\s+231\.4500 {2}size 100 {2}0\.750 ms$/,
    );
    assert.match(table.line(quote, undefined), /bid\s+231\.4400 × 300 {2}ask\s+231\.4600 × 200/);
  });

  it("latency is receive time minus venue time, in ms", () => {
    assert.equal(latencyMs(1_000_000, 1_002_500), 2.5);
  });
});
