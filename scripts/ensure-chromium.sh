#!/usr/bin/env bash
# Provides a headless Chromium for the live authorization map's browser test
# (test/e2e/live-map-browser.test.ts, driven by puppeteer-core). It comes from Debian's `chromium`
# package (/usr/bin/chromium); puppeteer-core downloads no browser of its own. The test starts the
# binary itself (headless, a temporary profile, no sandbox when run as root) and talks to it over
# a pipe: no system service is involved. Idempotent: prints nothing and exits at once when it is
# there.
#
#   scripts/ensure-chromium.sh          install if missing
#   scripts/ensure-chromium.sh --print  print the binary's path (exit 1 when missing)
#
# GATEHOUSE_CHROMIUM=/path/to/chrome names another Chromium/Chrome binary instead.
set -euo pipefail

find_chromium() {
  if [[ -n "${GATEHOUSE_CHROMIUM:-}" && -x "${GATEHOUSE_CHROMIUM}" ]]; then echo "$GATEHOUSE_CHROMIUM"; return 0; fi
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  [[ -x /usr/bin/chromium ]] && { echo /usr/bin/chromium; return 0; }
  return 1
}

if [[ "${1:-}" == "--print" ]]; then
  if find_chromium; then exit 0; fi
  echo "error: chromium is not installed; run ./dev setup (or: sudo apt-get install -y --no-install-recommends chromium)" >&2
  exit 1
fi

if find_chromium >/dev/null; then exit 0; fi

# Outside CI a missing prerequisite is a warning (the browser test then skips, naming the install
# command); in CI it is an error, because CI must not skip it.
give_up() {
  echo "$1" >&2
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
  echo "  (continuing without it: test/e2e/live-map-browser.test.ts will be skipped)" >&2
  exit 0
}

if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  give_up "warning: chromium is needed by test/e2e/live-map-browser.test.ts.
  Install it with: sudo apt-get install -y --no-install-recommends chromium   (Debian/Ubuntu; then re-run ./dev setup)"
fi

echo "==> installing chromium (apt-get install chromium, Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends: no desktop integration, fonts beyond what the package depends on.
# fonts-liberation: a Latin font with metrics, so the screenshot's text is not drawn in boxes.
install_package() { apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }
if ! install_package; then
  apt-get update -qq
  install_package
fi

find_chromium >/dev/null || { echo "error: the chromium package installed but /usr/bin/chromium is missing" >&2; exit 1; }
echo "installed $("$(find_chromium)" --version 2>/dev/null | head -1) at $(find_chromium)" >&2
