#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/dashboard/test_browser.py).
#
#   bash .ci/chromium.sh        # install when missing (needs root); prints the binary's path on stdout
#
# The tests find the binary on PATH (or TRUSTACKS_CHROMIUM) and skip with a message when it is absent,
# so a developer without root can still run the rest. Progress goes to stderr; stdout carries only the path.
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }

find_chromium() {
    local name
    for name in "${TRUSTACKS_CHROMIUM:-}" chromium chromium-browser; do
        if [ -n "$name" ] && command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    done
    return 1
}

if ! BIN="$(find_chromium)"; then
    if [ "$(id -u)" != 0 ]; then
        log "chromium not found and not root: install Debian's 'chromium' package, then re-run"
        exit 1
    fi
    log "installing chromium from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
    BIN="$(find_chromium)"
fi
log "$("$BIN" --version 2>/dev/null || echo "$BIN")"
echo "$BIN"
