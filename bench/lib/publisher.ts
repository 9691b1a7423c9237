import { EncodedEvent, type Hub } from "../../src/fanout/index.ts";
import { EventEncoder, nowMicros, toMarketEvent } from "../../src/protocol/index.ts";

/** Publishes round-robin over the topics, `perTurn` per `setImmediate` turn, until stopped. */
export abstract class Publisher {
  published = 0;
  turns = 0;
  readonly perTopic: number[];
  #running = false;
  #next = 0;
  readonly #pump = (): void => {
    if (!this.#running) return;
    let index = this.#next;
    const count = this.perTopic.length;
    for (let i = 0; i < this.perTurn; i++) {
      this.publishOne(index);
      this.perTopic[index]!++;
      index = index + 1 === count ? 0 : index + 1;
    }
    this.#next = index;
    this.published += this.perTurn;
    this.turns++;
    // Rescheduled last, so tickwire's per-turn flush (queued by the first publish) runs before the
    // next pump: every turn writes what the previous one published, as uWS drains per loop iteration.
    setImmediate(this.#pump);
  };

  constructor(
    readonly topics: readonly string[],
    private readonly perTurn: number,
  ) {
    this.perTopic = topics.map(() => 0);
  }

  protected abstract publishOne(topicIndex: number): void;

  start(): void {
    this.#running = true;
    setImmediate(this.#pump);
  }

  stop(): void {
    this.#running = false;
  }
}

/** Sample quote fields, as decodeFeedPayload returns them from a feed message. */
export function quoteFields(seq: number, te: number): Record<string, number> {
  const tick = seq % 200;
  return { te, bp: 187.25 + tick / 100, bz: 100 + tick, ap: 187.27 + tick / 100, az: 300 + tick };
}

/** What NatsIngest#onMessage does per accepted message, minus NATS and decoding. */
export class TickwirePublisher extends Publisher {
  readonly #encoder = new EventEncoder();
  constructor(
    private readonly hub: Hub,
    topics: readonly string[],
    perTurn: number,
  ) {
    super(topics, perTurn);
  }
  protected publishOne(topicIndex: number): void {
    const topic = this.hub.topic(this.topics[topicIndex]!);
    const ts = nowMicros();
    const event = toMarketEvent("quote", topic.name, ++topic.seq, ts, quoteFields(topic.seq, ts - 150));
    this.hub.publish(topic, new EncodedEvent(event, this.#encoder.encode(event)));
  }
}
