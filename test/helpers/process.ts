import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/index.ts", import.meta.url));

/** `tickwire` run as a real child process (through tsx), with its output collected. */
export class CliProcess {
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  /**
   * Runs `tickwire …`. `serve` runs one process (`TICKWIRE_WORKERS=1`) unless `env` or a `--workers` flag
   * says otherwise: the default, one worker per core, would fork a supervisor's workers in every test.
   */
  static run(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
      env: { ...process.env, TICKWIRE_WORKERS: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new CliProcess(child);
  }

  /** Log lines (pino JSON) parsed so far. */
  get logs(): Record<string, unknown>[] {
    return this.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The last lines of stdout and stderr, for an assertion's message when the process did not end as expected. */
  get outputTail(): string {
    return `stdout (last 8 KiB):\n${this.stdout.slice(-8192)}\nstderr (last 8 KiB):\n${this.stderr.slice(-8192)}`;
  }

  /** Waits for the "gateway listening" log line and returns the port. */
  async port(timeoutMs = 15000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = this.logs.find((l) => l["msg"] === "gateway listening");
      if (line !== undefined) return line["port"] as number;
      if (this.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`gateway did not report listening; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
  }

  /** Waits for exit (bounded) and returns how it ended. */
  async exit(timeoutMs = 15000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        reject(
          new Error(
            `process did not exit within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
