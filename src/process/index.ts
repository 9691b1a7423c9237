export { buildNode, connectionName, startService, type Service } from "./service.ts";
export { EmbeddedStack } from "./embedded-stack.ts";
export { stopOnSignal } from "./signals.ts";
