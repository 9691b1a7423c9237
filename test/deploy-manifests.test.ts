import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { OPTIONS, loadConfig, loadHistoryAdminConfig, type Config } from "../src/config/index.ts";
import { WORKER_STOP_MARGIN_MS } from "../src/supervisor/index.ts";
import { startStack, type Stack } from "./helpers/stack.ts";

const url = (path: string): URL => new URL(`../${path}`, import.meta.url);
const read = (path: string): string => readFileSync(url(path), "utf8");
const OPTION_ENV = new Set(OPTIONS.flatMap((o) => o.env));

/** Every variable must be a real option, and together they must pass the service's own validation. */
function configFromEnv(env: Record<string, string>, where: string): Readonly<Config> {
  for (const name of Object.keys(env)) {
    if (name === "NODE_ENV") continue;
    assert.ok(OPTION_ENV.has(name), `${where}: ${name} is not an option's environment variable`);
  }
  return loadConfig([], env);
}

interface Probe {
  httpGet: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  image: string;
  ports: { name: string; containerPort: number }[];
  env: { name: string; value: string }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: { cpu?: string }; limits?: { cpu?: string } };
}
interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

describe("Kubernetes manifests (deploy/kubernetes) agree with the service", () => {
  const manifests: Manifest[] = readdirSync(url("deploy/kubernetes"))
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) =>
      parseAllDocuments(read(`deploy/kubernetes/${f}`)).map((doc) => {
        assert.deepEqual(doc.errors, [], f);
        return doc.toJS() as Manifest;
      }),
    );
  const only = (kind: string): Manifest => {
    const found = manifests.filter((m) => m.kind === kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0] as Manifest;
  };
  const deployment = only("Deployment").spec as {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: { terminationGracePeriodSeconds: number; containers: Container[] };
    };
  };
  const pod = deployment.template.spec;
  const container = pod.containers[0] as Container;
  const gatewayImage = container.image;
  const config = configFromEnv(
    Object.fromEntries(container.env.map((e) => [e.name, e.value])),
    "deployment.yaml",
  );
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });

  after(async () => {
    await stack?.close();
  });

  it("every environment variable is an option with a valid value; NATS is a cluster service", () => {
    assert.match(natsUrlOf(config), /^nats:\/\/[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local:\d+$/);
    assert.equal(config.gateway.host, "0.0.0.0");
  });

  it("probes use /readyz and /healthz on the container's port, and the gateway answers both", async () => {
    const port = container.ports.find((p) => p.containerPort === config.gateway.port);
    assert.ok(port, `a container port ${config.gateway.port} (TICKWIRE_PORT)`);
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      assert.equal(probe.httpGet.port, port.name);
      assert.equal((await fetch(`${stack.httpUrl}${probe.httpGet.path}`)).status, 200, probe.httpGet.path);
    }
  });

  it("Prometheus scrapes the --metrics-port listener, a container port the Service does not publish", async () => {
    const metricsPort = config.gateway.metricsPort;
    assert.ok(metricsPort > 0 && metricsPort !== config.gateway.port, "TICKWIRE_METRICS_PORT is set");
    assert.ok(
      container.ports.some((p) => p.containerPort === metricsPort),
      "a container port for it",
    );
    assert.equal(deployment.template.metadata.annotations["prometheus.io/port"], String(metricsPort));
    const service = only("Service").spec as { ports: { port: number; targetPort?: number | string }[] };
    for (const p of service.ports) {
      assert.notEqual(p.port, metricsPort);
      assert.notEqual(p.targetPort, metricsPort);
      assert.notEqual(p.targetPort, "metrics");
    }
    assert.equal((await fetch(`${stack.httpUrl}/metrics`)).status, 200);
  });

  it("preStop, drain delay, shutdown grace and terminationGracePeriodSeconds agree", () => {
    const command = container.lifecycle?.preStop?.exec?.command ?? [];
    assert.equal(command[0], "sleep");
    const preStopMs = Number(command[1]) * 1000;
    assert.ok(preStopMs > 0, "preStop sleeps");
    // Clients phase and NATS drain are each bounded by --shutdown-grace-ms (src/node/node.ts); with
    // workers, the supervisor waits a margin more before it kills a worker that overstays.
    const margin = config.process.workers === 1 ? 0 : WORKER_STOP_MARGIN_MS;
    const worstStopMs =
      preStopMs + config.lifecycle.drainDelayMs + 2 * config.lifecycle.shutdownGraceMs + margin;
    assert.ok(
      pod.terminationGracePeriodSeconds * 1000 > worstStopMs,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} s ≤ worst stop ${worstStopMs} ms`,
    );
    // A load balancer probing /readyz sees the pod unready before any client is closed.
    const readiness = container.readinessProbe;
    const unreadySeenMs = (readiness.periodSeconds ?? 10) * (readiness.failureThreshold ?? 3) * 1000;
    assert.ok(
      unreadySeenMs <= preStopMs + config.lifecycle.drainDelayMs,
      "readiness notices the drain in time",
    );
  });

  it("TICKWIRE_WORKERS is set explicitly, one worker per CPU of the limit (and request)", () => {
    // 0 would mean one per CPU Node sees: the node's, not the limit's (deploy/kubernetes/deployment.yaml).
    assert.ok(
      container.env.some((e) => e.name === "TICKWIRE_WORKERS"),
      "TICKWIRE_WORKERS set",
    );
    assert.ok(config.process.workers > 0, "an explicit worker count");
    assert.equal(String(config.process.workers), container.resources?.limits?.cpu, "limits.cpu");
    assert.equal(String(config.process.workers), container.resources?.requests?.cpu, "requests.cpu");
  });

  it("Service and PodDisruptionBudget select the Deployment's pods; the Service targets the named port", () => {
    const labels = deployment.template.metadata.labels;
    const matches = (selector: Record<string, string>): boolean =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(matches(deployment.selector.matchLabels));
    const service = only("Service").spec as {
      selector: Record<string, string>;
      ports: { targetPort: string }[];
    };
    assert.ok(matches(service.selector));
    for (const p of service.ports)
      assert.ok(
        container.ports.some((c) => c.name === p.targetPort),
        p.targetPort,
      );
    const pdb = only("PodDisruptionBudget").spec as { selector: { matchLabels: Record<string, string> } };
    assert.ok(matches(pdb.selector.matchLabels));
  });

  it("the JetStream Job runs tickwire history create for the stream the gateways read, on their NATS", () => {
    const job = only("Job").spec as {
      template: { spec: { containers: { image: string; command?: string[]; args: string[] }[] } };
    };
    const container = job.template.spec.containers[0];
    assert.equal(
      container?.image,
      gatewayImage,
      "the tickwire image, whose entrypoint is the tickwire command",
    );
    assert.equal(container.command, undefined, "the image's entrypoint runs");
    const args = container.args;
    assert.deepEqual(args.slice(0, 2), ["history", "create"]);
    const history = loadHistoryAdminConfig(args.slice(2), {});
    assert.equal(history.nats.servers.join(","), natsUrlOf(config));
    assert.equal(history.stream.name, historyStreamOf(config));
    assert.equal(history.stream.subjectPrefix, config.nats.subjectPrefix);
  });
});

describe("Dockerfile and docker-compose.yml agree with the service and the tested configs", () => {
  const dockerfile = read("Dockerfile");
  // merge: the gateways take their common keys (cpus, image …) from `<<: *gateway`.
  const compose = parse(read("docker-compose.yml"), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        environment?: Record<string, string>;
        volumes?: string[];
        command?: string[];
        cpus?: number;
      }
    >;
  };
  const gateways = Object.entries(compose.services).filter(([name]) => name.startsWith("gateway-"));

  it("the Dockerfile's ENV are options, its EXPOSE is its port, its HEALTHCHECK asks /healthz", () => {
    const env: Record<string, string> = {};
    const block = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)?.[1] ?? "";
    for (const [, name, value] of block.matchAll(/([A-Z_]+)=("[^"]*"|\S+)/g))
      env[name as string] = (value as string).replace(/^"|"$/g, "");
    const config = configFromEnv(env, "Dockerfile");
    assert.equal(config.gateway.host, "0.0.0.0");
    assert.match(dockerfile, new RegExp(`^EXPOSE ${config.gateway.port}$`, "m"));
    assert.match(dockerfile, /^HEALTHCHECK [^\n]*\\\n[^\n]*\/healthz/m);
    assert.match(dockerfile, /^STOPSIGNAL SIGTERM$/m);
    assert.match(dockerfile, /^USER tickwire$/m);
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  });

  it("two gateways with valid options on the ports of nginx's upstream and Prometheus's targets", () => {
    assert.equal(gateways.length, 2);
    const nginx = read("deploy/nginx/tickwire.conf");
    const upstream = [...nginx.matchAll(/^\s*server (127\.0\.0\.1:\d+)/gm)].map((m) => m[1]);
    const prometheus = parse(read("deploy/prometheus/prometheus.yml")) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = prometheus.scrape_configs.find((c) => c.job_name === "tickwire")?.static_configs[0]
      ?.targets;
    const addresses = gateways.map(([name, service]) => {
      const config = configFromEnv(service.environment ?? {}, `docker-compose.yml ${name}`);
      // Both gateways reach every node of the cluster.
      const natsPorts = natsUrlOf(config)
        .split(",")
        .map((u) => Number(u.split(":").at(-1)));
      assert.deepEqual([...natsPorts].sort(), [4222, 4223, 4224], name);
      return `${config.gateway.host}:${config.gateway.port}`;
    });
    assert.deepEqual(addresses, upstream);
    assert.deepEqual(addresses, targets);
  });

  it("each gateway runs one worker per CPU it is given (TICKWIRE_WORKERS = cpus)", () => {
    for (const [name, service] of gateways) {
      const config = configFromEnv(service.environment ?? {}, `docker-compose.yml ${name}`);
      assert.ok(config.process.workers > 0, `${name}: an explicit worker count`);
      assert.equal(config.process.workers, service.cpus, `${name}: cpus`);
    }
  });

  it("NATS nodes form one JetStream cluster: each routes to the other two", () => {
    const nodes = ["nats-1", "nats-2", "nats-3"].map((name) => {
      const command = compose.services[name]?.command ?? [];
      const flag = (f: string): string =>
        command.find((a) => a.startsWith(`--${f}=`))?.slice(f.length + 3) ?? "";
      assert.ok(command.includes("--jetstream"), name);
      return { cluster: flag("cluster"), routes: flag("routes").split(",") };
    });
    for (const node of nodes)
      assert.deepEqual(
        [...node.routes].sort(),
        nodes
          .filter((n) => n !== node)
          .map((n) => n.cluster)
          .sort(),
      );
  });

  it("nginx and Prometheus mount the very files the tests run; the stream is the Kubernetes Job's", () => {
    assert.ok(compose.services["nginx"]?.volumes?.some((v) => v.startsWith("./deploy/nginx/tickwire.conf:")));
    assert.ok(compose.services["prometheus"]?.volumes?.some((v) => v.startsWith("./deploy/prometheus:")));
    assert.ok(existsSync(url("deploy/prometheus/tickwire-rules.yml")));
    const job = parse(read("deploy/kubernetes/nats-stream-job.yaml")) as {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    const withoutServer = (command: readonly string[]): string[] =>
      command.filter((a) => !a.startsWith("--nats="));
    assert.deepEqual(
      withoutServer(compose.services["nats-stream"]?.command ?? []),
      withoutServer(job.spec.template.spec.containers[0]?.args ?? []),
    );
    // The image the gateways build (x-gateway: image + build .), whose entrypoint is the tickwire command.
    assert.equal(compose.services["nats-stream"]?.image, "localhost/tickwire:latest");
    assert.match(
      read("docker-compose.yml"),
      /^x-gateway: &gateway\n {2}image: localhost\/tickwire:latest\n {2}build: \.$/m,
    );
  });
});

/** The NATS URLs of an external-mode config, comma-separated as TICKWIRE_NATS_URL takes them. */
function natsUrlOf(config: Readonly<Config>): string {
  const servers = config.nats.servers;
  assert.equal(servers.mode, "external", "a deployment names its NATS servers");
  return servers.mode === "external" ? servers.urls.join(",") : "";
}

/** The feed-history stream name, or "off". */
function historyStreamOf(config: Readonly<Config>): string {
  const stream = config.history.stream;
  return stream.mode === "jetstream" ? stream.stream : "off";
}
