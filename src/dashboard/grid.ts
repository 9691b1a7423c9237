import { EventFlag, type QuoteEvent, type TradeEvent } from "../client/index.ts";

const SPARK_POINTS = 60;
const SPARK_W = 90;
const SPARK_H = 20;
const FLASH_MS = 500;

/** One symbol (`venue.symbol`) on screen; fields are plain numbers, the DOM is written in {@link Grid.render}. */
interface Row {
  readonly key: string;
  readonly tr: HTMLTableRowElement;
  readonly cells: HTMLTableCellElement[];
  readonly canvas: HTMLCanvasElement;
  bid: number;
  ask: number;
  last: number;
  /** First price seen this session: the reference of "change". */
  ref: number;
  updates: number;
  ratePerSec: number;
  /** Price samples for the sparkline, oldest first. */
  readonly spark: number[];
  sparkDirty: boolean;
  /** Per cell: +1 up, -1 down flash pending or shown, and when it ends. */
  readonly flash: { dir: number; untilMs: number }[];
}

/**
 * The live grid. Events only update numbers in memory and mark the row dirty; DOM writes happen once
 * per animation frame for the dirty rows, so hundreds of rows at hundreds of updates per second cost
 * one layout per frame, not one per event.
 */
export class Grid {
  readonly #rows = new Map<string, Row>();
  readonly #dirty = new Set<Row>();
  readonly #flashing = new Set<Row>();

  constructor(private readonly tbody: HTMLTableSectionElement) {}

  get size(): number {
    return this.#rows.size;
  }

  quote(event: QuoteEvent): void {
    const row = this.#row(event.t);
    this.#stale(row, event.f);
    this.#set(row, 1, "bid", event.bp);
    this.#set(row, 2, "ask", event.ap);
    if (Number.isNaN(row.ref)) row.ref = (event.bp + event.ap) / 2;
    row.updates++;
    this.#dirty.add(row);
  }

  trade(event: TradeEvent): void {
    const row = this.#row(event.t);
    this.#stale(row, event.f);
    this.#set(row, 3, "last", event.p);
    if (Number.isNaN(row.ref)) row.ref = event.p;
    row.updates++;
    this.#dirty.add(row);
  }

  /** Once a second: per-row update rate and a sparkline sample. */
  sample(): void {
    for (const row of this.#rows.values()) {
      row.ratePerSec = row.updates;
      row.updates = 0;
      const price = priceOf(row);
      if (!Number.isNaN(price)) {
        row.spark.push(price);
        if (row.spark.length > SPARK_POINTS) row.spark.shift();
        row.sparkDirty = true;
      }
      this.#dirty.add(row);
    }
  }

  /** Removes the rows for which `keep` says no (their topics are no longer watched). */
  prune(keep: (key: string) => boolean): void {
    for (const [key, row] of this.#rows) {
      if (keep(key)) continue;
      row.tr.remove();
      this.#rows.delete(key);
      this.#dirty.delete(row);
      this.#flashing.delete(row);
    }
  }

  /** Writes dirty rows and ends expired flashes; call once per animation frame. */
  render(nowMs: number): void {
    for (const row of this.#dirty) {
      const c = row.cells;
      text(c[1], fmt(row.bid));
      text(c[2], fmt(row.ask));
      text(c[3], fmt(row.last));
      const price = priceOf(row);
      const change = price - row.ref;
      if (!Number.isNaN(change)) {
        const sign = change >= 0 ? "+" : "";
        text(c[4], `${sign}${fmt(change, digitsFor(price))} (${((100 * change) / row.ref).toFixed(2)}%)`);
        (c[4] as HTMLTableCellElement).className = change > 0 ? "up" : change < 0 ? "down" : "";
      }
      text(c[5], String(row.ratePerSec));
      if (row.sparkDirty) drawSpark(row);
      for (let i = 1; i <= 3; i++) {
        const f = row.flash[i] as { dir: number; untilMs: number };
        if (f.dir !== 0 && f.untilMs === 0) {
          f.untilMs = nowMs + FLASH_MS;
          (c[i] as HTMLTableCellElement).className = f.dir > 0 ? "flash-up" : "flash-down";
          this.#flashing.add(row);
        }
      }
    }
    this.#dirty.clear();
    for (const row of this.#flashing) {
      let active = false;
      for (let i = 1; i <= 3; i++) {
        const f = row.flash[i] as { dir: number; untilMs: number };
        if (f.dir === 0) continue;
        if (f.untilMs <= nowMs) {
          f.dir = 0;
          f.untilMs = 0;
          (row.cells[i] as HTMLTableCellElement).className = "";
        } else active = true;
      }
      if (!active) this.#flashing.delete(row);
    }
  }

  #set(row: Row, cell: number, field: "bid" | "ask" | "last", value: number): void {
    const before = row[field];
    row[field] = value;
    if (Number.isNaN(before) || before === value) return;
    // A new move restarts the flash.
    row.flash[cell] = { dir: value > before ? 1 : -1, untilMs: 0 };
  }

  /** A STALE snapshot greys its row out until a live value of the row arrives. */
  #stale(row: Row, flags: number | undefined): void {
    row.tr.classList.toggle("stale", ((flags ?? 0) & EventFlag.STALE) !== 0);
  }

  #row(topic: string): Row {
    const key = topic.slice(0, topic.lastIndexOf("."));
    let row = this.#rows.get(key);
    if (row !== undefined) return row;
    const tr = document.createElement("tr");
    tr.dataset["key"] = key;
    const cells: HTMLTableCellElement[] = [];
    for (let i = 0; i < 7; i++) cells.push(tr.insertCell());
    (cells[0] as HTMLTableCellElement).textContent = key;
    const canvas = document.createElement("canvas");
    canvas.width = SPARK_W;
    canvas.height = SPARK_H;
    (cells[6] as HTMLTableCellElement).append(canvas);
    row = {
      key,
      tr,
      cells,
      canvas,
      bid: NaN,
      ask: NaN,
      last: NaN,
      ref: NaN,
      updates: 0,
      ratePerSec: 0,
      spark: [],
      sparkDirty: false,
      flash: Array.from({ length: 4 }, () => ({ dir: 0, untilMs: 0 })),
    };
    this.#rows.set(key, row);
    // Sorted by key: insert before the first row that sorts after it.
    let after: Row | undefined;
    for (const other of this.#rows.values())
      if (other.key > key && (after === undefined || other.key < after.key)) after = other;
    this.tbody.insertBefore(tr, after?.tr ?? null);
    return row;
  }
}

function priceOf(row: Row): number {
  return Number.isNaN(row.last) ? (row.bid + row.ask) / 2 : row.last;
}

function text(cell: HTMLTableCellElement | undefined, value: string): void {
  if (cell !== undefined && cell.textContent !== value) cell.textContent = value;
}

/** Decimals for a price: cents from 1 up, four below (crypto pairs under a dollar). */
function digitsFor(price: number): number {
  return Math.abs(price) >= 1 ? 2 : 4;
}

function fmt(value: number, digits = digitsFor(value)): string {
  if (Number.isNaN(value)) return "";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function drawSpark(row: Row): void {
  row.sparkDirty = false;
  const ctx = row.canvas.getContext("2d");
  const points = row.spark;
  if (ctx === null || points.length < 2) return;
  let min = Infinity;
  let max = -Infinity;
  for (const p of points) {
    if (p < min) min = p;
    if (p > max) max = p;
  }
  const span = max - min || 1;
  ctx.clearRect(0, 0, SPARK_W, SPARK_H);
  ctx.lineWidth = 1.2;
  ctx.strokeStyle = (points.at(-1) as number) >= (points[0] as number) ? "#a3be8c" : "#bf616a";
  ctx.beginPath();
  points.forEach((p, i) => {
    const x = (i / (points.length - 1)) * (SPARK_W - 2) + 1;
    const y = SPARK_H - 2 - ((p - min) / span) * (SPARK_H - 4);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
}
