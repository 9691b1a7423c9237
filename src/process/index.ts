export { buildNode, prepareNode, startService, type Service } from "./service.ts";
export { EmbeddedStack } from "./embedded-stack.ts";
export { ShutdownSignals, stopOnSignal } from "./signals.ts";
