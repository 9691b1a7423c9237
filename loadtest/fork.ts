import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * `--import` value that loads tsx in a child process. Resolved from this file, so it works from any
 * working directory and whether the parent got tsx from `--import tsx` or from the launcher's
 * `register()` (which leaves no trace in `process.execArgv`).
 */
export function tsxImport(): string {
  return import.meta.resolve("tsx");
}

/** Forks a TypeScript module of the harness with tsx and an IPC channel. */
export function forkTs(url: URL, args: readonly string[] = []): ChildProcess {
  return fork(fileURLToPath(url), [...args], {
    execArgv: ["--import", tsxImport()],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}
