#!/usr/bin/env bash
# `make run`: the main job on a fresh machine.
#
# Placeholder until the worker and the demo loader land (streams/commands/worker.py,
# streams/demo/): it brings the stack up, then runs `assetstream worker` in the
# foreground when that subcommand exists. TODO(worker/demo owners): load the demo
# events once (assetstream produce streams/demo/...), start the API, and print where
# to look (asset page URL, `assetstream inspect assets.snapshots`).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "${ROOT}/scripts/up.sh"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-${DEFAULT_KAFKA}}"
export REDIS_URL="${REDIS_URL:-${DEFAULT_REDIS_URL}}"

cd "${ROOT}"
if [[ -f "${ROOT}/streams/commands/worker.py" ]]; then
    echo "Starting the worker (Ctrl-C to stop; 'make down' stops Kafka and Redis)."
    exec "${ROOT}/.venv/bin/assetstream" worker
fi
echo "Kafka and Redis are up, but the worker has not landed yet (streams/commands/worker.py)."
echo "'assetstream --help' lists the commands available now; 'make down' stops the stack."
