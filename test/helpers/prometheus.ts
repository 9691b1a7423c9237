import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { Daemon, freePort, waitFor } from "./daemon.ts";

export const PROMETHEUS_DIR = fileURLToPath(new URL("../../deploy/prometheus/", import.meta.url));

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  static_configs: { targets: string[] }[];
}

interface PrometheusConfig {
  global: { scrape_interval: string; evaluation_interval: string };
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}

/**
 * Debian's Prometheus run with deploy/prometheus/prometheus.yml, its targets replaced by `targets`, its
 * intervals shortened, its rule files taken from deploy/prometheus/, and its storage in a temp directory.
 */
export class Prometheus {
  private constructor(
    readonly daemon: Daemon,
    readonly dir: string,
    readonly url: string,
  ) {}

  static async start(targets: readonly string[], intervalS = 1): Promise<Prometheus> {
    const config = parse(readFileSync(join(PROMETHEUS_DIR, "prometheus.yml"), "utf8")) as PrometheusConfig;
    const job = config.scrape_configs.find((c) => c.job_name === "tickwire");
    if (job === undefined) throw new Error("deploy/prometheus/prometheus.yml has no tickwire job");
    job.static_configs = [{ targets: [...targets] }];
    config.global.scrape_interval = `${intervalS}s`;
    config.global.evaluation_interval = `${intervalS}s`;
    config.rule_files = config.rule_files.map((file) => join(PROMETHEUS_DIR, file));
    const dir = mkdtempSync(join(tmpdir(), "tickwire-prometheus-"));
    const file = join(dir, "prometheus.yml");
    writeFileSync(file, stringify(config));
    const port = await freePort();
    const daemon = Daemon.start("prometheus", [
      `--config.file=${file}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    const prometheus = new Prometheus(daemon, dir, `http://127.0.0.1:${port}`);
    try {
      await waitFor(
        async () => (await fetch(`${prometheus.url}/-/ready`)).ok,
        "prometheus ready",
        daemon,
        60_000,
      );
    } catch (error) {
      await prometheus.close();
      throw error;
    }
    return prometheus;
  }

  /** An instant query; returns the result vector. */
  async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; data: { result: [] } };
    if (body.status !== "success") throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
    return body.data.result;
  }

  /** Active (pending or firing) alerts. */
  async alerts(): Promise<{ labels: Record<string, string>; state: string }[]> {
    const body = (await (await fetch(`${this.url}/api/v1/alerts`)).json()) as {
      data: { alerts: { labels: Record<string, string>; state: string }[] };
    };
    return body.data.alerts;
  }

  async close(): Promise<void> {
    await this.daemon.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
