# shellcheck shell=bash
# Shared helpers for scripts/*.sh: paths, logging, process checks.
# Source it; it sets ROOT, RUN_DIR, CACHE_DIR and PY (the project's python).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${ROOT}/.run"
CACHE_DIR="${ROOT}/.cache"
if [[ -x "${ROOT}/.venv/bin/python" ]]; then
    PY="${ROOT}/.venv/bin/python"
else
    PY="python3"
fi
export ROOT RUN_DIR CACHE_DIR PY

# Where the local stack listens (SPEC §7 defaults point at the same ports). Override
# the ports when 9092/9093/6379 are taken by something else; the tests then get
# KAFKA_BOOTSTRAP_SERVERS and REDIS_URL pointing at them.
KAFKA_LOCAL_PORT="${KAFKA_LOCAL_PORT:-9092}"
KAFKA_LOCAL_CONTROLLER_PORT="${KAFKA_LOCAL_CONTROLLER_PORT:-$((KAFKA_LOCAL_PORT + 1))}"
REDIS_LOCAL_PORT="${REDIS_LOCAL_PORT:-6379}"
DEFAULT_KAFKA="127.0.0.1:${KAFKA_LOCAL_PORT}"
DEFAULT_REDIS_URL="redis://127.0.0.1:${REDIS_LOCAL_PORT}/0"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# pid_alive PIDFILE -> 0 when the file names a live process.
pid_alive() {
    local pidfile="$1" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# port_open HOST PORT -> 0 when something accepts TCP connections there.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# stop_pidfile NAME PIDFILE MATCH: SIGTERM the process we started (its command
# line must contain MATCH, so a recycled pid is never killed), wait for it to
# exit, SIGKILL after 40 s. Removes the pid file.
stop_pidfile() {
    local name="$1" pidfile="$2" match="$3" pid i
    if ! pid_alive "$pidfile"; then
        rm -f "$pidfile"
        log "${name}: not started by this checkout; nothing to stop"
        return 0
    fi
    pid="$(cat "$pidfile")"
    if ! tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q -- "$match"; then
        log "${name}: pid ${pid} is not ours any more; removing stale pid file"
        rm -f "$pidfile"
        return 0
    fi
    log "${name}: stopping pid ${pid} (SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 400; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "${name}: still running after 40 s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    log "${name}: stopped"
}
