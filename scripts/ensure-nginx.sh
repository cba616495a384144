#!/usr/bin/env bash
# Provides `nginx` for the HTTP authorization end-to-end test (test/e2e/http-authz-nginx.test.ts):
# a real nginx with `auth_request` asking gatehouse's HTTP listener. It comes from Debian's `nginx`
# package (/usr/sbin/nginx; auth_request is built in). The tests never use the system service: they
# run nginx as a foreground process with their own prefix, config, pid and log files in a temporary
# directory, on 127.0.0.1 free ports. Idempotent: prints nothing and exits at once when it is there.
#
#   scripts/ensure-nginx.sh          install if missing
#   scripts/ensure-nginx.sh --print  print the binary's path (exit 1 when missing)
set -euo pipefail
PACKAGE=nginx
NEEDED_BY=test/e2e/http-authz-nginx.test.ts
source "$(dirname "$0")/lib/debian-package.sh"

find_binary() {
  if command -v nginx >/dev/null 2>&1; then command -v nginx; return 0; fi
  [[ -x /usr/sbin/nginx ]] && { echo /usr/sbin/nginx; return 0; }
  return 1
}

print_or_exit "$@"
require_apt_root

# Keep the package's postinst from starting the system nginx on :80: invoke-rc.d and
# deb-systemd-invoke both obey /usr/sbin/policy-rc.d (exit 101 = "action forbidden").
policy=/usr/sbin/policy-rc.d
temporary_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary, from gatehouse scripts/ensure-nginx.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  temporary_policy=true
fi
cleanup() { if [[ "$temporary_policy" == true ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt_install nginx

if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now nginx >/dev/null 2>&1 || true
elif [[ -x /etc/init.d/nginx ]]; then
  /etc/init.d/nginx stop >/dev/null 2>&1 || true
fi

find_binary >/dev/null || { echo "error: the nginx package installed but /usr/sbin/nginx is missing" >&2; exit 1; }
echo "installed $("$(find_binary)" -v 2>&1 | head -1) at $(find_binary)" >&2
