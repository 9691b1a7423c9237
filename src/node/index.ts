export { TickwireNode, type NodeConfig, type NodeParts } from "./node.ts";
export { authenticatorOver } from "./authenticator.ts";
