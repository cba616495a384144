#!/usr/bin/env bash
# OPA's conformance cases, compiled to Wasm for test/conformance (git-ignored, in
# .tools/conformance/opa-v<version>/): installs OPA's generator, wasm-rego-testgen, at
# .tools/bin/ and runs test/conformance/generate.mjs. Idempotent: quick when done; the first
# run takes a minute or two. Needs Go (the cases and the generator come from the OPA Go module).
set -euo pipefail
OPA_VERSION="${OPA_VERSION:-1.19.1}" # the pinned OPA (scripts/ensure-opa.sh)
export OPA_VERSION
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.tools/bin"
GENERATOR="$BIN/wasm-rego-testgen"
mkdir -p "$BIN"

if ! command -v go >/dev/null 2>&1; then
  echo "warning: the OPA conformance cases (test/conformance) need Go; without it that suite is skipped. Install Go (https://go.dev/doc/install, or: apt-get install golang-go) and re-run." >&2
  [[ "${CI:-}" == "true" ]] && exit 1 # CI runs everything
  exit 0
fi
# The OPA module version the generator was built from (it has no --version flag).
built_from() { go version -m "$GENERATOR" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/open-policy-agent/opa" { print $3 }'; }
if [[ ! -x "$GENERATOR" || "$(built_from)" != "v$OPA_VERSION" ]]; then
  echo "installing OPA's Wasm test generator (wasm-rego-testgen v$OPA_VERSION) with go install..." >&2
  GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "github.com/open-policy-agent/opa/v1/test/wasm/cmd/wasm-rego-testgen@v$OPA_VERSION"
fi
exec node "$ROOT/test/conformance/generate.mjs" "$@"
