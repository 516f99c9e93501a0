#!/usr/bin/env bash
# Bring up what the app and the tests need: system packages, Kafka, Redis.
# Reuses running services; starts only what is missing; prints the addresses.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash "${ROOT}/scripts/install-system-deps.sh"
bash "${ROOT}/scripts/kafka.sh" start
bash "${ROOT}/scripts/redis.sh" start
echo "Kafka:  ${KAFKA_BOOTSTRAP_SERVERS:-${DEFAULT_KAFKA}}   (broker log: ${RUN_DIR}/kafka/broker.log when started here)"
echo "Redis:  ${REDIS_URL:-${DEFAULT_REDIS_URL}}"
echo "Stop what this checkout started with: make down"
