export { TickwireNode, type NodeConfig, type NodeFleet, type NodeParts, type NodeReadiness } from "./node.ts";
export { authenticatorOver } from "./authenticator.ts";
