#!/usr/bin/env bash
# `make run`: the main job on a fresh machine.
#
# 1. Bring up Kafka and Redis (reusing running ones).
# 2. Start `assetstream worker` (with the Redis projection) and `assetstream api` in
#    the background, and wait until both answer /healthz.
# 3. Load the demo events (streams/demo/events.jsonl), unless the API already shows
#    them (a second run): fixed event ids make a reload harmless anyway.
# 4. Wait until the API serves what `assetstream replay` computes for them, print the
#    demo assets and where to look; if it never does, show the demo's dead letters.
# 5. Stay in the foreground: Ctrl-C stops the worker and the API (`make down` stops
#    Kafka and Redis).
#
# Uses the real topic names (no ASSETSTREAM_TOPIC_PREFIX unless you set one).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CLI="${ROOT}/.venv/bin/assetstream"
DEMO_EVENTS="${ROOT}/streams/demo/events.jsonl"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-180}" # worker start-up includes a consumer-group join
DEMO_TIMEOUT_S="${DEMO_TIMEOUT_S:-60}"
STOP_TIMEOUT_S=40

# Step 1
bash "${ROOT}/scripts/up.sh"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-${DEFAULT_KAFKA}}"
export REDIS_URL="${REDIS_URL:-${DEFAULT_REDIS_URL}}"
export ASSETSTREAM_STORE="${ASSETSTREAM_STORE:-rocksdb://}"
# One table directory per topic prefix: the RocksDB files are not named after the app id,
# so two namespaces sharing a directory would mix their tables (faust ConsistencyError).
export ASSETSTREAM_DATA_DIR="${ASSETSTREAM_DATA_DIR:-${RUN_DIR}/data${ASSETSTREAM_TOPIC_PREFIX:+-${ASSETSTREAM_TOPIC_PREFIX%.}}}"
WEB_PORT="${ASSETSTREAM_WEB_PORT:-6066}"
API_HOST="${ASSETSTREAM_API_HOST:-127.0.0.1}"
API_PORT="${ASSETSTREAM_API_PORT:-8000}"
API_URL="http://${API_HOST}:${API_PORT}"
WORKER_LOG="${RUN_DIR}/worker.log"
API_LOG="${RUN_DIR}/api.log"
WORKER_PID_FILE="${RUN_DIR}/worker.pid"
API_PID_FILE="${RUN_DIR}/api.pid"
mkdir -p "${RUN_DIR}" "${ASSETSTREAM_DATA_DIR}"
cd "${ROOT}"

# http_ok URL -> 0 when it answers 2xx within 2 s (python: curl may be missing).
http_ok() {
    "${PY}" -c 'import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2).close()
except Exception:
    sys.exit(1)' "$1"
}

# stop_started: SIGTERM what this script started, SIGKILL what is still up after
# STOP_TIMEOUT_S, remove the pid files. The EXIT trap, so every way out runs it.
stop_started() {
    trap - EXIT
    trap "" INT TERM # let the shutdown finish (SIGKILL comes after STOP_TIMEOUT_S anyway)
    local pidfile pid i
    for pidfile in "${API_PID_FILE}" "${WORKER_PID_FILE}"; do
        pid_alive "${pidfile}" || { rm -f "${pidfile}"; continue; }
        pid="$(cat "${pidfile}")"
        log "stopping $(basename "${pidfile}" .pid) (pid ${pid})"
        kill -TERM "${pid}" 2>/dev/null || true
    done
    for pidfile in "${API_PID_FILE}" "${WORKER_PID_FILE}"; do
        [[ -f "${pidfile}" ]] || continue
        pid="$(cat "${pidfile}")"
        for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
            kill -0 "${pid}" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "${pid}" 2>/dev/null; then
            log "pid ${pid} still running after ${STOP_TIMEOUT_S}s; SIGKILL"
            kill -KILL "${pid}" 2>/dev/null || true
        fi
        rm -f "${pidfile}"
    done
    log "worker and API stopped (Kafka and Redis keep running: 'make down' stops them)"
}

# Refuse to start a second demo over a running one (its pid file names a live process).
for pidfile in "${WORKER_PID_FILE}" "${API_PID_FILE}"; do
    if pid_alive "${pidfile}"; then
        die "$(basename "${pidfile}" .pid) of another 'make run' is running (pid $(cat "${pidfile}")); stop it first"
    fi
    rm -f "${pidfile}"
done
if port_open 127.0.0.1 "${WEB_PORT}"; then
    die "port ${WEB_PORT} (the worker's web server) is taken; stop that process or set ASSETSTREAM_WEB_PORT"
fi
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Step 2
"${CLI}" worker >"${WORKER_LOG}" 2>&1 &
worker_pid=$!
echo "${worker_pid}" >"${WORKER_PID_FILE}"
log "worker starting (pid ${worker_pid}, log ${WORKER_LOG})"

api_started=0
if ! "${CLI}" api --help >/dev/null 2>&1; then
    log "this checkout has no 'assetstream api' yet: running without the HTTP API"
elif port_open "${API_HOST}" "${API_PORT}"; then
    http_ok "${API_URL}/healthz" || die "port ${API_PORT} is taken by something that is not a healthy assetstream API; set ASSETSTREAM_API_PORT"
    log "an API already answers at ${API_URL}; using it"
    api_started=2
else
    "${CLI}" api >"${API_LOG}" 2>&1 &
    echo "$!" >"${API_PID_FILE}"
    log "API starting (pid $!, log ${API_LOG})"
    api_started=1
fi

deadline=$((SECONDS + READY_TIMEOUT_S))
until http_ok "http://127.0.0.1:${WEB_PORT}/healthz"; do
    if ! kill -0 "${worker_pid}" 2>/dev/null; then
        tail -n 30 "${WORKER_LOG}" >&2
        die "the worker exited during start-up (log ${WORKER_LOG})"
    fi
    ((SECONDS < deadline)) || die "the worker did not answer /healthz within ${READY_TIMEOUT_S}s (log ${WORKER_LOG})"
    sleep 0.5
done
log "worker ready: http://127.0.0.1:${WEB_PORT}/healthz"
if ((api_started == 1)); then
    until http_ok "${API_URL}/healthz"; do
        if ! pid_alive "${API_PID_FILE}"; then
            tail -n 30 "${API_LOG}" >&2
            die "the API exited during start-up (log ${API_LOG})"
        fi
        ((SECONDS < deadline)) || die "the API did not answer /healthz within ${READY_TIMEOUT_S}s (log ${API_LOG})"
        sleep 0.5
    done
    log "API ready: ${API_URL}/healthz"
fi

# Python for step 4: compare what the API serves with the replay, for every demo asset.
# argv: API URL, expected snapshots.jsonl, timeout (s), "check" (one silent pass) or "show".
read -r -d '' DEMO_ASSETS_PY <<'PYEOF' || true
import json
import os
import sys
import time
import urllib.error
import urllib.request

api, expected_path, timeout, mode = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
with open(expected_path, encoding="utf-8") as handle:
    expected = {s["asset_id"]: s for s in map(json.loads, handle)}
FIELDS = ("status", "current_quantity", "current_mrr", "total_lifecycle_amount")
token = os.environ.get("ASSETSTREAM_API_TOKEN")
headers = {"Authorization": f"Bearer {token}"} if token else {}


def fetch(path):
    """GET api + path as JSON, or None while it is not there (yet)."""
    request = urllib.request.Request(f"{api}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


deadline = time.monotonic() + timeout
while True:
    served = {asset_id: fetch(f"/assets/{asset_id}") for asset_id in expected}
    behind = [a for a, s in served.items()
              if s is None or any(s.get(f) != expected[a][f] for f in FIELDS)]
    if not behind or time.monotonic() > deadline:
        break
    time.sleep(1)
if mode == "check":
    sys.exit(1 if behind else 0)

print(f"\n=== Demo assets, from {api}/assets/… ===")
print(f"  {'asset':<20} {'account':<15} {'status':<10} {'quantity':>8} {'MRR':>14} {'total':>16}")
for asset_id in sorted(expected):
    s = served[asset_id] or {}
    cur = s.get("currency", "")
    mrr = f"{s.get('current_mrr', '-')} {cur}"
    total = f"{s.get('total_lifecycle_amount', '-')} {cur}"
    print(f"  {asset_id:<20} {s.get('account_id', '-'):<15} {s.get('status', '(missing)'):<10} "
          f"{s.get('current_quantity', '-'):>8} {mrr:>14} {total:>16}")
if behind:
    print(f"  not (yet) as replayed: {', '.join(sorted(behind))}")
    sys.exit(1)

# Accounts (SPEC §10): the replay wrote accounts.jsonl beside snapshots.jsonl.
accounts_path = os.path.join(os.path.dirname(expected_path), "accounts.jsonl")
with open(accounts_path, encoding="utf-8") as handle:
    account_ids = sorted(json.loads(line)["account_id"] for line in handle if line.strip())


deadline = time.monotonic() + timeout
while True:
    records = {a: fetch(f"/accounts/{a}") for a in account_ids}
    if all(records.values()) or time.monotonic() > deadline:
        break
    time.sleep(1)
print(f"\n=== Demo accounts: MRR and movements, from {api}/accounts/… ===")
for account_id in account_ids:
    record = records[account_id]
    if record is None:
        print(f"  {account_id}: (not in the read model yet)")
        continue
    for currency in record["currencies"]:
        cur = currency["currency"]
        print(f"  {account_id:<15} MRR {currency['current_mrr']:>10} {cur}   "
              f"ARR {currency['current_arr']:>11} {cur}   active assets {currency['active_assets']}"
              f"   page: {api}/ui/accounts/{account_id}")
        for move in currency["movements"]:
            mark = "  (scheduled)" if move["scheduled"] else ""
            print(f"      {move['date']}  {move['type']:<14} {move['mrr_before']:>10} -> "
                  f"{move['mrr_after']:>10}  ({move['mrr_change']}){mark}")
PYEOF

# explain_dead_letters: the dead letters of demo events, and the usual cause on a broker
# that has seen other events under the demo's ids (or tables written by older code).
explain_dead_letters() {
    "${CLI}" inspect assets.deadletter --from-beginning --json --timeout 2 2>/dev/null |
        "${PY}" -c 'import json, sys
events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ids = {event["id"] for event in events}
keys = {event["data"].get("asset_id") for event in events} - {None}
for line in sys.stdin:
    record = json.loads(line)
    letter = record["value"] if isinstance(record["value"], dict) else {}
    if letter.get("event_id") in ids or record["key"] in keys:
        what = letter.get("event_id") or record["key"]
        code = letter.get("reason_code")
        reason = str(letter.get("reason"))[:90]
        print(f"  dead letter: {what}: {code}: {reason}")' "${DEMO_EVENTS}" >&2 || true
    log "see ${WORKER_LOG}. duplicate_conflict or internal_error here means these topics already hold"
    log "other events under the demo's ids, or tables written by older code: run the demo in a"
    log "fresh namespace instead, e.g. ASSETSTREAM_TOPIC_PREFIX=demo-\$(date +%s). make run"
}

# Step 3: load the demo events, unless the API already shows exactly what they give (a
# second `make run`): event ids make reloading harmless, but there is nothing to add.
AS_OF="${ASSETSTREAM_AS_OF:-$(date -u +%F)}"
EXPECTED="${RUN_DIR}/demo-expected/snapshots.jsonl"
"${CLI}" replay "${DEMO_EVENTS}" --as-of "${AS_OF}" --out "${RUN_DIR}/demo-expected" >/dev/null
if ((api_started > 0)) && "${PY}" -c "${DEMO_ASSETS_PY}" "${API_URL}" "${EXPECTED}" 0 check; then
    log "the API already shows the demo assets: not loading ${DEMO_EVENTS#"${ROOT}/"} again"
else
    "${CLI}" produce "${DEMO_EVENTS}"
fi

# Step 4: wait until the worker has folded them and the projection has reached Redis.
if ((api_started > 0)); then
    if ! "${PY}" -c "${DEMO_ASSETS_PY}" "${API_URL}" "${EXPECTED}" "${DEMO_TIMEOUT_S}" show; then
        log "the API did not show every demo asset as replayed within ${DEMO_TIMEOUT_S}s"
        explain_dead_letters
    fi
else
    deadline=$((SECONDS + DEMO_TIMEOUT_S))
    until [[ -n "$("${CLI}" inspect assets.snapshots --from-beginning --key AST-QBO-CAPRICORN --max 1 --timeout 2 --json 2>/dev/null)" ]]; do
        ((SECONDS < deadline)) || { log "no Capricorn snapshot within ${DEMO_TIMEOUT_S}s (see ${WORKER_LOG})"; break; }
    done
fi
ENV_HINT="${ASSETSTREAM_TOPIC_PREFIX:+ASSETSTREAM_TOPIC_PREFIX=${ASSETSTREAM_TOPIC_PREFIX} }"

cat <<EOF

=== Where to look ===
  Capricorn asset page:  ${API_URL}/ui/assets/AST-QBO-CAPRICORN
  Capricorn account:     ${API_URL}/ui/accounts/ACC-CAPRICORN
  Other accounts:        ${API_URL}/ui/accounts/ACC-NORTHWIND  (also ACC-BLUEBIRD, ACC-ACME, ACC-ACME-EU, ACC-SAKURA)
  SPEC §9 (Tailspin):    ${API_URL}/ui/accounts/ACC-TAILSPIN
    price change, voided mistake (Related → Voided events), upgrade source:
                         ${API_URL}/ui/assets/AST-CRM-TAILSPIN
    upgrade target:      ${API_URL}/ui/assets/AST-CRM-ENT-TAILSPIN
    auto-renewing monthly subscription (Details → auto-renew, next renewal):
                         ${API_URL}/ui/assets/AST-HELP-TAILSPIN
  Account records:       ${API_URL}/accounts/ACC-CAPRICORN   (topic: ${ENV_HINT}.venv/bin/assetstream inspect accounts.mrr --from-beginning)
  JSON API:              ${API_URL}/assets/AST-QBO-CAPRICORN   (OpenAPI: ${API_URL}/openapi.json)
  Worker metrics:        http://127.0.0.1:${WEB_PORT}/metrics
  Operator's view:       ${ENV_HINT}.venv/bin/assetstream status   (lag, members, pending, dead letters)
  Topics:                ${ENV_HINT}.venv/bin/assetstream inspect assets.snapshots --from-beginning
                         ${ENV_HINT}.venv/bin/assetstream inspect assets.deadletter --from-beginning
                         ${ENV_HINT}.venv/bin/assetstream inspect assets.snapshots --key AST-QBO-CAPRICORN --follow
                         ${ENV_HINT}.venv/bin/assetstream topology
  Logs:                  ${WORKER_LOG}, ${API_LOG}
  Demo events:           ${DEMO_EVENTS#"${ROOT}/"} (load again: ${ENV_HINT}.venv/bin/assetstream produce ${DEMO_EVENTS#"${ROOT}/"})

Worker (pid ${worker_pid}) and API keep running. Ctrl-C stops them; 'make down' stops Kafka and Redis.
EOF
if ((api_started == 0)); then
    echo "(No API in this checkout: the page and JSON URLs above are not served.)"
fi

# Step 5
status=0
wait "${worker_pid}" || status=$?
log "the worker exited (status ${status}; log ${WORKER_LOG})"
exit "${status}"
