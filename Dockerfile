# tickwire gateway image. Build: docker build -t tickwire .   (podman: podman build --format docker -t tickwire .)
# Run (embedded mode: its own nats-server and a demo feed): docker run -p 9000:9000 tickwire
# Run against your NATS: docker run -p 9000:9000 -e NATS_URL=nats://nats:4222 tickwire
# Tested by test/container.test.ts (`npm run test:container`): build, /readyz, demo prices, `stop` drains with 1001.

# The base image: an official Node.js 20 on Debian 12. The test passes a local stand-in built without a registry.
ARG NODE_IMAGE=node:20-bookworm-slim

# Build stage: dev dependencies, compile TypeScript, bundle the dashboard and SDK into dist/public/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-web.ts scripts/
COPY src src
RUN npm run build

# Production dependencies only (uWebSockets.js ships prebuilt binaries: no compiler needed).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

# Runtime stage: node, nats-server (for embedded mode), the compiled service, production dependencies.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin tickwire
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json LICENSE ./

# Configuration is environment variables: every option of `tickwire serve --help` (README "Configuration")
# has one. Set here: listen on all interfaces (the default 127.0.0.1 is unreachable from outside a container)
# on port 9000. NATS_URL empty = embedded mode; set it (nats://host:4222[,…]) to use your NATS cluster.
# Useful to set at run time: TICKWIRE_DRAIN_DELAY_MS, TICKWIRE_SHUTDOWN_GRACE_MS (keep the orchestrator's
# stop timeout above their sum plus the same grace again for the NATS drain), TICKWIRE_LOG_LEVEL.
ENV NODE_ENV=production \
    TICKWIRE_HOST=0.0.0.0 \
    TICKWIRE_PORT=9000 \
    NATS_URL=""
EXPOSE 9000
USER tickwire

# Liveness only (/readyz is for load balancers: it is 503 while NATS is down or while draining).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.TICKWIRE_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# SIGTERM starts the graceful drain: clients get 1001 with retryAfterMs. Give `docker stop -t` enough time.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli/index.js"]
CMD ["serve"]
