export { TickwireNode, type NodeConfig, type NodeParts } from "./node.ts";
