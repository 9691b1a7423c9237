export { buildNode, connectionName, prepareNode, startService, type Service } from "./service.ts";
export { EmbeddedStack } from "./embedded-stack.ts";
export { stopOnSignal } from "./signals.ts";
