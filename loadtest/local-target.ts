/**
 * A target on this machine: nats-server and a tickwire gateway started by the harness (when no
 * `--url` is given), and the RSS/CPU of any local target process read from /proc.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { NatsServerProcess } from "../src/embedded/index.ts";
import { tsxImport } from "./fork.ts";

const CLI = fileURLToPath(new URL("../src/cli/index.ts", import.meta.url));
/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_S = 100;

export interface ProcessSample {
  readonly atMs: number;
  readonly rssBytes: number;
  /** Anonymous resident memory (RssAnon): RSS less file-backed pages such as code. */
  readonly rssAnonBytes: number;
  readonly cpuS: number;
}

/** RSS and CPU time of a process, from /proc (Linux); undefined when it cannot be read. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0) * 1024;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return {
      atMs: performance.now(),
      rssBytes: kb("VmRSS"),
      rssAnonBytes: kb("RssAnon"),
      cpuS: ticks / CLOCK_TICKS_PER_S,
    };
  } catch {
    return undefined;
  }
}

/**
 * A `tickwire serve --nats …` child on loopback on a free port, with its own nats-server unless
 * given a NATS URL (bench/ gives one, to run every competitor on the same nats-server setup).
 */
export class LocalTarget {
  private constructor(
    readonly nats: NatsServerProcess | undefined,
    readonly natsUrl: string,
    private readonly gateway: ChildProcess,
    readonly port: number,
    private readonly exited: Promise<void>,
    private readonly log: { text: string },
  ) {}

  /** The gateway's stdout and stderr so far (its last ~100 kB): its log, for a run that failed. */
  get output(): string {
    return this.log.text;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/stream`;
  }

  get pid(): number {
    return this.gateway.pid ?? 0;
  }

  /**
   * @param nodeArgs options for the gateway's `node` (e.g. `--cpu-prof`): its workers inherit them
   *   (`fork` passes the supervisor's execArgv on).
   */
  static async start(
    extraArgs: readonly string[] = [],
    natsUrl = "",
    nodeArgs: readonly string[] = [],
  ): Promise<LocalTarget> {
    const nats = natsUrl === "" ? await NatsServerProcess.start({ monitorPort: 0 }) : undefined;
    const url = nats?.url ?? natsUrl;
    // One process unless extraArgs say otherwise (the last flag wins): the harness measures the server's
    // CPU on the gateway's pid, which is the supervisor's, not its workers', when --workers > 1.
    const args = [
      "serve",
      "--nats",
      url,
      "--port",
      "0",
      "--log-level",
      "info",
      "--workers",
      "1",
      ...extraArgs,
    ];
    const child = spawn(process.execPath, [...nodeArgs, "--import", tsxImport(), CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const log = { text: "" };
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`gateway did not start within 20 s:\n${log.text}`)),
          20_000,
        );
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          log.text += chunk;
          const match =
            /"port":(\d+)[^\n]*"msg":"gateway listening"|"msg":"gateway listening"[^\n]*"port":(\d+)/.exec(
              log.text,
            );
          if (match !== null) {
            clearTimeout(timer);
            resolve(Number(match[1] ?? match[2]));
          }
          // Keep only the tail: a long run logs little, but never grow without bound.
          if (log.text.length > 100_000) log.text = log.text.slice(-50_000);
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (log.text += chunk));
        child.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`gateway exited (code ${code}) before listening:\n${log.text}`));
        });
      });
      return new LocalTarget(nats, url, child, port, exited, log);
    } catch (error) {
      child.kill("SIGKILL");
      await nats?.dispose();
      throw error;
    }
  }

  /** SIGTERM (the gateway drains and exits), SIGKILL after 15 s; then stops the nats-server it started. */
  async stop(): Promise<void> {
    if (this.gateway.exitCode === null && this.gateway.signalCode === null) {
      const timer = setTimeout(() => this.gateway.kill("SIGKILL"), 15_000);
      this.gateway.kill("SIGTERM");
      await this.exited;
      clearTimeout(timer);
    }
    await this.nats?.dispose();
  }
}
