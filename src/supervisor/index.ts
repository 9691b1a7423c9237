export { Supervisor, WORKER_STOP_MARGIN_MS, restartDelayMs } from "./supervisor.ts";
export { claimPort } from "./port.ts";
export { WORKER_METRICS } from "./worker-metrics.ts";
