import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { NatsServerNotFoundError, NatsServerStartError } from "../errors/index.ts";
import { setTimeout as sleep } from "node:timers/promises";

export interface NatsServerOptions {
  /** Executable name or path (default "nats-server"), see {@link findNatsServer}. */
  readonly binary?: string;
  /** Client port; 0 (default): the server binds a free loopback port itself (`-p -1`) and reports it. */
  readonly port?: number;
  /** Monitoring (HTTP) port; 0: a free one chosen by the server (`-m -1`); undefined disables monitoring. */
  readonly monitorPort?: number;
  /** Enable JetStream with a temporary store directory. */
  readonly jetstream?: boolean;
  /**
   * Join a NATS cluster (routes between servers): listen for routes on `port` of 127.0.0.1 and route to
   * `routes` (route URLs `nats://127.0.0.1:<cluster port>`; a route to itself is ignored by the server, so
   * every member may be given the same list). JetStream in a cluster needs every member's route known
   * at start, hence fixed cluster ports.
   */
  readonly cluster?: { readonly name: string; readonly port: number; readonly routes: readonly string[] };
  /** Server name (`-n`); members of a JetStream cluster need distinct ones. */
  readonly serverName?: string;
  /**
   * More command-line arguments (tests: `--tls`, `--tlscert`, `--tlskey`, `--tlscacert`, `--tlsverify`,
   * `--user`/`--pass`, `--auth`); `url` stays nats:// (a client with TLS options upgrades the connection).
   */
  readonly extraArgs?: readonly string[];
  /** Longest wait for "Server is ready" and its ports file, in ms (default 10000). */
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

/** What nats-server writes to `--ports_file_dir` once it listens (`<executable>_<pid>.ports`). */
export interface NatsPortsFile {
  readonly nats?: readonly string[];
  readonly monitoring?: readonly string[];
  readonly websocket?: readonly string[];
}

/** The port of the first URL of a ports file entry, or undefined. */
export function portOf(urls: readonly string[] | undefined): number | undefined {
  const url = urls?.[0];
  if (url === undefined) return undefined;
  const port = Number(new URL(url).port);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/**
 * The ports file of the only server writing to `dir`, or undefined while it is absent or still being written
 * (nats-server writes it with a plain write after "Server is ready": a partial file does not parse, or lacks
 * the client URL).
 */
export function readPortsFile(dir: string): NatsPortsFile | undefined {
  const name = readdirSync(dir).find((file) => file.endsWith(".ports"));
  if (name === undefined) return undefined;
  try {
    const ports = JSON.parse(readFileSync(join(dir, name), "utf8")) as NatsPortsFile;
    return portOf(ports.nats) === undefined ? undefined : ports;
  } catch {
    return undefined; // not complete yet: read again
  }
}

/**
 * A `nats-server` child on loopback, for embedded mode and for integration tests (modelled on the
 * nats.js test launcher). Port 0 lets the server bind a free port itself (`-p -1`, `-m -1`) and read it
 * back from its ports file: no probe-then-bind race with other processes. `restart()` keeps the ports the
 * first start got so clients can reconnect.
 */
export class NatsServerProcess {
  #child: ChildProcess | undefined;
  #storeDir: string | undefined;
  #port: number;
  #monitorPort: number | undefined;

  private constructor(
    private readonly binary: string,
    private readonly options: NatsServerOptions,
  ) {
    this.#port = options.port ?? 0;
    this.#monitorPort = options.monitorPort;
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServerProcess> {
    const server = new NatsServerProcess(findNatsServer(options.binary), options);
    await server.#spawn();
    return server;
  }

  /** The client port the server listens on. */
  get port(): number {
    return this.#port;
  }

  /** The child's process id (undefined once stopped). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The monitoring (HTTP) port, when monitoring is on. */
  get monitorPort(): number | undefined {
    return this.#monitorPort;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  get monitorUrl(): string | undefined {
    return this.#monitorPort === undefined ? undefined : `http://127.0.0.1:${this.#monitorPort}`;
  }

  async #spawn(): Promise<void> {
    // -1: the server picks a free port; the ports file says which (nats-server >= 2.2 has --ports_file_dir).
    const portsDir = mkdtempSync(join(tmpdir(), "tickwire-nats-ports-"));
    try {
      await this.#spawnReporting(portsDir);
    } finally {
      rmSync(portsDir, { recursive: true, force: true });
    }
  }

  async #spawnReporting(portsDir: string): Promise<void> {
    const args = ["-a", "127.0.0.1", "-p", this.#port === 0 ? "-1" : String(this.#port)];
    if (this.#monitorPort !== undefined)
      args.push("-m", this.#monitorPort === 0 ? "-1" : String(this.#monitorPort));
    args.push("--ports_file_dir", portsDir);
    const { cluster, serverName } = this.options;
    if (serverName !== undefined) args.push("-n", serverName);
    if (cluster !== undefined) {
      args.push("--cluster", `nats://127.0.0.1:${cluster.port}`, "--cluster_name", cluster.name);
      if (cluster.routes.length > 0) args.push("--routes", cluster.routes.join(","));
    }
    args.push(...(this.options.extraArgs ?? []));
    if (this.options.jetstream === true) {
      this.#storeDir ??= mkdtempSync(join(tmpdir(), "tickwire-nats-"));
      args.push("-js", "-sd", this.#storeDir);
    }
    // Own process group: a terminal's Ctrl-C must reach tickwire only, which then drains NATS before
    // stopping the server. The exit hook still kills the child and removes its store if tickwire exits
    // without cleaning up (tickwire handles SIGTERM/SIGINT from its first line, so a signal is an exit too).
    const child = spawn(this.binary, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
    this.#child = child;
    const storeDir = this.#storeDir;
    const killOnExit = (): void => {
      child.kill("SIGKILL");
      if (storeDir !== undefined) rmSync(storeDir, { recursive: true, force: true });
    };
    process.once("exit", killOnExit);
    child.once("exit", () => process.off("exit", killOnExit));
    const timeoutMs = this.options.startTimeoutMs ?? 10000;
    const deadline = Date.now() + timeoutMs;
    let output = "";
    let exited: string | undefined;
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      exited = `exited early (code ${code}, signal ${signal})`;
    };
    child.once("exit", onEarlyExit);
    // After start-up the only `error` left is a failed kill of an exiting child: its exit decides.
    child.on("error", () => undefined);
    const fail = (why: string): NatsServerStartError => {
      child.kill("SIGKILL");
      this.#child = undefined;
      return new NatsServerStartError(`${this.binary} ${args.join(" ")}: ${why}\n${output.slice(-2000)}`);
    };
    await new Promise<void>((resolve, reject) => {
      const settle = (why?: string): void => {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        child.stderr?.resume();
        child.off("exit", onExit);
        child.off("error", onError);
        if (why === undefined) resolve();
        else reject(fail(why));
      };
      const timer = setTimeout(() => settle(`not ready after ${timeoutMs} ms`), timeoutMs);
      const onData = (chunk: string): void => {
        output += chunk;
        if (output.includes("Server is ready")) settle();
      };
      const onExit = (): void => settle(exited);
      const onError = (error: Error): void => settle(error.message);
      child.stderr?.setEncoding("utf8").on("data", onData);
      child.once("exit", onExit);
      child.once("error", onError);
    });
    // The ports file follows "Server is ready" closely; poll it within what is left of the same bound.
    let ports = readPortsFile(portsDir);
    while (ports === undefined) {
      if (exited !== undefined) throw fail(exited);
      if (Date.now() >= deadline) throw fail(`no ports file in ${portsDir} after ${timeoutMs} ms`);
      await sleep(10);
      ports = readPortsFile(portsDir);
    }
    const port = portOf(ports.nats);
    const monitorPort = portOf(ports.monitoring);
    if (port === undefined || (this.#monitorPort !== undefined && monitorPort === undefined)) {
      throw fail(`its ports file lacks a port: ${JSON.stringify(ports)}`);
    }
    this.#port = port;
    if (this.#monitorPort !== undefined) this.#monitorPort = monitorPort;
    child.off("exit", onEarlyExit);
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
