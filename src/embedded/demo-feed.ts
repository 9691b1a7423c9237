/**
 * Demo market: random-walk quotes, trades and 1-second bars for 50 symbols on three venues. Pure:
 * produces feed messages (subject suffix and fields); the composition root publishes them.
 */
export const DEMO_SYMBOLS: Readonly<Record<string, readonly (readonly [string, number])[]>> = {
  xnas: [
    ["AAPL", 228],
    ["MSFT", 415],
    ["NVDA", 135],
    ["AMZN", 205],
    ["GOOGL", 178],
    ["META", 560],
    ["TSLA", 340],
    ["AVGO", 170],
    ["COST", 910],
    ["NFLX", 880],
    ["AMD", 140],
    ["PEP", 160],
    ["ADBE", 510],
    ["CSCO", 58],
    ["INTC", 23],
    ["QCOM", 160],
    ["TXN", 200],
    ["AMAT", 175],
    ["INTU", 660],
    ["PYPL", 85],
  ],
  xlon: [
    ["SHEL", 2600],
    ["AZN", 10400],
    ["HSBA", 720],
    ["ULVR", 4600],
    ["BP", 390],
    ["GSK", 1350],
    ["RIO", 4900],
    ["BARC", 270],
    ["LLOY", 55],
    ["VOD", 70],
  ],
  binance: [
    ["BTC-USDT", 96000],
    ["ETH-USDT", 3400],
    ["SOL-USDT", 240],
    ["BNB-USDT", 640],
    ["XRP-USDT", 1.4],
    ["ADA-USDT", 0.9],
    ["DOGE-USDT", 0.38],
    ["AVAX-USDT", 42],
    ["DOT-USDT", 8.5],
    ["LINK-USDT", 19],
    ["LTC-USDT", 95],
    ["TRX-USDT", 0.2],
    ["ATOM-USDT", 7.2],
    ["NEAR-USDT", 6.1],
    ["UNI-USDT", 12],
    ["APT-USDT", 11],
    ["ARB-USDT", 0.9],
    ["OP-USDT", 2.1],
    ["FIL-USDT", 5.4],
    ["ETC-USDT", 27],
  ],
};

export interface DemoMessage {
  /** Topic, i.e. the subject without its prefix. */
  readonly topic: string;
  readonly fields: Readonly<Record<string, number>>;
}

interface Instrument {
  readonly venue: string;
  readonly symbol: string;
  readonly tick: number;
  mid: number;
  open: number;
  high: number;
  low: number;
  volume: number;
}

/** Deterministic for a seed (mulberry32), so tests and demos can replay a market. */
export class DemoFeed {
  readonly #instruments: Instrument[] = [];
  #state: number;

  constructor(seed = 1) {
    this.#state = seed >>> 0;
    for (const [venue, list] of Object.entries(DEMO_SYMBOLS)) {
      for (const [symbol, price] of list) {
        const tick = price >= 1000 ? 0.5 : price >= 10 ? 0.01 : 0.0001;
        this.#instruments.push({
          venue,
          symbol,
          tick,
          mid: price,
          open: price,
          high: price,
          low: price,
          volume: 0,
        });
      }
    }
  }

  get topics(): string[] {
    return this.#instruments.flatMap((i) =>
      ["quote", "trade", "bar"].map((type) => `${i.venue}.${i.symbol}.${type}`),
    );
  }

  /** The next quote (70%) or trade (30%) of a random instrument at time `teMicros`. */
  next(teMicros: number): DemoMessage {
    const i = this.#instruments[Math.floor(this.#random() * this.#instruments.length)] as Instrument;
    i.mid = Math.max(i.tick * 10, i.mid * Math.exp(0.0004 * this.#gaussian()));
    const half = i.tick * (1 + Math.floor(this.#random() * 3));
    const bid = round(i.mid - half, i.tick);
    const ask = round(i.mid + half, i.tick);
    if (this.#random() < 0.7) {
      return {
        topic: `${i.venue}.${i.symbol}.quote`,
        fields: { te: teMicros, bp: bid, bz: lot(this.#random()), ap: ask, az: lot(this.#random()) },
      };
    }
    const price = this.#random() < 0.5 ? bid : ask;
    const size = lot(this.#random());
    i.high = Math.max(i.high, price);
    i.low = Math.min(i.low, price);
    i.volume += size;
    return { topic: `${i.venue}.${i.symbol}.trade`, fields: { te: teMicros, p: price, z: size } };
  }

  /** One bar per instrument for the interval just ended; starts the next interval. */
  bars(teMicros: number): DemoMessage[] {
    return this.#instruments.map((i) => {
      const close = round(i.mid, i.tick);
      const bar = {
        topic: `${i.venue}.${i.symbol}.bar`,
        fields: {
          te: teMicros,
          o: i.open,
          h: Math.max(i.high, close),
          l: Math.min(i.low, close),
          c: close,
          v: i.volume,
        },
      };
      i.open = i.high = i.low = close;
      i.volume = 0;
      return bar;
    });
  }

  #random(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  #gaussian(): number {
    return Math.sqrt(-2 * Math.log(1 - this.#random())) * Math.cos(2 * Math.PI * this.#random());
  }
}

function round(value: number, tick: number): number {
  return Number((Math.round(value / tick) * tick).toFixed(6));
}

function lot(r: number): number {
  return 1 + Math.floor(r * r * 500);
}
