#!/usr/bin/env bash
# Local Redis for dev, tests and CI.
#
#   scripts/redis.sh start    # reuse a reachable Redis, else start redis-server on 127.0.0.1:6379
#                             # (REDIS_LOCAL_PORT changes the port)
#   scripts/redis.sh stop     # SIGTERM the redis-server this checkout started, if any
#   scripts/redis.sh status   # exit 0 when PING is answered
#
# REDIS_URL naming anything but the local default is used as it is (never started).
# State: .run/redis/{redis.pid,redis.log}, data in .run/redis/data/ (append-only file,
# fsync every second), so a restart keeps the read model. Redis is still only a cache
# of the compacted topics: when it loses its data anyway (files deleted, FLUSHALL, a
# Redis without persistence) the projection finds its epoch marker gone and rebuilds
# the read model from the beginning of the topics by itself (docs/read-side.md).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REDIS_RUN="${RUN_DIR}/redis"
REDIS_DATA="${REDIS_RUN}/data"
PIDFILE="${REDIS_RUN}/redis.pid"
LOGFILE="${REDIS_RUN}/redis.log"

is_local_default() {
    case "${1:-}" in
        "" | "redis://localhost:${REDIS_LOCAL_PORT}" | "redis://127.0.0.1:${REDIS_LOCAL_PORT}") return 0 ;;
        "redis://localhost:${REDIS_LOCAL_PORT}/"* | "redis://127.0.0.1:${REDIS_LOCAL_PORT}/"*) return 0 ;;
        *) return 1 ;;
    esac
}

probe() { "$PY" "${ROOT}/scripts/probe.py" redis "$@" 2>/dev/null; }

start() {
    if ! is_local_default "${REDIS_URL:-}"; then
        if probe "${REDIS_URL}" --timeout 5; then
            log "using the configured Redis at ${REDIS_URL}; nothing started"
            return 0
        fi
        die "REDIS_URL=${REDIS_URL} does not answer; unset it to start a local redis-server"
    fi
    mkdir -p "${REDIS_RUN}" "${REDIS_DATA}"
    exec 9>"${REDIS_RUN}/.lock"
    flock -w 60 9 || die "another scripts/redis.sh holds ${REDIS_RUN}/.lock"
    if probe "${DEFAULT_REDIS_URL}" --timeout 2 >/dev/null; then
        log "reusing the Redis already running at 127.0.0.1:${REDIS_LOCAL_PORT}"
        return 0
    fi
    if port_open 127.0.0.1 "${REDIS_LOCAL_PORT}"; then
        die "port ${REDIS_LOCAL_PORT} is taken by something that does not answer Redis PING (see: ss -ltnp 'sport = :${REDIS_LOCAL_PORT}'; or set REDIS_LOCAL_PORT)"
    fi
    command -v redis-server >/dev/null || die "redis-server not found: run scripts/install-system-deps.sh (Debian: apt-get install redis-server)"
    log "starting redis-server on 127.0.0.1:${REDIS_LOCAL_PORT} (log: ${LOGFILE})"
    # --daemonize no + our own background job: the pid file is the process we started.
    # AOF only (no RDB snapshots): at most the last second of writes is lost on a crash,
    # and the projection re-reads what Redis lacks (its progress is stored with the data).
    # noeviction: an evicted key would silently vanish from the read model.
    setsid nohup redis-server --bind 127.0.0.1 --port "${REDIS_LOCAL_PORT}" --protected-mode yes \
        --save '' --appendonly yes --appendfsync everysec --dir "${REDIS_DATA}" \
        --maxmemory-policy noeviction --logfile "${LOGFILE}" \
        --daemonize no </dev/null >/dev/null 2>&1 9>&- &
    echo $! >"$PIDFILE"
    local deadline=$((SECONDS + 30))
    until probe "${DEFAULT_REDIS_URL}" --timeout 1 >/dev/null; do
        if ! pid_alive "$PIDFILE"; then
            tail -n 20 "$LOGFILE" >&2 2>/dev/null || true
            rm -f "$PIDFILE"
            die "redis-server exited during start-up (log: ${LOGFILE})"
        fi
        ((SECONDS < deadline)) || die "redis-server did not answer PING within 30s (log: ${LOGFILE})"
        sleep 0.2
    done
    log "Redis ready at ${DEFAULT_REDIS_URL} (pid $(cat "$PIDFILE"))"
}

case "${1:-}" in
    start) start ;;
    stop) stop_pidfile redis "$PIDFILE" redis-server ;;
    status) probe "${REDIS_URL:-${DEFAULT_REDIS_URL}}" --timeout 2 ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
