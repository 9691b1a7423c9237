import { accessSync, constants } from "node:fs";
import type { TemplatedApp } from "uWebSockets.js";
import { TlsFileError } from "../errors/index.ts";
import type { Uws } from "./uws.ts";

/** `--tls-cert`, `--tls-key`, `--tls-passphrase`: both files, or neither (plain ws://). */
export interface TlsFiles {
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /** The key's passphrase; a config Secret (printed as [redacted]), revealed only here. */
  readonly passphrase?: { reveal(): string; readonly isSet: boolean } | undefined;
}

/**
 * The uWS app: SSLApp (wss://, https://) with a certificate, App otherwise. The files are read once,
 * at start-up: a renewed certificate takes a restart (README "TLS"). uWS reports an unreadable file
 * only as a failed listen, so they are checked here first with a message naming the option.
 */
export function createApp(uws: Uws, tls: TlsFiles | undefined): TemplatedApp {
  if (tls?.certFile === undefined || tls.keyFile === undefined) return uws.App();
  for (const [flag, path] of [
    ["--tls-cert", tls.certFile],
    ["--tls-key", tls.keyFile],
  ] as const) {
    try {
      accessSync(path, constants.R_OK);
    } catch (cause) {
      throw new TlsFileError(flag, path, { cause });
    }
  }
  return uws.SSLApp({
    cert_file_name: tls.certFile,
    key_file_name: tls.keyFile,
    ...(tls.passphrase?.isSet === true ? { passphrase: tls.passphrase.reveal() } : {}),
  });
}
