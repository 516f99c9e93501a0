"""The 3-broker cluster keeps acks=all writes through a broker crash and a full restart.

Real Apache Kafka, three KRaft nodes (scripts/kafka.sh cluster). Topics here have
replication factor 3 and min.insync.replicas 2: with one broker down the two others
still form a quorum and an in-sync set large enough for acks=all.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.connectivity import ReplicationError, check_kafka, check_replication
from streams.settings import Settings, aiokafka_kwargs
from tests.integration.cluster import (  # noqa: F401  (fixtures are found by name)
    NODES,
    KafkaCluster,
    create_topic,
    describe_partitions,
    kafka_cluster_fixture,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PARTITIONS = 3
RF3_MIN_ISR2 = {"min.insync.replicas": "2"}


def _topic(label: str) -> str:
    return f"it-{uuid.uuid4().hex[:12]}.{label}"


def _producer(settings: Settings) -> AIOKafkaProducer:
    # Idempotence: a batch retried after a leader change is written once, not twice.
    return AIOKafkaProducer(
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=60_000,
        retry_backoff_ms=200,
        linger_ms=5,
        **aiokafka_kwargs(settings),
    )


async def _send(producer: AIOKafkaProducer, topic: str, values: list[str]) -> None:
    """Send every value (keyed by itself) and wait until each is acknowledged by acks=all."""
    futures = [await producer.send(topic, key=v.encode(), value=v.encode()) for v in values]
    await asyncio.gather(*futures)


async def _read_all(
    settings: Settings,
    topic: str,
    expected: int,
    *,
    group: str | None = None,
    timeout: float = 60.0,
) -> list[str]:
    """Values read from every partition until ``expected`` arrived (and a bit longer)."""
    common = {"auto_offset_reset": "earliest", "enable_auto_commit": False}
    if group is None:
        consumer = AIOKafkaConsumer(**common, **aiokafka_kwargs(settings))
    else:
        consumer = AIOKafkaConsumer(topic, group_id=group, **common, **aiokafka_kwargs(settings))
    await consumer.start()
    try:
        if group is None:
            partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
        values: list[str] = []
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                values.extend(r.value.decode() for r in records if r.value is not None)
            if len(values) >= expected:
                # Keep reading briefly: a duplicate would arrive right behind.
                quiet_until = quiet_until or time.monotonic() + 2.0
                if time.monotonic() >= quiet_until:
                    break
        if group is not None:
            await consumer.commit()
        return values
    finally:
        await consumer.stop()


async def _wait_isr(settings: Settings, topic: str, size: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        partitions = await describe_partitions(settings, topic)
        if partitions and all(len(p["isr"]) == size for p in partitions.values()):
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"ISR of {topic} never became {size}: {partitions}")
        await asyncio.sleep(0.5)


def _assert_once(values: list[str], expected: list[str]) -> None:
    counts = Counter(values)
    duplicates = {v: n for v, n in counts.items() if n > 1}
    missing = set(expected) - set(counts)
    assert not duplicates, f"read more than once: {dict(list(duplicates.items())[:5])}"
    assert not missing, f"{len(missing)} acknowledged messages never read: {sorted(missing)[:5]}"
    assert len(values) == len(expected)


def test_rf3_topic_keeps_acks_all_writes_while_a_broker_is_killed(
    kafka_cluster: KafkaCluster,
) -> None:
    kafka_cluster.heal()
    settings = kafka_cluster.settings()
    topic = _topic("replicated")
    before = [f"before-{i:04d}" for i in range(300)]
    during = [f"during-{i:04d}" for i in range(300)]
    after = [f"after-{i:04d}" for i in range(300)]

    async def scenario() -> None:
        assert await check_kafka(settings) == list(NODES)
        await check_replication(settings)
        await create_topic(
            settings, topic, partitions=PARTITIONS, replication_factor=3, configs=RF3_MIN_ISR2
        )
        await _wait_isr(settings, topic, 3)
        layout = await describe_partitions(settings, topic)
        assert all(sorted(p["replicas"]) == list(NODES) for p in layout.values()), layout
        victim: int = layout[0]["leader"]

        producer = _producer(settings)
        await producer.start()
        try:
            await _send(producer, topic, before)
            # Crash the leader of partition 0 while the producer is connected to it.
            await asyncio.to_thread(kafka_cluster.kill, victim)
            started = time.monotonic()
            await _send(producer, topic, during)
            print(f"acks=all writes resumed {time.monotonic() - started:.1f}s after the crash")
            # The victim is fenced: fewer live brokers than ASSETSTREAM_REPLICATION_FACTOR=3.
            survivors = set(NODES) - {victim}
            await asyncio.to_thread(kafka_cluster.wait_for_brokers, survivors)
            with pytest.raises(ReplicationError, match="has 2 live broker"):
                await check_replication(settings)
            await _wait_isr(settings, topic, 2)
            layout = await describe_partitions(settings, topic)
            assert all(p["leader"] != victim for p in layout.values()), layout

            await asyncio.to_thread(kafka_cluster.start, victim)
            await _send(producer, topic, after)
        finally:
            await producer.stop()
        # The restarted broker catches up and rejoins every in-sync set: it holds every message.
        await _wait_isr(settings, topic, 3)
        await check_replication(settings)

    asyncio.run(scenario())
    values = asyncio.run(_read_all(settings, topic, 900))
    _assert_once(values, before + during + after)


def test_whole_cluster_restart_keeps_topics_messages_and_committed_offsets(
    kafka_cluster: KafkaCluster,
) -> None:
    kafka_cluster.heal()
    settings = kafka_cluster.settings()
    topic = _topic("restart")
    group = f"{topic}.group"
    first = [f"first-{i:04d}" for i in range(200)]
    second = [f"second-{i:04d}" for i in range(50)]

    async def before_restart() -> None:
        await create_topic(
            settings, topic, partitions=PARTITIONS, replication_factor=3, configs=RF3_MIN_ISR2
        )
        await _wait_isr(settings, topic, 3)
        producer = _producer(settings)
        await producer.start()
        try:
            await _send(producer, topic, first)
        finally:
            await producer.stop()
        # A consumer group reads everything and commits (offsets topic: RF 3 as well).
        _assert_once(await _read_all(settings, topic, len(first), group=group), first)

    asyncio.run(before_restart())
    kafka_cluster.restart_all()

    async def after_restart() -> tuple[list[str], list[str], dict[int, dict[str, Any]]]:
        layout = await describe_partitions(settings, topic)
        everything = await _read_all(settings, topic, len(first))
        producer = _producer(settings)
        await producer.start()
        try:
            await _send(producer, topic, second)
        finally:
            await producer.stop()
        resumed = await _read_all(settings, topic, len(second), group=group)
        return everything, resumed, layout

    everything, resumed, layout = asyncio.run(after_restart())
    assert sorted(layout) == list(range(PARTITIONS))
    assert all(sorted(p["replicas"]) == list(NODES) for p in layout.values()), layout
    _assert_once(everything, first)
    # The group's committed offsets survived: it resumes with the new messages only.
    _assert_once(resumed, second)
