export { startService, type Service } from "./service.ts";
export { ShutdownSignals, stopOnSignal } from "./signals.ts";
