#!/usr/bin/env bash
# Install the Debian packages the test suite and the demo need, when missing:
#   redis-server (local Redis), kcat (topic inspection in tests), chromium (asset page tests).
# Java 17 and Maven are expected on the machine; when missing they are installed too.
# Needs root with apt-get (CI runs as root on a fresh Debian machine); otherwise it
# prints what to install and fails only when something required is missing.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# command -> Debian package
declare -A WANTED=(
    [redis-server]=redis-server
    [kcat]=kcat
    [chromium]=chromium
    [java]=openjdk-17-jre-headless
    [mvn]=maven
)

missing=()
for cmd in "${!WANTED[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${WANTED[$cmd]}")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing system packages: ${missing[*]} (install them, e.g. sudo apt-get install ${missing[*]})"
fi

log "installing ${missing[*]} with apt-get (first run only)"
mkdir -p "${RUN_DIR}"
export DEBIAN_FRONTEND=noninteractive
# apt-get update once per checkout is enough; lists older than a day are refreshed.
stamp="${RUN_DIR}/.apt-updated"
if [[ ! -f "$stamp" ]] || [[ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]]; then
    apt-get update -qq >"${RUN_DIR}/apt.log" 2>&1 || { tail -n 20 "${RUN_DIR}/apt.log" >&2; die "apt-get update failed"; }
    touch "$stamp"
fi
apt-get install -y -qq "${missing[@]}" >>"${RUN_DIR}/apt.log" 2>&1 \
    || { tail -n 30 "${RUN_DIR}/apt.log" >&2; die "apt-get install ${missing[*]} failed (log: ${RUN_DIR}/apt.log)"; }
# With recommends: chromium then brings the fonts the page screenshots need.
# Debian's redis-server package starts a system service where an init system runs;
# this project starts its own on demand and never relies on that one.
log "installed ${missing[*]}"
