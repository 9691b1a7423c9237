export { ConfigError, helpText, loadConfig } from "./load.ts";
export { OPTIONS, type Config, type OptionSpec } from "./options.ts";
