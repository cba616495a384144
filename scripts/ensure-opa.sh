#!/usr/bin/env bash
# Provides the pinned OPA CLI at .tools/bin/opa (git-ignored). Idempotent: quick when done.
# Uses `opa` from PATH when it is the pinned version, else `go install`s it.
set -euo pipefail
OPA_VERSION="${OPA_VERSION:-1.19.1}" # the OPA that opa-envoy-plugin v1.19.1-envoy embeds
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.tools/bin"
mkdir -p "$BIN"

version_of() { "$1" version 2>/dev/null | sed -n 's/^Version: //p'; }

if [[ -x "$BIN/opa" && "$(version_of "$BIN/opa")" == "$OPA_VERSION" ]]; then exit 0; fi
if command -v opa >/dev/null 2>&1 && [[ "$(version_of "$(command -v opa)")" == "$OPA_VERSION" ]]; then
  ln -sf "$(command -v opa)" "$BIN/opa"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: OPA $OPA_VERSION is needed to compile policies, and neither it nor Go is installed." >&2
  echo "  Install Go (https://go.dev/doc/install, or: apt-get install golang-go) and re-run," >&2
  echo "  or put opa $OPA_VERSION on PATH (https://github.com/open-policy-agent/opa/releases/tag/v$OPA_VERSION)." >&2
  exit 1
fi
echo "installing OPA $OPA_VERSION with go install (first time only, ~2 minutes)..." >&2
GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "github.com/open-policy-agent/opa@v$OPA_VERSION"
echo "installed $("$BIN/opa" version | head -1) at .tools/bin/opa" >&2
