#!/usr/bin/env bash
# Provides Jaeger (v2: the OpenTelemetry Collector with Jaeger's storage and query extensions) at
# .tools/bin/jaeger (git-ignored), for the tracing test (test/integration/tracing-jaeger.test.ts):
# gatehouse exports spans to its OTLP/HTTP receiver and the test reads the traces back from its
# query API. Built from the Go module proxy at a pinned version: Jaeger's module carries replace
# directives, so it is added as a tool of a throwaway module under .tools/jaeger-build (`go get
# -tool`) and built there. Idempotent: prints nothing and exits at once when it is there.
#
#   scripts/ensure-jaeger.sh          install if missing
#   scripts/ensure-jaeger.sh --print  print the binary's path (exit 1 when missing)
set -euo pipefail
JAEGER_MODULE_VERSION="${JAEGER_MODULE_VERSION:-v1.76.0}" # the module's v1 tag; cmd/jaeger in it is Jaeger v2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.tools/bin"
BUILD="$ROOT/.tools/jaeger-build"
STAMP="$BIN/jaeger.version"

installed() { [[ -x "$BIN/jaeger" && -f "$STAMP" && "$(cat "$STAMP")" == "$JAEGER_MODULE_VERSION" ]]; }

if [[ "${1:-}" == "--print" ]]; then
  if installed; then echo "$BIN/jaeger"; exit 0; fi
  echo "error: jaeger ($JAEGER_MODULE_VERSION) is not installed; run ./dev setup" >&2
  exit 1
fi

if installed; then exit 0; fi

# Outside CI a missing prerequisite is a warning (the tracing test then skips, naming ./dev setup);
# in CI it is an error, because CI must not skip it.
give_up() {
  echo "$1" >&2
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
  echo "  (continuing without it: the tracing test will be skipped)" >&2
  exit 0
}

if ! command -v go >/dev/null 2>&1; then
  give_up "warning: jaeger (for the tracing test) is built with Go, which is missing.
  Install Go (https://go.dev/doc/install, or: apt-get install golang-go) and re-run ./dev setup."
fi
mkdir -p "$BIN" "$BUILD"
echo "==> building jaeger (github.com/jaegertracing/jaeger $JAEGER_MODULE_VERSION) with Go (first time only: several minutes)" >&2
(
  cd "$BUILD"
  [[ -f go.mod ]] || go mod init gatehouse.local/jaeger-build >/dev/null 2>&1
  export GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0
  go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_MODULE_VERSION" >/dev/null 2>&1 || go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_MODULE_VERSION"
  go build -ldflags "-s -w" -o "$BIN/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
)
echo "$JAEGER_MODULE_VERSION" >"$STAMP"
installed || { echo "error: the jaeger build finished but $BIN/jaeger is missing" >&2; exit 1; }
echo "installed jaeger ($JAEGER_MODULE_VERSION) at .tools/bin/jaeger" >&2
