export {
  Gateway,
  GatewayListenError,
  GatewayStats,
  STREAM_PATH,
  chooseSubprotocol,
  type GatewayOptions,
  type HttpEndpoints,
} from "./server.ts";
export { NativeUwsUnavailableError, isNativeUws, loadUws, type Uws } from "./uws.ts";
