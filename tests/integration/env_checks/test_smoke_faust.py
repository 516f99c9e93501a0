"""Environment check: a real faust worker process against the real broker.

Not a test of assetstream (see conftest.py: marked `env_check`): the worker is
a minimal smoke app, not the project's.

The worker (tests/integration/smoke_app.py) consumes raw bytes, counts per key in a
table and publishes JSON; the test produces with aiokafka, consumes the output, and
checks through the admin client that the table's changelog topic exists and is
compacted. A second worker process must restore the table from the changelog and
resume from the committed offsets. This is the test that decided the Kafka version
(README).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

pytestmark = pytest.mark.integration

WORKER_READY_TIMEOUT_S = 60.0
OUTPUT_TIMEOUT_S = 60.0


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=1, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


async def _topic_cleanup_policy(bootstrap: str, topic: str) -> str | None:
    """The topic's cleanup.policy, or None when the topic does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return None
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        for response in responses:
            for resource in response.resources:
                for entry in resource[4]:
                    if entry[0] == "cleanup.policy":
                        return str(entry[1])
        return ""
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """Read ``count`` JSON records from the start of ``topic`` or fail naming the timeout."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    received: list[dict[str, Any]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(received) < count:
            if loop.time() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {count} records on {topic}; "
                    f"got {received}"
                )
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                received.extend(json.loads(m.value) for m in messages if m.value is not None)
    finally:
        await consumer.stop()
    return received


def test_faust_worker_consumes_updates_table_publishes_and_recovers_after_restart(
    kafka_bootstrap: str,
    stack_env: dict[str, str],
    topic_prefix: str,
    start_process: Callable[..., Any],
    wait_until: Callable[..., Any],
    tmp_path: Path,
) -> None:
    app_id = f"{topic_prefix}smoke"
    inbound, outbound = f"{topic_prefix}in", f"{topic_prefix}out"
    changelog = f"{app_id}-counts-changelog"
    asyncio.run(_create_topics(kafka_bootstrap, [inbound, outbound]))

    worker_env = {
        **stack_env,
        "SMOKE_APP_ID": app_id,
        "SMOKE_IN_TOPIC": inbound,
        "SMOKE_OUT_TOPIC": outbound,
        "SMOKE_DATA_DIR": str(tmp_path),
    }
    # Step 1: the first worker counts three messages.
    worker = start_process(
        ["python", "-m", "tests.integration.smoke_app", "worker", "-l", "info", "--without-web"],
        env=worker_env,
        name="smoke faust worker",
    )
    worker.wait_for_log("Worker ready", timeout=WORKER_READY_TIMEOUT_S)

    asyncio.run(
        _produce(
            kafka_bootstrap, inbound, [(b"alpha", b"one"), (b"beta", b"two"), (b"alpha", b"three")]
        )
    )
    received = asyncio.run(_consume(kafka_bootstrap, outbound, 3, OUTPUT_TIMEOUT_S))

    assert received == [
        {"key": "alpha", "value": "one", "count": 1},
        {"key": "beta", "value": "two", "count": 1},
        {"key": "alpha", "value": "three", "count": 2},
    ]
    assert worker.stop() == 0, worker.log_text()[-4000:]

    # Step 2: a second worker process restores the table from the changelog and
    # continues counting where the first one stopped (its offsets were committed).
    restarted = start_process(
        ["python", "-m", "tests.integration.smoke_app", "worker", "-l", "info", "--without-web"],
        env=worker_env,
        name="restarted smoke faust worker",
    )
    restarted.wait_for_log("Worker ready", timeout=WORKER_READY_TIMEOUT_S)
    asyncio.run(_produce(kafka_bootstrap, inbound, [(b"alpha", b"four")]))
    received = asyncio.run(_consume(kafka_bootstrap, outbound, 4, OUTPUT_TIMEOUT_S))
    assert received[3] == {"key": "alpha", "value": "four", "count": 3}
    assert restarted.stop() == 0, restarted.log_text()[-4000:]

    policy = wait_until(
        lambda: asyncio.run(_topic_cleanup_policy(kafka_bootstrap, changelog)),
        timeout=10,
        what=f"changelog topic {changelog} to exist",
    )
    assert policy == "compact"
