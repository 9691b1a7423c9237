import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createServer } from "node:net";

/** A third-party server (nginx, prometheus, podman) run as a child process, its output collected. */
export class Daemon {
  output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (this.output += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (this.output += chunk));
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  /** Starts `binary`; fails clearly when it is not installed. */
  static start(binary: string, args: readonly string[], options: SpawnOptions = {}): Daemon {
    const child = spawn(binary, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    const daemon = new Daemon(binary, child);
    child.once("error", (error) => {
      daemon.output += `\ncannot start ${binary}: ${error.message} (bash scripts/setup.sh --test installs it)`;
    });
    return daemon;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Throws with the collected output when the process has exited. */
  assertRunning(): void {
    if (!this.running) throw new Error(`${this.name} exited:\n${this.output}`);
  }

  /** SIGTERM (SIGKILL after `timeoutMs`), then waits for exit. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A TCP port free on 127.0.0.1 right now (for servers that cannot listen on port 0 and report it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Polls `check` every 50 ms until it returns true; fails after `timeoutMs` or as soon as `daemon` exits. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  daemon?: Daemon,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    daemon?.assertRunning();
    // A check that throws (connection refused while the server starts) counts as not yet.
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${daemon ? `:\n${daemon.output}` : ""}`,
  );
}
