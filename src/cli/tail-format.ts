import type { MarketEvent } from "../client/index.ts";
import type { TailFormat } from "../config/index.ts";

/**
 * The CSV columns, the same as the Python client's CSV example (examples/python/ticks_to_csv.py): receive
 * time, then every key a data event may carry in wire order, named for a spreadsheet (one header for mixed
 * types; times in integer µs; `lat_ms` appended with --latency).
 */
export const CSV_COLUMNS = [
  "recv_us", "topic", "type", "q", "te_us", "ts_us", "flags", "n",
  "p", "z", "bp", "bz", "ap", "az", "o", "h", "l", "c", "v",
] as const; // prettier-ignore

/** The event key of each CSV column after `recv_us`. */
const CSV_KEYS = ["t", "e", "q", "te", "ts", "f", "n", "p", "z", "bp", "bz", "ap", "az", "o", "h", "l", "c", "v"] as const; // prettier-ignore

/** Turns events into lines of one output format. */
export interface LineFormatter {
  /** The first line (CSV and table headers), or undefined. */
  header(): string | undefined;
  /**
   * One line, without the newline. `latencyMs` is set when `--latency` is on; `receivedMicros` is when the
   * frame arrived (integer µs since the epoch).
   */
  line(event: MarketEvent, latencyMs: number | undefined, receivedMicros?: number): string;
}

export function formatterFor(format: TailFormat, latency: boolean): LineFormatter {
  switch (format) {
    case "jsonl":
      return {
        header: () => undefined,
        line: (event, latencyMs) =>
          JSON.stringify(latencyMs === undefined ? event : { ...event, lat_ms: latencyMs }),
      };
    case "csv":
      return {
        header: () => [...CSV_COLUMNS, ...(latency ? ["lat_ms"] : [])].join(","),
        line: (event, latencyMs, receivedMicros) => {
          const record = event as unknown as Record<string, unknown>;
          const received = receivedMicros === undefined ? "" : String(Math.trunc(receivedMicros));
          const cells = [received, ...CSV_KEYS.map((key) => csvCell(record[key]))];
          if (latency) cells.push(latencyMs === undefined ? "" : String(latencyMs));
          return cells.join(",");
        },
      };
    case "table":
      return tableFormatter(latency);
  }
}

function csvCell(value: unknown): string {
  if (typeof value !== "number" && typeof value !== "string") return "";
  const text = String(value);
  // Topics cannot hold these characters today; quoting keeps the CSV valid if a future key can.
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const WIDTHS = { time: 12, topic: 26, q: 9, flags: 3 } as const;

/**
 * A human table for a terminal: one aligned row per event, the venue time in UTC, and the payload of
 * each type in its own words (bid/ask, last/size, OHLCV).
 */
function tableFormatter(latency: boolean): LineFormatter {
  return {
    header: () =>
      [
        "time (UTC)".padEnd(WIDTHS.time),
        "topic".padEnd(WIDTHS.topic),
        "q".padStart(WIDTHS.q),
        "fl".padEnd(WIDTHS.flags),
        "values",
        ...(latency ? ["  latency"] : []),
      ].join(" "),
    line: (event, latencyMs) => {
      const f = event.f ?? 0;
      const flags = (f & 1 ? "S" : "") + (f & 2 ? `C` : "");
      return [
        new Date(event.te / 1000).toISOString().slice(11, 23).padEnd(WIDTHS.time),
        event.t.padEnd(WIDTHS.topic),
        String(event.q).padStart(WIDTHS.q),
        flags.padEnd(WIDTHS.flags),
        payload(event) + (latency && latencyMs !== undefined ? `  ${latencyMs.toFixed(3)} ms` : ""),
      ].join(" ");
    },
  };
}

function payload(event: MarketEvent): string {
  switch (event.e) {
    case "quote":
      return `bid ${num(event.bp)} × ${event.bz}  ask ${num(event.ap)} × ${event.az}`;
    case "trade":
      return `last ${num(event.p)}  size ${event.z}`;
    case "bar":
      return `o ${num(event.o)}  h ${num(event.h)}  l ${num(event.l)}  c ${num(event.c)}  v ${event.v}`;
  }
}

function num(value: number): string {
  return value.toFixed(Math.abs(value) >= 1000 ? 2 : 4).padStart(11);
}

/** Milliseconds between the venue time `te` (µs) and `nowUs`, to the microsecond. */
export function latencyMs(teUs: number, nowUs: number): number {
  return Math.round(nowUs - teUs) / 1000;
}
