#!/usr/bin/env bash
# Stop only what this checkout started: the broker, the 3-broker cluster, the secure broker and
# redis-server (their pid files). Their data is kept.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "${ROOT}/scripts/kafka.sh" stop
bash "${ROOT}/scripts/kafka.sh" cluster stop
bash "${ROOT}/scripts/kafka.sh" secure stop
bash "${ROOT}/scripts/redis.sh" stop
