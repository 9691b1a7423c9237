/**
 * A nats-server for the side-by-side, from a config file: client port, monitoring, and (for the
 * nats-ws competitor) its WebSocket listener (`websocket { no_tls: true }`). Limits are raised so
 * that a slow competitor is measured as slow rather than disconnected as a slow consumer mid-run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findNatsServer, portOf, readPortsFile } from "../../src/embedded/index.ts";

export class BenchNatsServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    readonly monitorPort: number,
    readonly wsPort: number | undefined,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.monitorPort}`;
  }
  get pid(): number {
    return this.child.pid ?? 0;
  }

  static async start(websocket: boolean): Promise<BenchNatsServer> {
    // Port -1: the server binds free ports itself and writes them to its ports file (no probe race).
    const dir = mkdtempSync(join(tmpdir(), "tickwire-bench-nats-"));
    const config = join(dir, "nats.conf");
    writeFileSync(
      config,
      [
        `listen: "127.0.0.1:-1"`,
        `http: "127.0.0.1:-1"`,
        `max_pending: 268435456`,
        `write_deadline: "30s"`,
        websocket ? `websocket { listen: "127.0.0.1:-1", no_tls: true, compression: false }` : "",
      ].join("\n") + "\n",
    );
    const binary = findNatsServer();
    const child = spawn(binary, ["-c", config, "--ports_file_dir", dir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server not ready:\n${output}`)), 10_000);
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
        if (output.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (code ${code}):\n${output}`));
      });
    });
    child.stderr?.resume();
    const deadline = performance.now() + 10_000;
    let ports = readPortsFile(dir);
    while (ports === undefined && performance.now() < deadline && child.exitCode === null) {
      await sleep(10);
      ports = readPortsFile(dir);
    }
    const [port, monitorPort] = [portOf(ports?.nats), portOf(ports?.monitoring)];
    const wsPort = websocket ? portOf(ports?.websocket) : undefined;
    if (port === undefined || monitorPort === undefined || (websocket && wsPort === undefined)) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${binary} -c ${config}: no complete ports file in ${dir} within 10 s:\n${output}`);
    }
    return new BenchNatsServer(child, dir, port, monitorPort, wsPort);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      this.child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
