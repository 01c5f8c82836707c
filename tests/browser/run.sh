#!/usr/bin/env bash
# Browser end-to-end tests of the demo (`examples/single_port.rs`) and the status page:
# installs Debian's chromium and the node packages when missing, builds the example, and runs
# demo.test.mjs against it. Screenshots go to target/browser-artifacts/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v chromium >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
if ! command -v node >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build -p gangway-gateway --example single_port)
export GANGWAY_DEMO="$target/debug/examples/single_port"
export ARTIFACTS="$root/target/browser-artifacts"
export CHROMIUM="$(command -v chromium)"
mkdir -p "$ARTIFACTS"
cd "$here"
node demo.test.mjs
