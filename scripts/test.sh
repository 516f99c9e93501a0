#!/usr/bin/env bash
# The whole test suite against a real broker and Redis: `make test` runs this.
#
# Brings the stack up (reusing running services), exports KAFKA_BOOTSTRAP_SERVERS and
# REDIS_URL for the tests, runs pytest over tests/. Extra arguments go to pytest
# (make test PYTEST_ARGS="-k smoke"). "No tests collected" (exit 5) is a failure.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "${ROOT}/scripts/up.sh"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-${DEFAULT_KAFKA}}"
export REDIS_URL="${REDIS_URL:-${DEFAULT_REDIS_URL}}"

cd "${ROOT}"
status=0
"${ROOT}/.venv/bin/python" -m pytest tests --durations=15 "$@" || status=$?
# .ci/run reads this: make reports any failing recipe as 2.
echo "$status" >"${RUN_DIR}/last-pytest-status"
if ((status == 5)); then
    echo "[test.sh] ERROR: pytest collected no tests: a suite that runs nothing must not pass" >&2
fi
exit "$status"
