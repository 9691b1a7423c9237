export {
  ASSET_PATHS,
  Gateway,
  GatewayListenError,
  GatewayStats,
  chooseSubprotocol,
  uwsPayloadCap,
  type GatewayOptions,
  type HttpBody,
  type HttpEndpoints,
} from "./server.ts";
export { NativeUwsUnavailableError, isNativeUws, loadUws, type Uws } from "./uws.ts";
