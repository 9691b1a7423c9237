import {
  connect,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type NatsConnection,
  type StreamConfig,
  type StreamInfo,
} from "nats";
import { HistoryStreamError } from "../errors/index.ts";
import { JsApiError, jsApiErrorCode } from "./js-api-errors.ts";
import { natsSecurityOptions, type NatsCredentials, type NatsTlsFiles } from "./nats-link.ts";

/** TLS and credentials of the admin command's NATS connection (`tickwire history --nats-tls-ca …`). */
export interface NatsSecurity {
  readonly tls?: NatsTlsFiles;
  readonly credentials?: NatsCredentials;
}

/** The feed-history stream an operator asks for (`tickwire history create`; embedded mode's own). */
export interface HistoryStreamSpec {
  readonly name: string;
  readonly subjectPrefix: string;
  readonly storage: "file" | "memory";
  readonly replicas: number;
  readonly maxBytes: number;
}

/** The stream's JetStream settings: the last message of every `<prefix>.>` subject, direct get allowed. */
export function historyStreamConfig(spec: HistoryStreamSpec): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [`${spec.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: spec.storage === "file" ? StorageType.File : StorageType.Memory,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: 1,
    max_msgs: -1,
    max_bytes: spec.maxBytes,
    max_age: 0,
    num_replicas: spec.replicas,
    allow_direct: true,
  };
}

/** What `tickwire history create` did. */
export interface HistoryStreamCreated {
  /** True when the stream was created; false when it existed already. */
  readonly created: boolean;
  /** For an existing stream: each setting that differs from the one asked for (empty when none). */
  readonly differences: readonly string[];
}

/** A summary of the stream for `tickwire history info` (plain JSON). */
export interface HistoryStreamSummary {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly storage: string;
  readonly replicas: number;
  readonly maxMsgsPerSubject: number;
  readonly maxBytes: number;
  readonly allowDirect: boolean;
  readonly messages: number;
  readonly bytes: number;
  readonly subjectCount: number;
}

/** Longest wait for the admin command's NATS connection before it fails (it does not retry). */
const ADMIN_CONNECT_TIMEOUT_MS = 5000;

/** Runs `work` over a short-lived connection to `servers` (no retries: a Job or an operator retries). */
async function withConnection<T>(
  servers: readonly string[],
  stream: string,
  action: "create" | "read",
  work: (nc: NatsConnection) => Promise<T>,
  security: NatsSecurity = {},
): Promise<T> {
  let nc: NatsConnection;
  // Outside the try: an unreadable TLS or credentials file is a TlsFileError naming the option.
  const secured = natsSecurityOptions(security.tls, security.credentials);
  try {
    nc = await connect({
      ...secured,
      servers: [...servers],
      name: "tickwire-history-admin",
      timeout: ADMIN_CONNECT_TIMEOUT_MS,
      reconnect: false,
    });
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new HistoryStreamError(
      stream,
      { cause: new Error(`nats not reachable (${message})`, { cause }) },
      action,
    );
  }
  try {
    return await work(nc);
  } catch (cause) {
    throw new HistoryStreamError(stream, { cause }, action);
  } finally {
    await nc.close();
  }
}

/**
 * Creates the feed-history stream unless it exists. An existing stream is left alone, with the settings
 * that differ from the ones asked for listed (tickwire needs `<prefix>.>`, one message per subject and
 * direct get; the rest is the operator's choice).
 */
export async function createHistoryStream(
  servers: readonly string[],
  spec: HistoryStreamSpec,
  security: NatsSecurity = {},
): Promise<HistoryStreamCreated> {
  return withConnection(
    servers,
    spec.name,
    "create",
    async (nc) => {
      const jsm = await nc.jetstreamManager({ checkAPI: false });
      const wanted = historyStreamConfig(spec);
      let existing: StreamInfo;
      try {
        existing = await jsm.streams.info(spec.name);
      } catch (error) {
        if (jsApiErrorCode(error) !== JsApiError.STREAM_NOT_FOUND) throw error;
        await jsm.streams.add(wanted);
        return { created: true, differences: [] };
      }
      const differences: string[] = [];
      for (const key of Object.keys(wanted) as (keyof typeof wanted)[]) {
        const has = JSON.stringify(existing.config[key]);
        const asked = JSON.stringify(wanted[key]);
        if (has !== asked) differences.push(`${key}: ${has} (asked for ${asked})`);
      }
      return { created: false, differences };
    },
    security,
  );
}

/** The stream's settings and state. */
export async function historyStreamInfo(
  servers: readonly string[],
  name: string,
  security: NatsSecurity = {},
): Promise<HistoryStreamSummary> {
  return withConnection(
    servers,
    name,
    "read",
    async (nc) => {
      const jsm = await nc.jetstreamManager({ checkAPI: false });
      const { config, state } = await jsm.streams.info(name);
      return {
        name: config.name,
        subjects: config.subjects,
        storage: config.storage,
        replicas: config.num_replicas,
        maxMsgsPerSubject: config.max_msgs_per_subject,
        maxBytes: config.max_bytes,
        allowDirect: config.allow_direct === true,
        messages: state.messages,
        bytes: state.bytes,
        subjectCount: state.num_subjects ?? 0,
      };
    },
    security,
  );
}
