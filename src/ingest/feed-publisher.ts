import { connect, type NatsConnection } from "nats";

/** Publishes feed messages to NATS: the demo feed and the load harness use it. */
export class FeedPublisher {
  private constructor(private readonly nc: NatsConnection) {}

  static async connect(url: string, name = "tickwire-feed"): Promise<FeedPublisher> {
    const nc = await connect({
      servers: url,
      name,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      reconnectTimeWait: 500,
    });
    return new FeedPublisher(nc);
  }

  publish(subject: string, payload: Uint8Array): void {
    this.nc.publish(subject, payload);
  }

  /** Resolves when the server has processed everything published so far. */
  async flush(): Promise<void> {
    await this.nc.flush();
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}
