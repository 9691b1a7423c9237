import type { Writable } from "node:stream";
import {
  HISTORY_COMMANDS,
  HISTORY_USAGE,
  loadHistoryAdminConfig,
  urlWithoutCredentials,
  type HistoryCommand,
} from "../config/index.ts";
import { ConfigError, isTickwireError } from "../errors/index.ts";
import { createHistoryStream, historyStreamInfo } from "../ingest/index.ts";

interface Output {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

function isHistoryCommand(word: string | undefined): word is HistoryCommand {
  return (HISTORY_COMMANDS as readonly (string | undefined)[]).includes(word);
}

/**
 * `tickwire history create|info`: the feed-history stream of a NATS deployment, with the NATS client
 * tickwire already has (no `nats` CLI needed). Returns the exit status.
 */
export async function runHistory(argv: readonly string[], out: Output): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || argv.includes("--help") || argv.includes("-h")) {
    out.stdout.write(HISTORY_USAGE);
    return 0;
  }
  if (!isHistoryCommand(command)) {
    out.stderr.write(
      `tickwire history: unknown sub-command ${JSON.stringify(command ?? "")}\n\n${HISTORY_USAGE}`,
    );
    return 2;
  }
  let config;
  try {
    config = loadHistoryAdminConfig(rest);
  } catch (error) {
    if (error instanceof ConfigError) {
      out.stderr.write(`tickwire history ${command}: ${error.message}\n\n${HISTORY_USAGE}`);
      return 2;
    }
    throw error;
  }
  const servers = config.nats.servers;
  const { name, subjectPrefix, storage, replicas, maxBytes } = config.stream;
  const where = servers.map(urlWithoutCredentials).join(",");
  const { tlsCaFile, tlsCertFile, tlsKeyFile, user, password, token, nkeySeedFile, credsFile } = config.nats;
  const security = {
    tls: { caFile: tlsCaFile, certFile: tlsCertFile, keyFile: tlsKeyFile },
    credentials: { user, password, token, nkeySeedFile, credsFile },
  };
  try {
    if (command === "info") {
      out.stdout.write(JSON.stringify(await historyStreamInfo(servers, name, security), null, 2) + "\n");
      return 0;
    }
    const result = await createHistoryStream(
      servers,
      { name, subjectPrefix, storage, replicas, maxBytes },
      security,
    );
    if (result.created) {
      out.stdout.write(
        `created stream ${name} on ${where}: ${subjectPrefix}.>, last message per subject, ${storage}, ${replicas} replica(s), max ${maxBytes} bytes, direct get\n`,
      );
      return 0;
    }
    if (result.differences.length === 0) {
      out.stdout.write(`stream ${name} exists on ${where} with these settings; nothing to do\n`);
      return 0;
    }
    out.stderr.write(
      `tickwire history create: stream ${name} exists on ${where} with other settings (left unchanged):\n` +
        result.differences.map((d) => `  ${d}\n`).join("") +
        "edit it with your NATS tools, or delete it and run this command again\n",
    );
    return 1;
  } catch (error) {
    if (isTickwireError(error)) {
      out.stderr.write(`tickwire history ${command}: ${error.message} (${error.code})\n`);
      return 1;
    }
    throw error;
  }
}
