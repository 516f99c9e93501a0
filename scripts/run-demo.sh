#!/usr/bin/env bash
# `make run`: the main job on a fresh machine.
#
# 1. Bring up Kafka and Redis (reusing running ones).
# 2. Start the worker (with the Redis projection) and the HTTP API in the background.
# 3. Load the demo events once (event ids make reloading harmless: duplicates only
#    re-publish snapshots).
# 4. Wait for the demo assets' snapshots, print them and where to look.
# 5. Keep running until Ctrl-C, which stops the worker and the API (not Kafka/Redis:
#    `make down` does that).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEMO_EVENTS="${ROOT}/streams/demo/events.jsonl"
DEMO_ASSETS=7 # distinct asset ids the demo events create (transfer target included)
READY_TIMEOUT_S="${READY_TIMEOUT_S:-120}"
SNAPSHOT_TIMEOUT_S="${SNAPSHOT_TIMEOUT_S:-120}"
CLI="${ROOT}/.venv/bin/assetstream"

# Step 1
bash "${ROOT}/scripts/up.sh"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-${DEFAULT_KAFKA}}"
export REDIS_URL="${REDIS_URL:-${DEFAULT_REDIS_URL}}"
export ASSETSTREAM_DATA_DIR="${ASSETSTREAM_DATA_DIR:-${ROOT}/data}"
API_HOST="${ASSETSTREAM_API_HOST:-127.0.0.1}"
API_PORT="${ASSETSTREAM_API_PORT:-8000}"
WEB_PORT="${ASSETSTREAM_WEB_PORT:-6066}"
mkdir -p "${RUN_DIR}"
cd "${ROOT}"

# Step 2
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if port_open 127.0.0.1 "${WEB_PORT}"; then
    die "port ${WEB_PORT} (worker web/metrics) is taken: is a worker already running? Stop it or set ASSETSTREAM_WEB_PORT"
fi
"${CLI}" worker >"${RUN_DIR}/worker.log" 2>&1 &
worker_pid=$!
pids+=("$worker_pid")
log "worker starting (pid ${worker_pid}, log ${RUN_DIR}/worker.log)"
deadline=$((SECONDS + READY_TIMEOUT_S))
until grep -q "Worker ready" "${RUN_DIR}/worker.log" 2>/dev/null; do
    kill -0 "$worker_pid" 2>/dev/null || { tail -n 40 "${RUN_DIR}/worker.log" >&2; die "the worker exited during start-up"; }
    ((SECONDS < deadline)) || { tail -n 40 "${RUN_DIR}/worker.log" >&2; die "the worker was not ready after ${READY_TIMEOUT_S}s"; }
    sleep 0.5
done
log "worker ready"

if port_open "${API_HOST}" "${API_PORT}"; then
    log "port ${API_PORT} is taken: assuming the API is already running there"
else
    "${CLI}" api >"${RUN_DIR}/api.log" 2>&1 &
    pids+=("$!")
    log "API starting (pid $!, log ${RUN_DIR}/api.log)"
fi

# Step 3
"${CLI}" produce "${DEMO_EVENTS}"

# Step 4
deadline=$((SECONDS + SNAPSHOT_TIMEOUT_S))
until (($("${CLI}" inspect assets.snapshots --latest --json 2>/dev/null | grep -c '"key": "AST-' || true) >= DEMO_ASSETS)); do
    ((SECONDS < deadline)) || die "the demo snapshots did not all appear within ${SNAPSHOT_TIMEOUT_S}s (see ${RUN_DIR}/worker.log)"
    sleep 1
done
echo
echo "=== Demo snapshots (newest per asset, from ${ASSETSTREAM_TOPIC_PREFIX:-}assets.snapshots) ==="
"${CLI}" inspect assets.snapshots --latest
cat <<EOF

=== Where to look ===
  Asset page:     http://${API_HOST}:${API_PORT}/ui/assets/AST-QBO-CAPRICORN
  Account page:   http://${API_HOST}:${API_PORT}/ui/accounts/ACC-NORTHWIND
  API docs:       http://${API_HOST}:${API_PORT}/docs
  Worker metrics: http://127.0.0.1:${WEB_PORT}/metrics
  Topics:         ${CLI} inspect assets.snapshots --key AST-QBO-CAPRICORN --from-beginning
                  ${CLI} inspect assets.deadletter --from-beginning
                  ${CLI} inspect orders.fulfilled --follow
                  ${CLI} topology
  Logs:           ${RUN_DIR}/worker.log, ${RUN_DIR}/api.log
Worker and API keep running; Ctrl-C stops them ('make down' stops Kafka and Redis).
EOF

# Step 5
wait "$worker_pid"
