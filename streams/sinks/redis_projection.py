"""Projection of `assets.snapshots` into the Redis read model.

A plain aiokafka consumer in its own consumer group (`{prefix}assetstream-projection`),
so a slow or absent Redis never holds back the stream processor. Offsets are
committed by hand, and only after every record of a batch is in Redis: while
Redis is down the projection retries with backoff and commits nothing, so a
crash or a restart resumes from the last projected record. Writes are
idempotent (the versioned Lua script), so re-reading records is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import Counter, Gauge

from streams.readmodel import ReadModel, Tombstone, check, namespace_for

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

    from streams.settings import Settings

log = logging.getLogger(__name__)

SNAPSHOTS_TOPIC: Final = "assets.snapshots"

PROJECTED = Counter(
    "assetstream_projection_records_total",
    "Snapshot records read by the Redis projection, by outcome.",
    ["outcome"],  # written | stale | deleted | invalid
)
LAG = Gauge(
    "assetstream_projection_lag_records",
    "Snapshot records on the topic not yet projected and committed (last known highwater).",
)
RESTARTS = Counter(
    "assetstream_projection_restarts_total",
    "Times the projection restarted after an unexpected error.",
)
REDIS_RETRIES = Counter(
    "assetstream_projection_redis_retries_total",
    "Redis writes retried by the projection because Redis was unreachable.",
)


@dataclass(frozen=True, slots=True)
class ProjectionConfig:
    """Everything the projection needs, so tests can run it without the environment."""

    topic: str
    group_id: str
    redis_url: str
    namespace: str
    kafka_kwargs: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 500
    poll_timeout_ms: int = 500
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0


def config_from_settings(settings: Settings) -> ProjectionConfig:
    from streams.settings import aiokafka_kwargs, topic_name

    return ProjectionConfig(
        topic=topic_name(settings, SNAPSHOTS_TOPIC),
        group_id=f"{settings.topic_prefix}assetstream-projection",
        redis_url=settings.redis_url,
        namespace=namespace_for(settings.topic_prefix),
        kafka_kwargs=aiokafka_kwargs(settings),
    )


async def run_projection(settings: Settings, stop_event: asyncio.Event) -> None:
    """Project snapshots into Redis until `stop_event` is set (the worker's entry point).

    Never raises for an outage: an unexpected error (Kafka unreachable at
    start, a consumer failure) is logged and the projection restarts after a
    backoff, resuming from the last committed offsets. Cancelling the task
    stops it too; nothing uncommitted is lost either way.
    """
    config = config_from_settings(settings)
    delay = config.backoff_initial_s
    while not stop_event.is_set():
        try:
            await project_snapshots(config, stop_event)
            return
        except Exception:
            RESTARTS.inc()
            log.exception("projection: failed; restarting in %.1fs", delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=delay)
        delay = min(delay * 2, config.backoff_max_s * 6)


def open_redis(redis_url: str) -> Any:
    """A Redis client that fails fast: the projection's loop owns the retrying."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        redis_url,
        socket_connect_timeout=2,
        socket_timeout=5,
        retry=Retry(NoBackoff(), 0),
    )


async def project_snapshots(config: ProjectionConfig, stop_event: asyncio.Event) -> None:
    """Consume, write to Redis, commit; repeat until `stop_event` is set."""
    from aiokafka import AIOKafkaConsumer

    if not await _wait_for_topic(config, stop_event):
        return
    redis = open_redis(config.redis_url)
    model = ReadModel(redis, config.namespace)
    kafka_kwargs = dict(config.kafka_kwargs)
    consumer = AIOKafkaConsumer(
        config.topic,
        group_id=config.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # A long Redis outage keeps us away from getmany(); past this the group
        # rebalances and the uncommitted records are simply read again.
        max_poll_interval_ms=300_000,
        **kafka_kwargs,
    )
    await consumer.start()
    log.info("projection: %s -> redis (group %s)", config.topic, config.group_id)
    lags: dict[TopicPartition, int] = {}
    try:
        while not stop_event.is_set():
            batch = await consumer.getmany(
                timeout_ms=config.poll_timeout_ms, max_records=config.batch_size
            )
            if not batch:
                continue
            changes = _changes_of(batch)
            if not await _write_with_retry(model, changes, config, stop_event):
                return  # stopping mid-outage: nothing committed, records are re-read
            await _commit(consumer, batch, lags)
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await redis.aclose()


async def _wait_for_topic(config: ProjectionConfig, stop_event: asyncio.Event) -> bool:
    """Wait until the snapshots topic exists; False if stopped first.

    aiokafka's metadata requests let a broker with auto.create.topics.enable
    create a missing topic with default settings. Subscribing before the
    worker has created the compacted topic would create a non-compacted one.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    delay = config.backoff_initial_s
    while not stop_event.is_set():
        admin = AIOKafkaAdminClient(**dict(config.kafka_kwargs))
        try:
            await admin.start()
            if config.topic in await admin.list_topics():
                return True
            log.info("projection: waiting for topic %s to be created", config.topic)
        except Exception as exc:
            log.warning("projection: kafka unavailable (%s); retrying in %.1fs", exc, delay)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=delay)
        delay = min(delay * 2, config.backoff_max_s)
    return False


async def _write_with_retry(
    model: ReadModel,
    changes: Sequence[bytes | Tombstone],
    config: ProjectionConfig,
    stop_event: asyncio.Event,
) -> bool:
    """Write a batch until it succeeds (True) or `stop_event` is set (False)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    delay = config.backoff_initial_s
    while True:
        try:
            await _write_batch(model, changes)
            return True
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            REDIS_RETRIES.inc()
            log.warning("projection: redis unavailable (%s); retrying in %.1fs", exc, delay)
        # Sleep on the stop event so a shutdown is not delayed by the backoff.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=delay)
        if stop_event.is_set():
            return False
        delay = min(delay * 2, config.backoff_max_s)


def _changes_of(
    batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
) -> list[bytes | Tombstone]:
    """The batch's valid records, in order per partition."""
    changes: list[bytes | Tombstone] = []
    for records in batch.values():
        for record in records:
            change = _change_of(record)
            if change is not None:
                changes.append(change)
    return changes


async def _write_batch(model: ReadModel, changes: Sequence[bytes | Tombstone]) -> None:
    """Write the changes in one pipeline; the Lua script makes repeats no-ops."""
    results = await model.apply_all(changes)
    for change, changed in zip(changes, results, strict=True):
        if isinstance(change, Tombstone):
            PROJECTED.labels("deleted").inc()
        else:
            PROJECTED.labels("written" if changed else "stale").inc()


def _change_of(record: ConsumerRecord[bytes, bytes]) -> bytes | Tombstone | None:
    """What a record asks of the read model; None (logged) for a record to skip."""
    if record.value is None:
        if record.key is None:
            return None
        return Tombstone(record.key.decode("utf-8", errors="replace"))
    try:
        check(record.value)
    except ValueError as exc:
        # Our own output topic; a bad record is a producer bug. Skip it loudly
        # rather than stop projecting every other asset.
        PROJECTED.labels("invalid").inc()
        log.error(
            "projection: skipping invalid snapshot at %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            exc,
        )
        return None
    value: bytes = record.value
    return value


async def _commit(
    consumer: AIOKafkaConsumer,
    batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
    lags: dict[TopicPartition, int],
) -> None:
    """Commit the batch's offsets, then update the lag gauge (per assigned partition)."""
    from aiokafka.errors import CommitFailedError, KafkaError

    offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, KafkaError) as exc:
        # A rebalance took the partitions away; their new owner re-reads from
        # the last commit, and re-writing is idempotent.
        log.warning("projection: commit failed (%s); records will be re-read", exc)
        return
    for tp, offset in offsets.items():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lags[tp] = max(0, highwater - offset)
    LAG.set(sum(lags.get(tp, 0) for tp in consumer.assignment()))
