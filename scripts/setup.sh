#!/usr/bin/env bash
# Installs what tickwire needs on Debian/Ubuntu with Node.js 20: OS packages, then `npm ci`.
#   bash scripts/setup.sh          # to run the service (nats-server)
#   bash scripts/setup.sh --test   # also what the test suite needs (Python client packages, Chromium,
#                                  # nginx, Prometheus/promtool, openssl, libfaketime)
#   bash scripts/setup.sh --container  # also podman, runc, debootstrap for `npm run test:container`
# Idempotent: installs only what is missing; runs `apt-get update` at most once.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(nats-server)
if [[ "${1:-}" == "--test" ]]; then
  # chromium: the dashboard test drives Debian's browser with playwright-core (no browser download).
  packages+=(python3-websockets python3-msgpack chromium)
  # deploy/ tests: nginx in front of real gateways, promtool and a real Prometheus, a test CA with openssl.
  packages+=(nginx prometheus openssl)
  # The gateway-clock test starts a gateway under libfaketime with a slow clock, then corrects it.
  packages+=(faketime)
fi
if [[ "${1:-}" == "--container" ]]; then
  # The container test only (never the normal path): podman builds and runs the Dockerfile; crun fails on
  # this machine kind, runc works; debootstrap makes the base image without a registry (CONTAINERS.md).
  packages+=(podman runc debootstrap)
fi

major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo none)"
if [[ "$major" != "20" ]]; then
  echo "setup: tickwire needs Node.js 20 (found: $major); uWebSockets.js ships no binary for other versions here." >&2
  exit 1
fi

sudo=""
if [[ "$(id -u)" != "0" ]]; then sudo="sudo"; fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--container" ]]; then
  # runc cannot set RLIMIT_NPROC here: no default ulimits for containers.
  if [[ ! -f /etc/containers/containers.conf ]]; then
    $sudo mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = []\n' | $sudo tee /etc/containers/containers.conf >/dev/null
  fi
fi

npm ci --no-audit --no-fund
if [[ "${1:-}" == "--test" ]]; then
  # The test command runs a smoke pass of every benchmark (bench/ is its own package).
  npm --prefix bench ci --no-audit --no-fund
fi
echo "setup: done ($(nats-server --version 2>/dev/null || /usr/sbin/nats-server --version), node $(node --version))"
