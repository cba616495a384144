#!/usr/bin/env bash
# Provides the pinned Helm at .tools/bin/helm (git-ignored) for test/deploy (helm lint and helm
# template of deploy/helm/gatehouse). `go install`s it from the Go module proxy with the ldflags
# Helm's own Makefile sets (its version, and the Kubernetes version `helm template` assumes,
# taken from the client-go it is built with), since a plain `go install` leaves both unset
# (Kubernetes v1.20). Idempotent: prints nothing and exits at once when it is there.
#
#   scripts/ensure-helm.sh          install if missing
#   scripts/ensure-helm.sh --print  print the binary's path (exit 1 when missing)
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
HELM_KUBE_MINOR="${HELM_KUBE_MINOR:-37}" # helm v3.22.0 builds with k8s.io/client-go v0.37.0 = Kubernetes 1.37
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.tools/bin"

installed() { [[ -x "$BIN/helm" && "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; }

if [[ "${1:-}" == "--print" ]]; then
  if installed; then echo "$BIN/helm"; exit 0; fi
  echo "error: helm $HELM_VERSION is not installed; run ./dev setup" >&2
  exit 1
fi
if installed; then exit 0; fi

# Outside CI a missing prerequisite is a warning (test/deploy's chart tests then skip, naming
# ./dev setup); in CI it is an error, because CI must not skip them.
if ! command -v go >/dev/null 2>&1; then
  echo "warning: helm $HELM_VERSION (for the chart tests in test/deploy) is installed with Go, which is missing.
  Install Go (https://go.dev/doc/install, or: apt-get install golang-go) and re-run ./dev setup." >&2
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
  exit 0
fi
mkdir -p "$BIN"
echo "==> installing helm $HELM_VERSION with go install (first time only, ~1-2 minutes)" >&2
ldflags="-w -s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for package in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $package.k8sVersionMajor=1 -X $package.k8sVersionMinor=$HELM_KUBE_MINOR"
done
GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0 go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
installed || { echo "error: go install finished but $BIN/helm does not report $HELM_VERSION" >&2; exit 1; }
echo "installed helm $HELM_VERSION (assuming Kubernetes 1.$HELM_KUBE_MINOR) at .tools/bin/helm" >&2
