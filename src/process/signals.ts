import type { Logger } from "../logging/index.ts";

/**
 * SIGTERM and SIGINT handling for the whole life of the process, installed before anything is started:
 * a Ctrl-C during start-up (a nats-server child being spawned, NATS connecting) is then a request to stop
 * once start-up is done, never a default signal death that would leave children behind.
 *
 * {@link received} resolves with the first signal. A second signal more than a second later exits at once
 * with status 1 (npm and tsx forward the terminal's signal, so one Ctrl-C can arrive twice); the exit
 * hooks of the embedded children still kill them.
 */
export class ShutdownSignals {
  readonly received: Promise<NodeJS.Signals>;
  #first: NodeJS.Signals | undefined;
  #firstMs = 0;
  readonly #onSignal: (signal: NodeJS.Signals) => void;

  constructor(private readonly log: Logger) {
    let resolve: (signal: NodeJS.Signals) => void = () => undefined;
    this.received = new Promise((r) => (resolve = r));
    this.#onSignal = (signal) => {
      if (this.#first !== undefined) {
        if (performance.now() - this.#firstMs < 1000) return;
        this.log.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      this.#first = signal;
      this.#firstMs = performance.now();
      this.log.info({ signal }, "shutting down");
      resolve(signal);
    };
    process.on("SIGTERM", this.#onSignal);
    process.on("SIGINT", this.#onSignal);
  }

  /** The first signal received, if any. */
  get signal(): NodeJS.Signals | undefined {
    return this.#first;
  }

  /** Removes the handlers (after the stop has finished). */
  dispose(): void {
    process.off("SIGTERM", this.#onSignal);
    process.off("SIGINT", this.#onSignal);
  }
}

/** Waits for the first signal, then runs `stop`; the exit status: 0, or 1 when the stop failed (logged). */
export async function stopOnSignal(
  signals: ShutdownSignals,
  stop: () => Promise<void>,
  log: Logger,
): Promise<number> {
  await signals.received;
  try {
    await stop();
    return 0;
  } catch (error) {
    log.error({ err: error }, "shutdown failed");
    return 1;
  }
}
