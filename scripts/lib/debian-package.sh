# Shared by the scripts that provide a test prerequisite from a Debian package
# (scripts/ensure-nginx.sh, scripts/ensure-chromium.sh). Source it after setting:
#   PACKAGE   the Debian package, e.g. nginx
#   NEEDED_BY the test that needs it, e.g. test/e2e/http-authz-nginx.test.ts
# and defining find_binary (prints the binary's path, or returns 1 when it is missing). It defines
# functions only; the script calls them in this order:
#   print_or_exit "$@"   handles --print (the path, or exit 1 naming the fix), and exits at once
#                        when the binary is already there (idempotent, silent)
#   require_apt_root     gives up unless this is root on a system with apt-get
#   apt_install PKG...   installs the packages, refreshing the package lists once if needed

# Outside CI a missing prerequisite is a warning (the test that needs it then skips, naming the
# install command); in CI it is an error, because CI must not skip it.
give_up() {
  echo "$1" >&2
  if [[ "${CI:-}" == "true" ]]; then exit 1; fi
  echo "  (continuing without it: $NEEDED_BY will be skipped)" >&2
  exit 0
}

print_or_exit() {
  if [[ "${1:-}" == "--print" ]]; then
    if find_binary; then exit 0; fi
    echo "error: $PACKAGE is not installed; run ./dev setup (or: sudo apt-get install -y --no-install-recommends $PACKAGE)" >&2
    exit 1
  fi
  if find_binary >/dev/null; then exit 0; fi
}

require_apt_root() {
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    give_up "warning: $PACKAGE is needed by $NEEDED_BY.
  Install it with: sudo apt-get install -y --no-install-recommends $PACKAGE   (Debian/Ubuntu; then re-run ./dev setup)"
  fi
}

# --no-install-recommends: nothing beyond what the packages depend on.
apt_install() {
  echo "==> installing $* (apt-get install, Debian packages)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}
