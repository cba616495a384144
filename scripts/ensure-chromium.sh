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
PACKAGE=chromium
NEEDED_BY=test/e2e/live-map-browser.test.ts
source "$(dirname "$0")/lib/debian-package.sh"

find_binary() {
  if [[ -n "${GATEHOUSE_CHROMIUM:-}" && -x "${GATEHOUSE_CHROMIUM}" ]]; then echo "$GATEHOUSE_CHROMIUM"; return 0; fi
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  [[ -x /usr/bin/chromium ]] && { echo /usr/bin/chromium; return 0; }
  return 1
}

print_or_exit "$@"
require_apt_root
# fonts-liberation: a Latin font with metrics, so the screenshot's text is not drawn in boxes.
apt_install chromium fonts-liberation

find_binary >/dev/null || { echo "error: the chromium package installed but /usr/bin/chromium is missing" >&2; exit 1; }
echo "installed $("$(find_binary)" --version 2>/dev/null | head -1) at $(find_binary)" >&2
