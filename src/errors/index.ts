export {
  ConfigError,
  GatewayListenError,
  HistoryStreamError,
  NatsDrainError,
  NatsServerNotFoundError,
  NatsServerStartError,
  NativeUwsUnavailableError,
  ShutdownTimeoutError,
  TickwireError,
  TickwireErrorCode,
  WebAssetsUnavailableError,
  isTickwireError,
} from "./errors.ts";
