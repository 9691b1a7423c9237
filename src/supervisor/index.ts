export { Supervisor, restartDelayMs } from "./supervisor.ts";
export { claimPort } from "./port.ts";
export { WORKER_METRICS } from "./worker-metrics.ts";
