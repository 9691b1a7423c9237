import { NatsLink } from "./nats-link.ts";

/** Publishes feed messages to NATS over a {@link NatsLink}: the demo feed, the load harness and tests use it. */
export class FeedPublisher {
  constructor(private readonly link: NatsLink) {}

  /** A publisher on its own connection (named `name`), connected. */
  static async connect(url: string, name = "tickwire-feed"): Promise<FeedPublisher> {
    const link = new NatsLink({ servers: url.split(",").map((s) => s.trim()), name, reconnectWaitMs: 500 });
    await link.start();
    return new FeedPublisher(link);
  }

  /** Publishes once connected; before the first connection, the message is dropped. */
  publish(subject: string, payload: Uint8Array): void {
    this.link.connection?.publish(subject, payload);
  }

  /** Resolves when the server has processed everything published so far. */
  async flush(): Promise<void> {
    await (await this.link.connectedOnce()).flush();
  }

  async close(): Promise<void> {
    await this.link.stop();
  }
}
