export { Gateway, chooseSubprotocol, uwsPayloadCap, type GatewayOptions } from "./server.ts";
export type { HttpBody, HttpEndpoints } from "./http-endpoints.ts";
export { openFileLimit, resolveMaxConnections, type CapNotice } from "./connection-cap.ts";
export { isNativeUws, loadUws, type Uws } from "./uws.ts";
export { GATEWAY_METRICS, GatewayStats } from "./stats.ts";
