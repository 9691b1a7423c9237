export { startService, type Service } from "./service.ts";
export { stopOnSignal } from "./signals.ts";
