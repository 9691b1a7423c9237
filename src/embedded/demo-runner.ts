import { encodeFeedPayload, nowMicros } from "../protocol/index.ts";
import { FeedPublisher, NatsLink, connectionName } from "../ingest/index.ts";
import { DemoFeed } from "./demo-feed.ts";

/** Publishes the demo market to NATS at a steady rate, plus one bar per symbol per second. */
export class DemoRunner {
  readonly #feed = new DemoFeed(Date.now() & 0xffff);
  readonly #publisher: FeedPublisher;
  #owed = 0;
  #ticker: NodeJS.Timeout | undefined;
  #bars: NodeJS.Timeout | undefined;

  /** Builds the runner on its own NATS link (`tickwire-demo-feed`); nothing connects before start(). */
  constructor(
    private readonly link: NatsLink,
    private readonly prefix: string,
    private readonly ratePerSec: number,
  ) {
    this.#publisher = new FeedPublisher(link);
  }

  /** A runner on its own connection to `url`. */
  static over(url: string, prefix: string, ratePerSec: number): DemoRunner {
    const link = new NatsLink({
      servers: [url],
      name: connectionName("tickwire-demo-feed"),
      reconnectWaitMs: 500,
    });
    return new DemoRunner(link, prefix, ratePerSec);
  }

  get topicCount(): number {
    return this.#feed.topics.length;
  }

  /** Connects, then publishes every 20 ms (and bars every second) until stop(). */
  async start(): Promise<void> {
    await this.link.start();
    const tickMs = 20;
    this.#ticker = setInterval(() => this.#tick(tickMs), tickMs);
    this.#bars = setInterval(() => this.#publishBars(), 1000);
  }

  #tick(tickMs: number): void {
    this.#owed += (this.ratePerSec * tickMs) / 1000;
    for (; this.#owed >= 1; this.#owed--) {
      const message = this.#feed.next(nowMicros());
      this.#publisher.publish(`${this.prefix}.${message.topic}`, encodeFeedPayload(message.fields));
    }
  }

  #publishBars(): void {
    for (const bar of this.#feed.bars(nowMicros()))
      this.#publisher.publish(`${this.prefix}.${bar.topic}`, encodeFeedPayload(bar.fields));
  }

  async stop(): Promise<void> {
    clearInterval(this.#ticker);
    clearInterval(this.#bars);
    await this.#publisher.close();
  }
}
