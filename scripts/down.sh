#!/usr/bin/env bash
# Stop only the Kafka broker and redis-server this checkout started (their pid files).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "${ROOT}/scripts/kafka.sh" stop
bash "${ROOT}/scripts/redis.sh" stop
