import type { Logger } from "../logging/index.ts";

/**
 * Resolves once `stop` has run after the first SIGTERM or SIGINT. A second signal more than a second
 * later exits at once with status 1 (npm and tsx forward the terminal's signal, so one Ctrl-C can
 * arrive twice). A failed stop is logged and sets exit status 1.
 */
export function stopOnSignal(stop: () => Promise<void>, log: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    let firstSignalMs: number | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (firstSignalMs !== undefined) {
        if (performance.now() - firstSignalMs < 1000) return;
        log.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      firstSignalMs = performance.now();
      log.info({ signal }, "shutting down");
      stop().then(resolve, (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exitCode = 1;
        resolve();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
