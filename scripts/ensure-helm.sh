#!/usr/bin/env bash
# Provides the chart tests' tools (test/deploy/chart.test.ts): the pinned Helm at .tools/bin/helm
# (git-ignored), for helm lint and helm template of deploy/helm/gatehouse, and the pinned
# kubernetes-validate (PyPI; ships the Kubernetes JSON schemas of each release) in .venv/, for
# schema validation of the rendered objects. `go install`s it from the Go module proxy with the ldflags
# Helm's own Makefile sets (its version, and the Kubernetes version `helm template` assumes,
# taken from the client-go it is built with), since a plain `go install` leaves both unset
# (Kubernetes v1.20). Idempotent: prints nothing and exits at once when it is there.
#
#   scripts/ensure-helm.sh          install if missing
#   scripts/ensure-helm.sh --print  print both binaries' paths (exit 1 when missing)
set -euo pipefail
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
HELM_KUBE_MINOR="${HELM_KUBE_MINOR:-37}" # helm v3.22.0 builds with k8s.io/client-go v0.37.0 = Kubernetes 1.37
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.tools/bin"
VENV="$ROOT/.venv"

helm_installed() { [[ -x "$BIN/helm" && "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; }
validator_installed() { [[ -x "$VENV/bin/kubernetes-validate" && "$("$VENV/bin/kubernetes-validate" --version 2>/dev/null)" == *"$KUBERNETES_VALIDATE_VERSION"* ]]; }

if [[ "${1:-}" == "--print" ]]; then
  if helm_installed && validator_installed; then echo "$BIN/helm"; echo "$VENV/bin/kubernetes-validate"; exit 0; fi
  echo "error: helm $HELM_VERSION or kubernetes-validate $KUBERNETES_VALIDATE_VERSION is not installed; run ./dev setup" >&2
  exit 1
fi

# Outside CI a missing prerequisite is a warning (test/deploy's chart tests then skip, naming
# ./dev setup); in CI it is an error, because CI must not skip them.
give_up() {
  echo "$1" >&2
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
  echo "  (continuing without it: the chart tests in test/deploy will be skipped)" >&2
  exit 0
}

if ! validator_installed; then
  if ! command -v python3 >/dev/null 2>&1; then
    give_up "warning: python3 is needed to install kubernetes-validate for the chart tests. Install it with: sudo apt-get install -y python3 python3-venv"
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV" || { rm -rf "$VENV"; give_up "warning: python3 -m venv failed; install the venv module: sudo apt-get install -y python3-venv"; }
  fi
  echo "==> installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (pip, into .venv/, ~110 MB of schemas)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

if helm_installed; then exit 0; fi
if ! command -v go >/dev/null 2>&1; then
  give_up "warning: helm $HELM_VERSION (for the chart tests in test/deploy) is installed with Go, which is missing.
  Install Go (https://go.dev/doc/install, or: apt-get install golang-go) and re-run ./dev setup."
fi
mkdir -p "$BIN"
echo "==> installing helm $HELM_VERSION with go install (first time only, ~1-2 minutes)" >&2
ldflags="-w -s -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for package in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $package.k8sVersionMajor=1 -X $package.k8sVersionMinor=$HELM_KUBE_MINOR"
done
GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0 go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
helm_installed || { echo "error: go install finished but $BIN/helm does not report $HELM_VERSION" >&2; exit 1; }
echo "installed helm $HELM_VERSION (assuming Kubernetes 1.$HELM_KUBE_MINOR) at .tools/bin/helm" >&2
