import { JetStreamHistory, NatsLink } from "../ingest/index.ts";
import { DemoRunner, NatsServerProcess } from "../embedded/index.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../logging/index.ts";

/**
 * Embedded mode's once-per-machine parts: the nats-server child, the feed-history stream and the demo
 * feed. A single gateway and a supervisor of workers both run exactly one of these, whatever the number
 * of nodes on the port.
 */
export class EmbeddedStack {
  #demo: DemoRunner | undefined;

  private constructor(
    private readonly config: Readonly<Config>,
    private readonly server: NatsServerProcess,
    private readonly log: Logger,
  ) {}

  /** Starts the nats-server child (JetStream on). */
  static async start(config: Readonly<Config>, log: Logger): Promise<EmbeddedStack> {
    const server = await NatsServerProcess.start({ binary: config.embedded.natsServerBin, jetstream: true });
    log.info(
      { natsUrl: server.url, natsServerPid: server.pid, pid: process.pid },
      "embedded mode: started a local nats-server",
    );
    return new EmbeddedStack(config, server, log);
  }

  get url(): string {
    return this.server.url;
  }

  /**
   * Creates the feed-history stream (when history is on), so snapshots work for topics nobody watched
   * yet. `history` reads through a connected link; without one, a short-lived link of its own is used.
   */
  async prepareHistory(history?: JetStreamHistory): Promise<void> {
    const { history: options, nats } = this.config;
    if (options.stream.mode !== "jetstream") return;
    if (history !== undefined) {
      await history.ensureStream();
    } else {
      const link = new NatsLink({ servers: [this.url], name: "tickwire-supervisor", reconnectWaitMs: 250 });
      await link.start();
      try {
        const own = new JetStreamHistory(
          link,
          {
            stream: options.stream.stream,
            subjectPrefix: nats.subjectPrefix,
            maxFeedPayloadBytes: nats.maxFeedPayloadBytes,
          },
          this.log,
        );
        await own.ensureStream();
      } finally {
        await link.stop();
      }
    }
    this.log.info({ stream: options.stream.stream }, "embedded mode: feed history stream ready");
  }

  /** Starts the demo feed (when its rate is above 0). */
  async startDemo(): Promise<void> {
    const { embedded, nats } = this.config;
    if (embedded.demoRatePerSec <= 0) return;
    this.#demo = DemoRunner.over(this.url, nats.subjectPrefix, embedded.demoRatePerSec);
    await this.#demo.start();
    this.log.info(
      { ratePerSec: embedded.demoRatePerSec, topics: this.#demo.topicCount },
      "embedded mode: demo feed publishing",
    );
  }

  /** Stops the demo feed, then the nats-server (its store removed). */
  async stop(): Promise<void> {
    await this.#demo?.stop();
    await this.server.dispose();
  }
}
