/**
 * Architecture rules (STYLE.md): dependencies point inward,
 * cli → supervisor → process → node → {gateway, ingest, metrics, embedded} → fanout → subscriptions → protocol → wire;
 * process/ is what runs once per machine (embedded nats-server, demo feed, signals, shutdown order),
 * supervisor/ runs N worker processes of one node each on one port (`--workers N`) above process/;
 * node/ is one listening node (the workers issue runs several per machine); errors/ is innermost: any
 * folder may throw its errors.
 * uWebSockets.js only in gateway/, the NATS client only in ingest/; folders talk through index.ts.
 * wire/ is the protocol's vocabulary (codes, event types, topic grammar): pure and browser-safe, so the
 * server (through protocol/) and the SDK (client/, bundled for browsers) share one copy of it.
 * loadtest/ (the load harness) sits outside: it may use src/ folders through index.ts, never the reverse.
 * jose only in auth/ (the one place tokens are verified).
 * client/ (the SDK) runs in browsers too: it imports nothing from the rest of src/ but wire/, and no Node built-in.
 * Every rule says why in its comment; depcruise prints it beside a violation.
 */
const layer = (name) => `^src/${name}/`;
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "a cycle makes the load order matter and the layers meaningless",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "uws-only-in-gateway",
      comment: "one adapter folder for uWebSockets.js, so a newer uWS can be swapped in (BRIEF.md, Stack)",
      severity: "error",
      from: { pathNot: layer("gateway") },
      to: { path: "uWebSockets\\.js|uws-js-unofficial" },
    },
    {
      name: "nats-only-in-ingest",
      comment: "one owner of the NATS client; everything else sees plain events (STYLE.md, Layout)",
      severity: "error",
      from: { pathNot: layer("ingest") },
      to: { path: "node_modules/nats/" },
    },
    {
      name: "jose-only-in-auth",
      comment:
        "token verification has one home (src/auth/): one place decides algorithms, keys and claims, so an " +
        "algorithm-confusion or alg:none mistake cannot creep in through a second jwtVerify call elsewhere",
      severity: "error",
      from: { pathNot: layer("auth") },
      to: { path: "node_modules/jose/" },
    },
    {
      name: "auth-inward",
      comment:
        "auth/ verifies tokens and reads key files; it knows the protocol's pattern grammar, nothing else",
      severity: "error",
      from: { path: layer("auth") },
      to: { path: "^src/(?!(auth|protocol|wire|errors)/)", pathNot: "^src/metrics/descriptor\\.ts$" },
    },
    {
      name: "wire-imports-nothing",
      comment:
        "wire/ is shared with the browser SDK: nothing else from src/ (that would drag server code into the bundle)",
      severity: "error",
      from: { path: layer("wire") },
      to: { path: "^src/(?!wire/)" },
    },
    {
      name: "wire-no-dependencies",
      comment: "wire/ is plain vocabulary for browsers and Node alike: no Node built-in, no npm package",
      severity: "error",
      from: { path: layer("wire") },
      to: {
        dependencyTypes: ["core", "npm", "npm-dev", "npm-optional", "npm-peer", "npm-no-pkg", "npm-unknown"],
      },
    },
    {
      name: "protocol-is-pure",
      comment:
        "protocol/ (codec, requests, feed format) builds on wire/ (and throws from errors/) only, so it can be tested without I/O",
      severity: "error",
      from: { path: layer("protocol") },
      to: { path: "^src/(?!(protocol|wire|errors)/)" },
    },
    {
      name: "subscriptions-inward",
      comment: "the topic tables know the protocol, not who feeds or reads them",
      severity: "error",
      from: { path: layer("subscriptions") },
      to: { path: "^src/(?!(subscriptions|protocol|wire)/)" },
    },
    {
      name: "fanout-inward",
      comment:
        "the hot path owns small interfaces (FrameSink, InterestListener) that the adapters implement; " +
        "metrics/descriptor.ts: see stats-describe-metrics",
      severity: "error",
      from: { path: layer("fanout") },
      to: {
        path: "^src/(?!(fanout|subscriptions|protocol|wire|errors)/)",
        pathNot: "^src/metrics/descriptor\\.ts$",
      },
    },
    {
      name: "stats-describe-metrics",
      comment:
        "stats classes declare their metrics beside their counters with metrics/descriptor.ts, the one pure " +
        "file of metrics/ (no prom-client): only the stats files import it, and nothing else of metrics/",
      severity: "error",
      from: { path: "^src/(?!metrics/)", pathNot: "^src/(fanout|ingest|gateway|auth)/stats\\.ts$" },
      to: { path: "^src/metrics/descriptor\\.ts$" },
    },
    {
      name: "errors-innermost",
      comment: "the error catalogue is thrown from every layer, so it depends on none of them",
      severity: "error",
      from: { path: layer("errors") },
      to: { path: "^src/(?!errors/)" },
    },
    {
      name: "node-not-process",
      comment:
        "a node is built N times per process (workers issue): it never reaches the once-per-machine layer " +
        "(embedded nats-server, demo feed, signals) nor the CLI",
      severity: "error",
      from: { path: layer("node") },
      to: { path: "^src/(process|supervisor|cli|embedded)/" },
    },
    {
      name: "supervisor-only-from-cli",
      comment:
        "supervisor/ forks worker processes and owns the port for them: it is the top of the process layer, " +
        "reached only by the CLI; process/ and node/ (what a worker runs) never reach back up into it",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(cli|supervisor)/" },
      to: { path: layer("supervisor") },
    },
    {
      name: "fanout-no-io",
      comment: "the pure layers do no I/O: unit tests run them without sockets, files or processes",
      severity: "error",
      from: { path: "^src/(fanout|subscriptions|protocol|wire)/" },
      to: {
        path: "^(node:)?(net|http|https|fs|child_process|dgram|worker_threads)$",
        dependencyTypes: ["core"],
      },
    },
    {
      name: "client-standalone",
      comment:
        "the SDK is bundled for browsers: no server code; it shares the protocol's vocabulary through wire/",
      severity: "error",
      from: { path: layer("client") },
      to: { path: "^src/(?!(client|wire)/)" },
    },
    {
      name: "client-no-node-builtins",
      comment: "the SDK runs in browsers; Node's ws is loaded on demand by name, not imported",
      severity: "error",
      from: { path: layer("client") },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "dashboard-uses-only-the-sdk",
      comment: "browser code: it reaches the gateway through the SDK only",
      severity: "error",
      from: { path: layer("dashboard") },
      to: { path: "^src/(?!(dashboard|client)/)" },
    },
    {
      name: "metrics-standalone",
      comment: "metrics/ reads plain counters it is handed; it must not reach into what it measures",
      severity: "error",
      from: { path: layer("metrics") },
      to: { path: "^src/(?!metrics/)" },
    },
    {
      name: "adapters-not-composition",
      comment: "only cli/ and process/ may use the composition layers (process/, node/)",
      severity: "error",
      from: {
        path: "^src/(gateway|ingest|metrics|embedded|fanout|subscriptions|protocol|config|logging|client|web|dashboard|wire|errors|auth)/",
      },
      to: { path: "^src/(node|process|cli)/" },
    },
    {
      name: "no-deep-imports",
      comment: "import another folder through its index.ts",
      severity: "error",
      from: { path: "^src/([^/]+)/" },
      to: {
        path: "^src/([^/]+)/(?!index\\.ts$)[^/]+$",
        pathNot: ["^src/$1/", "^src/metrics/descriptor\\.ts$"],
      },
    },
    {
      name: "service-not-harness",
      comment: "the service never depends on its load harness",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^loadtest/" },
    },
    {
      name: "harness-through-index",
      comment: "loadtest/ uses the service's folders through their index.ts only",
      severity: "error",
      from: { path: "^loadtest/" },
      to: { path: "^src/[^/]+/(?!index\\.ts$)[^/]+$" },
    },
    {
      name: "harness-no-uws",
      comment: "the harness drives any ws:// target over the network: no uWebSockets.js, no hub internals",
      severity: "error",
      from: { path: "^loadtest/" },
      to: { path: "uWebSockets\\.js|uws-js-unofficial|^src/(gateway|fanout|subscriptions)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    exclude: { path: "\\.test(-support)?\\.ts$" },
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
    },
  },
};
