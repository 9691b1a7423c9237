import { CliProcess } from "./process.ts";

/**
 * `tickwire serve` as a child process against a given NATS, for tests that stop, restart or freeze
 * the gateway under a live client (an in-process gateway cannot be frozen with the test runner).
 */
export class GatewayChild {
  #cli: CliProcess;

  private constructor(
    cli: CliProcess,
    public port: number,
    private readonly args: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.#cli = cli;
  }

  /** Starts a gateway on `port` (0: any free port) with extra serve flags. */
  static async start(natsUrl: string, extra: readonly string[] = []): Promise<GatewayChild> {
    return GatewayChild.#start(["serve", "--nats", natsUrl, ...extra], {});
  }

  /** Embedded mode: the gateway starts its own nats-server and demo feed (stopped with it). */
  static async embedded(extra: readonly string[] = []): Promise<GatewayChild> {
    return GatewayChild.#start(["serve", ...extra], { NATS_URL: "" });
  }

  static async #start(args: readonly string[], env: NodeJS.ProcessEnv): Promise<GatewayChild> {
    const cli = CliProcess.run([...args, "--port", "0"], env);
    return new GatewayChild(cli, await cli.port(), args, env);
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/stream`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get process(): CliProcess {
    return this.#cli;
  }

  /** SIGTERM: clients get 1001 with the retry hint; waits for exit 0. */
  async stop(): Promise<void> {
    if (this.#cli.child.exitCode !== null || this.#cli.child.signalCode !== null) return;
    this.#cli.child.kill("SIGCONT"); // a frozen process would never handle SIGTERM
    this.#cli.child.kill("SIGTERM");
    const exit = await this.#cli.exit();
    if (exit.code !== 0) throw new Error(`gateway exited ${JSON.stringify(exit)}:\n${this.#cli.stderr}`);
  }

  /**
   * Starts a new gateway process with the same flags (after {@link stop}) on a new port: the old
   * port's closed connections sit in TIME_WAIT and uWS cannot bind it again for a while, so tests
   * that need a stable address put a {@link TcpProxy} in front.
   */
  async restart(): Promise<void> {
    const cli = CliProcess.run([...this.args, "--port", "0"], this.env);
    this.port = await cli.port();
    this.#cli = cli;
  }

  /** SIGSTOP: the process keeps its sockets open but answers nothing (a silent peer). */
  freeze(): void {
    this.#cli.child.kill("SIGSTOP");
  }

  thaw(): void {
    this.#cli.child.kill("SIGCONT");
  }
}
