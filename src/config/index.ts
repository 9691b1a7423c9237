export { ConfigError, helpText, loadConfig } from "./load.ts";
export { OPTIONS, type Config, type OptionSpec } from "./options.ts";
export { TAIL_FORMATS, TAIL_USAGE, loadTailConfig, type TailConfig, type TailFormat } from "./tail.ts";
