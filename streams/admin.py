"""Start-up topic management: create what is missing, refuse mismatched partition counts."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import Settings, aiokafka_kwargs
from streams.topics import TopicNames

COMPACT = {"cleanup.policy": "compact"}


def topic_configs(settings: Settings, *, compacted: bool) -> dict[str, str]:
    """Configs of every topic the app creates: message size, replication, cleanup policy."""
    configs = {
        # Snapshots of large assets and dead letters of 1 MiB inputs exceed Kafka's 1 MB
        # default; the producer is set to the same limit (streams.app.faust_settings).
        "max.message.bytes": str(settings.max_message_bytes),
        "min.insync.replicas": str(settings.insync_replicas),
    }
    if compacted:
        configs.update(COMPACT)
    return configs


class PartitionMismatchError(RuntimeError):
    """Topics that must be co-partitioned are not: the fold would read the wrong table rows."""


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    # Describe only topics that exist: a Metadata request for a missing topic makes a broker
    # with auto.create.topics.enable create it with its default (wrong) partition count.
    present = set(await admin.list_topics())
    names = [name for name in names if name in present]
    if not names:
        return {}
    counts: dict[str, int] = {}
    for topic in await admin.describe_topics(names):
        if topic.get("error_code", 0) == 0 and topic.get("partitions"):
            counts[topic["topic"]] = len(topic["partitions"])
    return counts


async def ensure_topics(settings: Settings, names: TopicNames) -> dict[str, int]:
    """Create missing topics (snapshots and changelogs compacted); return partition counts.

    Raises PartitionMismatchError naming the topics when co-partitioned pairs differ.
    """
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        compacted = names.compacted()
        wanted = {
            topic: topic_configs(settings, compacted=topic in compacted)
            for topic in [*names.created_by_us(), *names.changelogs()]
        }
        existing = await _partition_counts(admin, list(wanted))
        missing = [
            NewTopic(topic, settings.partitions, settings.replication_factor, topic_configs=config)
            for topic, config in wanted.items()
            if topic not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except Exception as exc:  # a concurrent worker may have won the race
                if "TopicAlreadyExists" not in type(exc).__name__ + str(exc):
                    raise
            for _ in range(50):  # metadata propagates asynchronously after creation
                existing = await _partition_counts(admin, list(wanted))
                if all(topic in existing for topic in wanted):
                    break
                await asyncio.sleep(0.1)
        check_co_partitioning(names, existing)
        return existing
    finally:
        await admin.close()


def check_co_partitioning(names: TopicNames, counts: dict[str, Any]) -> None:
    problems = [
        f"{left} has {counts.get(left)} partitions but {right} has {counts.get(right)}"
        for left, right in names.co_partitioned()
        if counts.get(left) != counts.get(right)
    ]
    if problems:
        raise PartitionMismatchError(
            "topics that must be co-partitioned differ: "
            + "; ".join(problems)
            + ". Recreate them with the same count, or set ASSETSTREAM_PARTITIONS to match."
        )
