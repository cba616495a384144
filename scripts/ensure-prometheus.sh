#!/usr/bin/env bash
# Provides `prometheus` and `promtool` for test/observability (alert-rule unit tests with
# `promtool test rules`, and a real Prometheus scraping a running gatehouse). They come from
# Debian's `prometheus` package, which puts both binaries in /usr/bin. Idempotent: prints
# nothing and exits at once when both are already there.
#
# The package would start a system Prometheus on :9090; the tests never use it (they start
# their own on a free port with a temporary config and storage), so the install keeps it from
# starting and stops it if it started anyway.
#
#   scripts/ensure-prometheus.sh          install if missing
#   scripts/ensure-prometheus.sh --print  print the two binaries' paths (exit 1 when missing)
set -euo pipefail

find_tool() {
  local name="$1"
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  [[ -x "/usr/bin/$name" ]] && { echo "/usr/bin/$name"; return 0; }
  return 1
}

installed() { find_tool prometheus >/dev/null && find_tool promtool >/dev/null; }

if [[ "${1:-}" == "--print" ]]; then
  if installed; then find_tool prometheus; find_tool promtool; exit 0; fi
  echo "error: prometheus/promtool are not installed; run ./dev setup" >&2
  exit 1
fi

if installed; then exit 0; fi

# Outside CI a missing prerequisite is a warning (test/observability then skips, naming
# ./dev setup); in CI it is an error, because CI must not skip them.
give_up() {
  echo "$1" >&2
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
  echo "  (continuing without it: test/observability will be skipped)" >&2
  exit 0
}

if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  give_up "warning: prometheus and promtool (Prometheus 2.x) are needed by test/observability.
  Install them with: sudo apt-get install -y --no-install-recommends prometheus   (Debian/Ubuntu; then re-run ./dev setup)
  or put both binaries from a Prometheus release on PATH."
fi

# Keep the package's postinst from starting the system service: invoke-rc.d and
# deb-systemd-invoke both obey /usr/sbin/policy-rc.d (exit 101 = "action forbidden").
policy=/usr/sbin/policy-rc.d
temporary_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary, from gatehouse scripts/ensure-prometheus.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  temporary_policy=true
fi
cleanup() { if [[ "$temporary_policy" == true ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

echo "==> installing prometheus and promtool (apt-get install prometheus, Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends: the package recommends prometheus-node-exporter, another service.
install_package() { apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
if ! install_package; then
  apt-get update -qq
  install_package
fi

# If a system service started anyway (policy-rc.d ignored), stop it: the tests start their own.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
elif [[ -x /etc/init.d/prometheus ]]; then
  /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi

installed || { echo "error: the prometheus package installed but prometheus/promtool are not in /usr/bin" >&2; exit 1; }
echo "installed $("$(find_tool prometheus)" --version 2>&1 | head -1) at $(find_tool prometheus), promtool at $(find_tool promtool)" >&2
