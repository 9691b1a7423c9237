#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import {
  TAIL_USAGE,
  TOKEN_USAGE,
  configSummary,
  helpText,
  loadConfig,
  loadTailConfig,
  loadTokenConfig,
  redactedConfig,
} from "../config/index.ts";
import { ConfigError, isTickwireError } from "../errors/index.ts";
import { createLogger, resolveLogFormat } from "../logging/index.ts";
import { ShutdownSignals, startService, stopOnSignal } from "../process/index.ts";
import { runHistory } from "./history.ts";
import { Supervisor } from "../supervisor/index.ts";
import { runTail } from "./tail.ts";
import { mintToken } from "./token.ts";

const USAGE = `Usage: tickwire <command> [options]

Commands:
  serve     run the gateway (embedded nats-server and demo feed when no NATS URL is given)
  tail      stream topics to stdout as jsonl, csv or a table (\`tickwire tail --help\`)
  token     print an HS256 test token for --auth jwt (\`tickwire token --help\`)
  history   create or inspect the feed-history JetStream stream of a NATS deployment (\`tickwire history --help\`)
  help      show this help; \`tickwire serve --help\` lists every option

Quick start: \`tickwire serve\`, then open http://127.0.0.1:9000/ and connect clients to ws://127.0.0.1:9000/v1/stream.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

async function serve(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText() + "\n");
    return 0;
  }
  let config;
  try {
    config = loadConfig(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tickwire: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const format = resolveLogFormat(config.log.format, process.stdout.isTTY);
  const log = createLogger(config.log.level, format);
  // Before the first log line and before anything starts: a supervisor or test that sends a signal as
  // soon as it reads "starting" must reach our handler, and a signal during start-up must not kill the
  // process past its children's cleanup.
  const signals = new ShutdownSignals(log);
  if (format === "json") {
    log.info({ config: redactedConfig(config), version: version(), node: process.version }, "starting");
  } else {
    log.info({ version: version(), node: process.version }, "starting");
    for (const line of configSummary(config)) log.info(`config ${line}`);
  }
  // 0 = one worker per core; 1 = today's single process owning its port (no supervisor, no fork).
  const workers = config.process.workers === 0 ? availableParallelism() : config.process.workers;
  let service: { readonly port: number; stop(): Promise<void> };
  try {
    service =
      workers === 1 ? await startService(config, log) : await Supervisor.start(config, argv, workers, log);
  } catch (error) {
    signals.dispose();
    if (isTickwireError(error)) {
      log.fatal({ code: error.code }, error.message);
      process.stderr.write(`tickwire: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (config.nats.servers.mode === "embedded" && signals.signal === undefined) {
    log.info(`live demo prices: open http://127.0.0.1:${service.port}/ (Ctrl-C to stop)`);
  }
  const status = await stopOnSignal(signals, () => service.stop(), log);
  signals.dispose();
  return status;
}

async function tail(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(TAIL_USAGE);
    return 0;
  }
  let config;
  try {
    config = loadTailConfig(argv, process.stdout.isTTY);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tickwire tail: ${error.message}\n\n${TAIL_USAGE}`);
      return 2;
    }
    throw error;
  }
  return runTail(config, { stdout: process.stdout, stderr: process.stderr });
}

async function token(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(TOKEN_USAGE);
    return 0;
  }
  try {
    process.stdout.write(`${await mintToken(loadTokenConfig(argv))}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tickwire token: ${error.message}\n\n${TOKEN_USAGE}`);
      return 2;
    }
    if (isTickwireError(error)) {
      process.stderr.write(`tickwire token: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case "tail":
      return tail(rest);
    case "token":
      return token(rest);
    case "history":
      return runHistory(rest, { stdout: process.stdout, stderr: process.stderr });
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    case "--version":
    case "-v":
      process.stdout.write(`${version()}\n`);
      return 0;
    default:
      process.stderr.write(`tickwire: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `tickwire: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
