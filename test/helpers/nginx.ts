import { chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon, freePort, waitFor } from "./daemon.ts";
import { makeTestCertificates, type TestCertificates } from "./tls.ts";

const SITE = new URL("../../deploy/nginx/tickwire.conf", import.meta.url);

/** One copy of deploy/nginx/tickwire.conf, with what a user would edit set for the test. */
export interface SiteOptions {
  /** Upstream name (the shipped file's is `tickwire`); a second site needs another. */
  readonly upstream: string;
  /** Gateway ports on 127.0.0.1. */
  readonly gateways: readonly number[];
  /** proxy_read_timeout, e.g. "3s" (the shipped file's when absent). */
  readonly readTimeout?: string;
}

/** Debian's nginx run unprivileged with its own prefix in a temp directory, one TLS port per site. */
export class Nginx {
  private constructor(
    readonly daemon: Daemon,
    readonly dir: string,
    readonly certificates: TestCertificates,
    /** The listening port of each site, in the order given. */
    readonly ports: readonly number[],
  ) {}

  static async start(sites: readonly SiteOptions[]): Promise<Nginx> {
    const dir = mkdtempSync(join(tmpdir(), "tickwire-nginx-"));
    const certificates = makeTestCertificates(dir);
    const ports: number[] = [];
    const includes: string[] = [];
    for (const [index, site] of sites.entries()) {
      const port = await freePort();
      ports.push(port);
      const path = join(dir, `site-${index}.conf`);
      writeFileSync(path, renderSite(site, port, certificates, index === 0));
      includes.push(`  include ${path};`);
    }
    const conf = join(dir, "nginx.conf");
    const temp = (name: string): string => `  ${name} ${join(dir, name.replace("_path", ""))};`;
    writeFileSync(
      conf,
      [
        "daemon off;",
        "worker_processes 1;",
        `pid ${join(dir, "nginx.pid")};`,
        "error_log stderr info;",
        "events { worker_connections 512; }",
        "http {",
        "  access_log off;",
        ...[
          "client_body_temp_path",
          "proxy_temp_path",
          "fastcgi_temp_path",
          "uwsgi_temp_path",
          "scgi_temp_path",
        ].map(temp),
        ...includes,
        "}",
        "",
      ].join("\n"),
    );
    // Unprivileged: as root (CI), nginx runs as nobody and owns its prefix; otherwise as the caller.
    const asRoot = process.getuid?.() === 0;
    if (asRoot)
      for (const path of [dir, ...readdirSync(dir).map((f) => join(dir, f))]) chownSync(path, 65534, 65534);
    const daemon = Daemon.start("nginx", ["-p", `${dir}/`, "-c", conf, "-e", "stderr"], {
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    const nginx = new Nginx(daemon, dir, certificates, ports);
    try {
      for (const port of ports) await waitFor(() => canConnect(port), `nginx listening on ${port}`, daemon);
    } catch (error) {
      await nginx.close();
      throw error;
    }
    return nginx;
  }

  /** wss://127.0.0.1:PORT/v1/stream of site `index`. */
  wsUrl(index = 0): string {
    return `wss://127.0.0.1:${this.ports[index]}/v1/stream`;
  }

  async close(): Promise<void> {
    await this.daemon.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The shipped site file with its listen address, certificate paths, upstream servers and (when asked)
 * read timeout replaced. Each replacement must match, so the test fails when the file changes shape.
 */
export function renderSite(
  site: SiteOptions,
  port: number,
  certificates: TestCertificates,
  first: boolean,
): string {
  let text = readFileSync(SITE, "utf8");
  const replace = (pattern: RegExp, by: string, what: string): void => {
    if (!pattern.test(text))
      throw new Error(`deploy/nginx/tickwire.conf has no ${what} (${String(pattern)})`);
    text = text.replace(pattern, by);
  };
  replace(
    /^(upstream tickwire \{[^}]*?)(\n\s*server [^;]+;)+/m,
    `$1${serverLines(site.gateways)}`,
    "upstream servers",
  );
  replace(/^upstream tickwire \{/m, `upstream ${site.upstream} {`, "upstream tickwire");
  replace(
    /^(\s*)proxy_pass http:\/\/tickwire;/m,
    `$1proxy_pass http://${site.upstream};`,
    "proxy_pass to the upstream",
  );
  replace(/^(\s*)listen 443 ssl;/m, `$1listen 127.0.0.1:${port} ssl;`, "listen 443 ssl");
  replace(/^(\s*)server_name [^;]+;/m, "$1server_name localhost;", "server_name");
  replace(/^(\s*)ssl_certificate\s+\S+;/m, `$1ssl_certificate ${certificates.certPath};`, "ssl_certificate");
  replace(
    /^(\s*)ssl_certificate_key\s+\S+;/m,
    `$1ssl_certificate_key ${certificates.keyPath};`,
    "ssl_certificate_key",
  );
  if (site.readTimeout !== undefined)
    replace(
      /^(\s*)proxy_read_timeout \S+;/m,
      `$1proxy_read_timeout ${site.readTimeout};`,
      "proxy_read_timeout",
    );
  if (!first) {
    // http-level definitions may appear once per nginx: a second copy of the site reuses the first's.
    replace(/^map \$http_upgrade \$tickwire_connection \{[^}]*\}\n/m, "", "the Connection map");
    replace(/^[ \t]*ssl_session_cache [^;]+;\n/m, "", "ssl_session_cache");
  }
  return text;
}

function serverLines(ports: readonly number[]): string {
  return ports.map((port) => `\n    server 127.0.0.1:${port} max_fails=1 fail_timeout=5s;`).join("");
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
