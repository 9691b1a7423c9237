import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { NatsServerNotFoundError, NatsServerStartError } from "../errors/index.ts";

export interface NatsServerOptions {
  /** Executable name or path (default "nats-server"), see {@link findNatsServer}. */
  readonly binary?: string;
  /** Client port; 0 (default) picks a free loopback port. */
  readonly port?: number;
  /** Monitoring (HTTP) port; 0 picks a free one; undefined disables monitoring. */
  readonly monitorPort?: number;
  /** Enable JetStream with a temporary store directory. */
  readonly jetstream?: boolean;
  /** Longest wait for "Server is ready", in ms (default 10000). */
  readonly startTimeoutMs?: number;
}

/**
 * Resolves the nats-server executable: a path is used as is; a bare name is looked up on PATH, then in
 * the sbin folders Debian installs it to (not on a normal user's PATH).
 */
export function findNatsServer(binary = "nats-server", path = process.env["PATH"] ?? ""): string {
  const dirs = binary.includes("/")
    ? [""]
    : [...path.split(delimiter).filter(Boolean), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    const candidate = dir === "" ? binary : join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new NatsServerNotFoundError(binary);
}

/** A free TCP port on 127.0.0.1 (there is a short race until the caller binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A `nats-server` child on loopback, for embedded mode and for integration tests (modelled on the
 * nats.js test launcher). `restart()` keeps the same ports so clients can reconnect.
 */
export class NatsServerProcess {
  #child: ChildProcess | undefined;
  #storeDir: string | undefined;

  private constructor(
    private readonly binary: string,
    readonly port: number,
    readonly monitorPort: number | undefined,
    private readonly options: NatsServerOptions,
  ) {}

  static async start(options: NatsServerOptions = {}): Promise<NatsServerProcess> {
    const binary = findNatsServer(options.binary);
    const port = options.port === undefined || options.port === 0 ? await freePort() : options.port;
    const monitorPort = options.monitorPort === 0 ? await freePort() : options.monitorPort;
    const server = new NatsServerProcess(binary, port, monitorPort, options);
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get monitorUrl(): string | undefined {
    return this.monitorPort === undefined ? undefined : `http://127.0.0.1:${this.monitorPort}`;
  }

  async #spawn(): Promise<void> {
    const args = ["-a", "127.0.0.1", "-p", String(this.port)];
    if (this.monitorPort !== undefined) args.push("-m", String(this.monitorPort));
    if (this.options.jetstream === true) {
      this.#storeDir ??= mkdtempSync(join(tmpdir(), "tickwire-nats-"));
      args.push("-js", "-sd", this.#storeDir);
    }
    // Own process group: a terminal's Ctrl-C must reach tickwire only, which then drains NATS before
    // stopping the server. The exit hook still kills the child if tickwire dies without cleaning up.
    const child = spawn(this.binary, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
    this.#child = child;
    const killOnExit = (): void => {
      child.kill("SIGKILL");
    };
    process.once("exit", killOnExit);
    child.once("exit", () => process.off("exit", killOnExit));
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(`not ready after ${this.options.startTimeoutMs ?? 10000} ms`),
        this.options.startTimeoutMs ?? 10000,
      );
      const fail = (why: string): void => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        this.#child = undefined;
        reject(new NatsServerStartError(`nats-server ${args.join(" ")}: ${why}\n${output.slice(-2000)}`));
      };
      child.stderr?.setEncoding("utf8");
      const onData = (chunk: string): void => {
        output += chunk;
        if (output.includes("Server is ready")) {
          clearTimeout(timer);
          child.stderr?.off("data", onData);
          child.stderr?.resume();
          resolve();
        }
      };
      child.stderr?.on("data", onData);
      child.once("error", (error) => fail(error.message));
      child.once("exit", (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
    });
    child.removeAllListeners("exit");
    child.once("exit", () => {
      if (this.#child === child) this.#child = undefined;
    });
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      });
    }
  }

  /** Stops and starts again on the same ports (JetStream store kept). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }

  /** Stops the server and removes its JetStream store. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.#storeDir !== undefined) rmSync(this.#storeDir, { recursive: true, force: true });
  }
}
