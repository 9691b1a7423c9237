export { configSummary, helpText, loadConfig, loadOptions, redactedConfig } from "./load.ts";
export {
  OPTIONS,
  option,
  type Config,
  type ConfigOf,
  type HistoryStream,
  type NatsServers,
  type OptionGroup,
  type OptionKind,
  type OptionSpec,
} from "./options.ts";
export { Secret, urlWithoutCredentials } from "./secret.ts";
export { TAIL_FORMATS, TAIL_USAGE, loadTailConfig, type TailConfig, type TailFormat } from "./tail.ts";
export { TOKEN_USAGE, loadTokenConfig, type TokenCommandConfig } from "./token.ts";
export {
  HISTORY_COMMANDS,
  HISTORY_USAGE,
  loadHistoryAdminConfig,
  type HistoryAdminConfig,
  type HistoryCommand,
} from "./history-admin.ts";
