export {
  Gateway,
  chooseSubprotocol,
  uwsPayloadCap,
  type GatewayOptions,
  type HttpBody,
  type HttpEndpoints,
} from "./server.ts";
export { isNativeUws, loadUws, type Uws } from "./uws.ts";
export { GATEWAY_METRICS, GatewayStats } from "./stats.ts";
