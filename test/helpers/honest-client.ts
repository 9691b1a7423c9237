import assert from "node:assert/strict";
import { TestClient, type Message } from "./client.ts";
import { trade, type Stack } from "./stack.ts";

/**
 * The honest client of the hostile-input tests (issue 11): a real WebSocket client subscribed to one
 * trade topic that a pump publishes to every 5 ms, beside whatever the test attacks the gateway with.
 * {@link finish} stops the pump and asserts that it received at least ten trades, in order, with no gap
 * in `q`: the attack cost it nothing.
 */
export class HonestClient {
  #published = 0;
  readonly #pump: NodeJS.Timeout;

  private constructor(
    readonly client: TestClient,
    stack: Stack,
    readonly topic: string,
  ) {
    this.#pump = setInterval(() => stack.publish(topic, trade(100 + this.#published++)), 5);
  }

  /** Connects, subscribes to `topic` (and `alsoPatterns`), then starts the trade pump. */
  static async start(
    stack: Stack,
    topic = "xnas.AAPL.trade",
    alsoPatterns: string[] = [],
  ): Promise<HonestClient> {
    const client = await TestClient.connect(stack.wsUrl);
    await stack.subscribe(client, [...alsoPatterns, topic]);
    return new HonestClient(client, stack, topic);
  }

  /** The trades of its topic received so far. */
  trades(): Message[] {
    return this.client.events.filter((m) => m["t"] === this.topic);
  }

  /** Waits for at least ten trades, stops the pump, closes the client and asserts there was no gap. */
  async finish(): Promise<void> {
    try {
      // A run long enough to show a gap: the test itself may have taken only 50 ms.
      await this.client.until(() => this.trades().length >= 10, 10_000, "ten trades for the honest client");
    } finally {
      clearInterval(this.#pump);
    }
    const seqs = this.trades().map((m) => m["q"] as number);
    await this.client.close();
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, `gap at ${i}`);
  }
}

/**
 * The `after` of a hostile-input suite: the honest client's verdict ({@link HonestClient.finish}), then
 * the stack closed whatever that verdict was (either may be missing when `before` failed early).
 */
export async function finishThenClose(
  honest: HonestClient | undefined,
  stack: Stack | undefined,
): Promise<void> {
  try {
    await honest?.finish();
  } finally {
    await stack?.close();
  }
}
