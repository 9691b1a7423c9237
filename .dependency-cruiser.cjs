/**
 * Architecture rules (STYLE.md): dependencies point inward,
 * cli → process → node → {gateway, ingest, metrics, embedded} → fanout → subscriptions → protocol;
 * process/ is what runs once per machine (embedded nats-server, demo feed, signals, shutdown order),
 * node/ is one listening node (the workers issue runs several per machine); errors/ is innermost: any
 * folder may throw its errors.
 * uWebSockets.js only in gateway/, the NATS client only in ingest/; folders talk through index.ts.
 * loadtest/ (the load harness) sits outside: it may use src/ folders through index.ts, never the reverse.
 * jose only in auth/ (the one place tokens are verified).
 * client/ (the SDK) runs in browsers too: it imports nothing from the rest of src/ and no Node built-in.
 */
const layer = (name) => `^src/${name}/`;
module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", from: {}, to: { circular: true } },
    {
      name: "uws-only-in-gateway",
      severity: "error",
      from: { pathNot: layer("gateway") },
      to: { path: "uWebSockets\\.js|uws-js-unofficial" },
    },
    {
      name: "nats-only-in-ingest",
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
      to: { path: "^src/(?!(auth|protocol|errors)/)" },
    },
    {
      name: "protocol-is-pure",
      severity: "error",
      from: { path: layer("protocol") },
      to: { path: "^src/(?!protocol/)" },
    },
    {
      name: "subscriptions-inward",
      severity: "error",
      from: { path: layer("subscriptions") },
      to: { path: "^src/(?!(subscriptions|protocol)/)" },
    },
    {
      name: "fanout-inward",
      comment: "metrics/descriptor.ts: see stats-describe-metrics",
      severity: "error",
      from: { path: layer("fanout") },
      to: {
        path: "^src/(?!(fanout|subscriptions|protocol|errors)/)",
        pathNot: "^src/metrics/descriptor\\.ts$",
      },
    },
    {
      name: "stats-describe-metrics",
      comment:
        "stats classes declare their metrics beside their counters with metrics/descriptor.ts, the one pure " +
        "file of metrics/ (no prom-client): only the stats files import it, and nothing else of metrics/",
      severity: "error",
      from: { path: "^src/(?!metrics/)", pathNot: "^src/(fanout|ingest|gateway)/stats\\.ts$" },
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
      to: { path: "^src/(process|cli|embedded)/" },
    },
    {
      name: "fanout-no-io",
      severity: "error",
      from: { path: "^src/(fanout|subscriptions|protocol)/" },
      to: {
        path: "^(node:)?(net|http|https|fs|child_process|dgram|worker_threads)$",
        dependencyTypes: ["core"],
      },
    },
    {
      name: "client-standalone",
      comment: "the SDK is bundled for browsers: no server code (its protocol constants are tested equal)",
      severity: "error",
      from: { path: layer("client") },
      to: { path: "^src/(?!client/)" },
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
      severity: "error",
      from: { path: layer("metrics") },
      to: { path: "^src/(?!metrics/)" },
    },
    {
      name: "adapters-not-composition",
      comment: "only cli/ and process/ may use the composition layers (process/, node/)",
      severity: "error",
      from: {
        path: "^src/(gateway|ingest|metrics|embedded|fanout|subscriptions|protocol|config|logging|client|web|dashboard|errors|auth)/",
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
