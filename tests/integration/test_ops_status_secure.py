"""`assetstream status` and the lag monitor over SASL/SCRAM-SHA-512 + TLS (scripts/kafka.sh secure).

The right credentials read the cluster; a wrong password is one line on stderr and exit
code 1 within the connect timeout, never a hang, a traceback or the password.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping

import pytest
from prometheus_client import REGISTRY

from streams.ops.lag import run_lag_monitor
from streams.settings import load_settings
from tests.integration.cluster import (  # noqa: F401  (fixtures are found by name)
    REPO_ROOT,
    create_topic,
    secure_kafka_fixture,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

STATUS_TIMEOUT_S = 90.0
CONNECT_TIMEOUT_S = 5.0
MONITOR_TIMEOUT_S = 30.0


def _status(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "status", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=STATUS_TIMEOUT_S,
        check=False,
    )


def test_status_over_sasl_ssl(secure_kafka: dict[str, str]) -> None:
    prefix = f"it-{uuid.uuid4().hex[:12]}."
    settings = load_settings(**secure_kafka, ASSETSTREAM_TOPIC_PREFIX=prefix)
    orders = f"{prefix}orders.fulfilled"
    asyncio.run(create_topic(settings, orders, partitions=2, replication_factor=1))
    done = _status({**secure_kafka, "ASSETSTREAM_TOPIC_PREFIX": prefix}, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["topics"][orders] == {"present": True, "partitions": 2}
    assert report["topics"][f"{prefix}assets.snapshots"]["present"] is False
    assert secure_kafka["KAFKA_SASL_PASSWORD"] not in done.stdout + done.stderr


def test_status_with_a_wrong_password_is_one_line(secure_kafka: dict[str, str]) -> None:
    env = {**secure_kafka, "KAFKA_SASL_PASSWORD": "not-the-password"}
    started = time.monotonic()
    done = _status(env, "--connect-timeout", str(CONNECT_TIMEOUT_S))
    took = time.monotonic() - started
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("assetstream status: ") and "authentication failed" in lines[0]
    assert "not-the-password" not in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert took < STATUS_TIMEOUT_S


def test_lag_monitor_over_sasl_ssl(secure_kafka: dict[str, str]) -> None:
    prefix = f"it-{uuid.uuid4().hex[:12]}."
    settings = load_settings(**secure_kafka, ASSETSTREAM_TOPIC_PREFIX=prefix)
    orders = f"{prefix}orders.fulfilled"
    group = f"{prefix}assetstream"

    async def main() -> float | None:
        await create_topic(settings, orders, partitions=2, replication_factor=1)
        stop = asyncio.Event()
        monitor = asyncio.ensure_future(run_lag_monitor(settings, stop, interval=0.2))
        try:
            deadline = time.monotonic() + MONITOR_TIMEOUT_S
            while True:
                lag = REGISTRY.get_sample_value("assetstream_consumer_group_lag", {"group": group})
                if lag is not None or time.monotonic() > deadline:
                    return lag
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.wait_for(monitor, MONITOR_TIMEOUT_S)

    assert asyncio.run(main()) == 0
