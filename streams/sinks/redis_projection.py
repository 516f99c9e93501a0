"""Projection of compacted topics (`assets.snapshots`, `accounts.mrr`) into the Redis read model.

A plain aiokafka consumer in its own consumer group (`{prefix}assetstream-projection`),
so a slow or absent Redis never holds back the stream processor. Redis is a
cache of the topics, and it says itself how far it got:

- Each batch is written in one pipeline that ends with the partitions'
  progress (`ReadModel.apply_all`), recorded only while the epoch marker is
  the one this projection knows. A newly assigned partition resumes from that
  progress, not from the group's commit, so a Redis that lost writes (or came
  back from an old backup) is re-filled from what it lacks.
- A Redis that lost its data lost the marker too. The projection checks the
  marker on start, after every Redis error, with every batch and every
  `epoch_check_interval_s`; when it is missing it begins a new build (end
  offsets of every partition taken now as targets) and reads every partition
  from its beginning. Another projection of the same group seeing a marker it
  does not know does the same for its own partitions. The build is complete
  once every partition's progress reaches its target; until then the API
  answers 503 "rebuilding" for what it cannot find.
- Offsets are still committed to the group after each batch, so lag shows in
  Kafka's tools; resuming never depends on them. Writes are idempotent (the
  versioned Lua scripts), so re-reading records is harmless, and a partition
  is always read in order, so a tombstone is never undone by an older record.
- A required topic (`assets.snapshots`) is waited for; an optional one
  (`accounts.mrr`, created by a worker that computes account records) that
  does not exist yet is reported and left out, the others are projected, and
  it is looked for again every `topic_check_interval_s`. When it appears it
  joins the current build (`ReadModel.join_topic`): the consumer subscribes
  to it and the build is complete again once it is read.

Redis outages are retried with backoff; their log lines go through a
`RateLimitFilter` (one line every few seconds, with a count of the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError
from prometheus_client import Counter, Gauge
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError as RedisReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams.readmodel import (
    Change,
    Delete,
    Progress,
    ProgressUpdate,
    ReadModel,
    ReadModelState,
    RecordKind,
    namespace_for,
    prepare,
    progress_field,
)
from streams.sinks.logfilters import RateLimitFilter
from streams.topics import ACCOUNTS, SNAPSHOTS

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord

    from streams.settings import Settings

log = logging.getLogger(__name__)
# Outage reports repeat on every retry: one line every few seconds is enough.
outage_log = logging.getLogger(f"{__name__}.outage")
outage_log.addFilter(RateLimitFilter(5.0))

SNAPSHOTS_TOPIC: Final = SNAPSHOTS
ACCOUNTS_TOPIC: Final = ACCOUNTS  # SPEC §10; created by the worker at start-up

# The compacted topics projected from the settings: base name, record kind,
# and whether the projection waits for it (required) or goes on without it
# until it appears (optional). A new topic is one more line.
PROJECTED_TOPICS: Final[tuple[tuple[str, RecordKind, bool], ...]] = (
    (SNAPSHOTS_TOPIC, RecordKind.ASSET_SNAPSHOT, True),
    (ACCOUNTS_TOPIC, RecordKind.ACCOUNT_MRR, False),
)

# What an unreachable (or read-only, failed-over) Redis raises.
REDIS_UNAVAILABLE: Final = (RedisConnectionError, RedisTimeoutError, RedisReadOnlyError, OSError)

PROJECTED = Counter(
    "assetstream_projection_records_total",
    "Records read by the Redis projection, by outcome.",
    ["outcome"],  # written | stale | deleted | invalid
)
LAG = Gauge(
    "assetstream_projection_lag_records",
    "Records on the projected topics not yet projected and committed (last known highwater).",
)
RESTARTS = Counter(
    "assetstream_projection_restarts_total",
    "Times the projection restarted after an unexpected error.",
)
REDIS_RETRIES = Counter(
    "assetstream_projection_redis_retries_total",
    "Redis operations retried by the projection because Redis was unreachable.",
)
REBUILDS = Counter(
    "assetstream_projection_rebuilds_total",
    "Builds of the read model from the beginning of the topics begun by this process.",
)
REBUILDING = Gauge(
    "assetstream_projection_rebuilding",
    "1 while the read model is being rebuilt from the beginning of the topics, else 0.",
)
MISSING_TOPICS = Gauge(
    "assetstream_projection_missing_topics",
    "Optional topics the projection is configured for that do not exist yet.",
)


@dataclass(frozen=True, slots=True)
class ProjectedTopic:
    """A compacted topic the projection copies into Redis (full name, with the prefix)."""

    topic: str
    kind: RecordKind
    # Required topics are waited for; an optional one is projected once it exists.
    required: bool = True


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What one batch did, for `ProjectionConfig.on_batch`."""

    records: int
    partitions: tuple[str, ...]  # "topic:partition" of the records
    rebuilding: bool  # the read model was still being rebuilt after this batch


@dataclass(frozen=True, slots=True)
class ProjectionConfig:
    """Everything the projection needs, so tests can run it without the environment."""

    topics: Sequence[ProjectedTopic]
    group_id: str
    redis_url: str
    namespace: str
    kafka_kwargs: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 500
    poll_timeout_ms: int = 500
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    epoch_check_interval_s: float = 2.0
    # How often a missing optional topic is looked for.
    topic_check_interval_s: float = 10.0
    # Awaited after a batch is in Redis, before its commit: an observer (tests
    # hold a rebuild here to look at it).
    on_batch: Callable[[BatchReport], Awaitable[None]] | None = None


def config_from_settings(settings: Settings) -> ProjectionConfig:
    from streams.settings import aiokafka_kwargs, topic_name

    return ProjectionConfig(
        topics=tuple(
            ProjectedTopic(topic_name(settings, t), k, required)
            for t, k, required in PROJECTED_TOPICS
        ),
        group_id=f"{settings.topic_prefix}assetstream-projection",
        redis_url=settings.redis_url,
        namespace=namespace_for(settings.topic_prefix),
        kafka_kwargs=aiokafka_kwargs(settings),
    )


async def run_projection(settings: Settings, stop_event: asyncio.Event) -> None:
    """Project the topics into Redis until `stop_event` is set (the worker's entry point).

    Never raises for an outage: an unexpected error (Kafka unreachable at
    start, a consumer failure) is logged and the projection restarts after a
    backoff, resuming from what Redis holds. Cancelling the task stops it
    too; nothing is lost either way.
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
        await _sleep(stop_event, delay)
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
    """Consume, write to Redis with the progress, commit; repeat until `stop_event` is set."""
    found = await _wait_for_topics(config, stop_event)
    if found is None:
        return
    redis = open_redis(config.redis_url)
    consumer = AIOKafkaConsumer(
        group_id=config.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # A long Redis outage keeps us away from getmany(); past this the group
        # rebalances and the partitions resume from Redis's progress.
        max_poll_interval_ms=300_000,
        **dict(config.kafka_kwargs),
    )
    projection = _Projection(config, consumer, ReadModel(redis, config.namespace), found)
    projection.subscribe()
    try:
        await consumer.start()
        log.info(
            "projection: %s -> redis (group %s)",
            ", ".join(projection.projected),
            config.group_id,
        )
        await projection.run(stop_event)
    finally:
        MISSING_TOPICS.set(0)
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await redis.aclose()


class _Projection:
    """One consumer's projection: the epoch it knows, the partitions to position."""

    def __init__(
        self,
        config: ProjectionConfig,
        consumer: AIOKafkaConsumer,
        model: ReadModel,
        found: FoundTopics,
    ) -> None:
        self.config = config
        self.consumer = consumer
        self.model = model
        self.partitions = list(found.partitions)
        self.kinds = {t.topic: t.kind for t in config.topics}
        # Optional topics that do not exist yet, and projected ones the build lacks.
        self.missing = list(found.missing)
        self.unjoined: set[str] = set()
        self.last_topic_check = time.monotonic()
        self.listener = _Rebalance(self)
        MISSING_TOPICS.set(len(self.missing))
        self.epoch_id: str | None = None
        self.rebuilding = False
        # Assigned partitions not yet positioned at Redis's progress (paused).
        self.pending: set[TopicPartition] = set()
        self.check_due = True
        self.last_check = 0.0
        self.lags: dict[TopicPartition, int] = {}

    async def run(self, stop_event: asyncio.Event) -> None:
        """Steps until stopped; a Redis outage is retried with backoff, committing nothing."""
        delay = self.config.backoff_initial_s
        failures = 0
        while not stop_event.is_set():
            try:
                await self.step()
            except REDIS_UNAVAILABLE as exc:
                failures += 1
                REDIS_RETRIES.inc()
                outage_log.warning(
                    "projection: redis unavailable (%s: %s); retrying in %.1fs",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                # On reconnecting: check the marker first, then resume every
                # partition from what Redis holds (the failed batch included).
                self.check_due = True
                self.hold(self.consumer.assignment())
                await _sleep(stop_event, delay)
                delay = min(delay * 2, self.config.backoff_max_s)
                continue
            if failures:
                log.info("projection: redis reachable again after %d failed attempts", failures)
                failures = 0
                delay = self.config.backoff_initial_s

    @property
    def projected(self) -> list[str]:
        """The configured topics that exist (and are subscribed to), in config order."""
        absent = {t.topic for t in self.missing}
        return [t.topic for t in self.config.topics if t.topic not in absent]

    def subscribe(self) -> None:
        self.consumer.subscribe(self.projected, listener=self.listener)

    async def step(self) -> None:
        """One round of the projection.

        1. Check the epoch marker when due (start, after a Redis error, every
           `epoch_check_interval_s`); a missing one begins a rebuild.
        2. Look for missing optional topics when due; a topic that appeared is
           subscribed to, and joins the build (so is every projected topic the
           build does not list yet).
        3. Seek held partitions to the progress Redis recorded for them.
        4. Write one batch with its progress and commit it; with nothing to
           read during a rebuild, record where the partitions stand.
        """
        # Step 1: know the build in Redis (start, after an error, periodically).
        interval = self.config.epoch_check_interval_s
        if self.check_due or time.monotonic() - self.last_check >= interval:
            await self.sync_epoch()
        # Step 2: topics that appeared since the start, and joining the build.
        topic_interval = self.config.topic_check_interval_s
        if self.missing and time.monotonic() - self.last_topic_check >= topic_interval:
            await self.look_for_missing()
        if self.unjoined:
            await self.join_topics()
        # Step 3: position new or rewound partitions where Redis's progress says.
        if self.pending:
            await self.position_pending()
        # Step 4: one batch, written with its progress, then committed.
        batch = await self.consumer.getmany(
            timeout_ms=self.config.poll_timeout_ms, max_records=self.config.batch_size
        )
        if batch:
            await self.write(batch)
        elif self.rebuilding:
            # Partitions at their end report it, or the build never completes
            # where no record is left to read (e.g. trailing control records).
            await self.record_idle_progress()

    async def sync_epoch(self) -> None:
        """Adopt the marker in Redis; begin a build when there is none."""
        epoch = await self.model.epoch()
        began = False
        if epoch is None:
            targets = await self.end_offsets()
            epoch, began = await self.model.begin_epoch(targets=targets, topics=self.projected)
        if epoch.id != self.epoch_id:
            if began:
                REBUILDS.inc()
                log.warning(
                    "projection: no epoch marker in Redis (a first start, or Redis lost its "
                    "data): rebuilding the read model from the beginning of %s (epoch %s)",
                    ", ".join(epoch.topics),
                    epoch.id,
                )
            elif self.epoch_id is not None:
                log.warning(
                    "projection: another projection began epoch %s; reading our partitions "
                    "from the beginning",
                    epoch.id,
                )
            if began or self.epoch_id is not None:
                self.hold(self.consumer.assignment())
            self.epoch_id = epoch.id
        self.set_rebuilding(epoch.state is not ReadModelState.COMPLETE)
        # A build begun before a topic existed (here or by another projection) lacks it.
        self.unjoined = set(self.projected) - set(epoch.topics)
        self.check_due = False
        self.last_check = time.monotonic()

    async def look_for_missing(self) -> None:
        """Subscribe to the optional topics that exist now; they then join the build."""
        self.last_topic_check = time.monotonic()
        found = await _describe_topics(self.config, [t.topic for t in self.missing])
        if found is None:
            return  # Kafka unreachable: looked for again at the next interval
        appeared = {tp.topic for tp in found}
        if not appeared:
            return
        self.partitions += found
        self.missing = [t for t in self.missing if t.topic not in appeared]
        MISSING_TOPICS.set(len(self.missing))
        self.unjoined |= appeared
        self.subscribe()  # a rebalance assigns (and holds) the new partitions
        log.info(
            "projection: topic %s exists now; projecting it from its beginning",
            ", ".join(sorted(appeared)),
        )

    async def join_topics(self) -> None:
        """Add projected topics the build does not list to it, with their end offsets as targets."""
        for topic in sorted(self.unjoined):
            tps = [tp for tp in self.partitions if tp.topic == topic]
            ends = await self.consumer.end_offsets(tps)
            targets = {progress_field(tp.topic, tp.partition): end for tp, end in ends.items()}
            answer = await self.model.join_topic(self.current_epoch(), topic, targets)
            if answer is Progress.LOST:
                self.check_due = True  # the next build begins with every topic in it
                return
            self.unjoined.discard(topic)
            self.set_rebuilding(answer is Progress.REBUILDING)

    def hold(self, partitions: Iterable[TopicPartition]) -> None:
        """Pause assigned partitions until `position_pending` seeks them to Redis's progress.

        Paused, no record of theirs is returned from where the consumer happens
        to be (the group's commit, or past a batch Redis lost).
        """
        held = set(partitions) & self.consumer.assignment()
        if held:
            self.consumer.pause(*held)
        self.pending |= held

    def set_rebuilding(self, rebuilding: bool) -> None:
        self.rebuilding = rebuilding
        REBUILDING.set(1 if rebuilding else 0)

    async def end_offsets(self) -> dict[str, int]:
        ends = await self.consumer.end_offsets(self.partitions)
        return {progress_field(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def position_pending(self) -> None:
        """Seek each pending partition to its recorded progress (none: the beginning)."""
        assigned = self.consumer.assignment()
        self.pending &= assigned
        tps = sorted(self.pending)
        fields = {tp: progress_field(tp.topic, tp.partition) for tp in tps}
        recorded = await self.model.progress(list(fields.values()))
        fresh = []
        try:
            for tp in tps:
                offset = recorded.get(fields[tp])
                if offset is None:
                    fresh.append(tp)
                else:
                    self.consumer.seek(tp, offset)
            if fresh:
                await self.consumer.seek_to_beginning(*fresh)
        except IllegalStateError:
            return  # revoked meanwhile; the listener has updated `pending`
        self.consumer.resume(*tps)
        self.pending -= set(tps)

    async def write(
        self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Write a batch and its progress in one round trip; commit unless the build changed."""
        changes = self.changes_of(batch)
        offsets = {
            progress_field(tp.topic, tp.partition): records[-1].offset + 1
            for tp, records in batch.items()
            if records
        }
        results, progress = await self.model.apply_all(
            changes, ProgressUpdate(self.current_epoch(), offsets)
        )
        if not self.note_progress(progress):
            return  # written into a Redis that lost the build: never committed
        for change, changed in zip(changes, results, strict=True):
            if isinstance(change, Delete):
                PROJECTED.labels("deleted").inc()
            else:
                PROJECTED.labels("written" if changed else "stale").inc()
        if self.config.on_batch is not None:
            records = sum(len(r) for r in batch.values())
            await self.config.on_batch(BatchReport(records, tuple(offsets), self.rebuilding))
        await self.commit(batch)

    async def record_idle_progress(self) -> None:
        offsets: dict[str, int] = {}
        for tp in self.consumer.assignment() - self.pending:
            try:
                offsets[progress_field(tp.topic, tp.partition)] = await self.consumer.position(tp)
            except IllegalStateError:
                continue
        progress = await self.model.record_progress(ProgressUpdate(self.current_epoch(), offsets))
        self.note_progress(progress)

    def current_epoch(self) -> str:
        if self.epoch_id is None:  # sync_epoch runs before any write
            raise RuntimeError("projection: writing before the epoch is known")
        return self.epoch_id

    def note_progress(self, progress: Progress | None) -> bool:
        """Follow the answer to a progress write; False when the build was lost."""
        if progress is Progress.LOST:
            log.warning(
                "projection: the epoch marker is gone or changed (Redis lost its data?); "
                "checking it before going on"
            )
            self.check_due = True
            return False
        if progress is Progress.COMPLETED:
            log.info("projection: read model complete (epoch %s)", self.epoch_id)
        self.set_rebuilding(progress is Progress.REBUILDING)
        return True

    def changes_of(
        self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> list[Change]:
        """The batch's valid records, in order per partition."""
        changes: list[Change] = []
        for tp, records in batch.items():
            kind = self.kinds[tp.topic]
            for record in records:
                change = _change_of(record, kind)
                if change is not None:
                    changes.append(change)
        return changes

    async def commit(
        self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Commit the batch's offsets, then update the lag gauge (per assigned partition)."""
        from aiokafka.errors import CommitFailedError, KafkaError

        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partitions away; their new owner resumes from
            # Redis's progress, so nothing depends on this commit.
            log.warning("projection: commit failed (%s); records may be read again", exc)
            return
        for tp, offset in offsets.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                self.lags[tp] = max(0, highwater - offset)
        LAG.set(sum(self.lags.get(tp, 0) for tp in self.consumer.assignment()))


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Holds newly assigned partitions until they are positioned at Redis's progress."""

    def __init__(self, projection: _Projection) -> None:
        self._projection = projection

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self._projection.pending -= set(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        # The main loop may be inside getmany right now: held, nothing is
        # returned from the group's commit before the loop seeks.
        self._projection.hold(assigned)


async def _sleep(stop_event: asyncio.Event, delay: float) -> None:
    """Sleep on the stop event, so a shutdown is not delayed by a backoff."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop_event.wait(), timeout=delay)


@dataclass(frozen=True, slots=True)
class FoundTopics:
    """The partitions of the projected topics that exist, and the optional ones that do not."""

    partitions: tuple[TopicPartition, ...]
    missing: tuple[ProjectedTopic, ...]


async def _wait_for_topics(
    config: ProjectionConfig, stop_event: asyncio.Event
) -> FoundTopics | None:
    """Wait until every required topic exists; what exists then, or None if stopped first.

    aiokafka's metadata requests let a broker with auto.create.topics.enable
    create a missing topic with default settings. Subscribing before the
    worker has created a compacted topic would create a non-compacted one, so
    the topics are listed (which creates nothing) before they are described.
    A missing optional topic does not hold the others back: it is reported
    here and looked for again while projecting.
    """
    required = [t.topic for t in config.topics if t.required]
    delay = config.backoff_initial_s
    while not stop_event.is_set():
        found = await _describe_topics(config, [t.topic for t in config.topics])
        if found is not None:
            existing = {tp.topic for tp in found}
            waiting = [t for t in required if t not in existing]
            if not waiting:
                missing = tuple(t for t in config.topics if t.topic not in existing)
                for topic in missing:
                    log.warning(
                        "projection: topic %s does not exist yet (the worker creates it at "
                        "start-up); projecting %s without it and looking for it every %.0fs",
                        topic.topic,
                        ", ".join(sorted(existing)),
                        config.topic_check_interval_s,
                    )
                return FoundTopics(tuple(found), missing)
            log.info("projection: waiting for topic %s to be created", ", ".join(waiting))
        await _sleep(stop_event, delay)
        delay = min(delay * 2, config.backoff_max_s)
    return None


async def _describe_topics(
    config: ProjectionConfig, wanted: Sequence[str]
) -> list[TopicPartition] | None:
    """The partitions of those of `wanted` that exist; None when Kafka cannot be asked.

    Lists before describing: describing a missing topic could auto-create it.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**dict(config.kafka_kwargs))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        present = [t for t in wanted if t in existing]
        if not present:
            return []
        described = await admin.describe_topics(present)
        return [
            TopicPartition(topic["topic"], p["partition"])
            for topic in described
            for p in topic["partitions"]
        ]
    except Exception as exc:
        outage_log.warning("projection: kafka unavailable (%s); retrying in a moment", exc)
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def _change_of(record: ConsumerRecord[bytes, bytes], kind: RecordKind) -> Change | None:
    """What a record asks of the read model; None (logged) for a record to skip."""
    if record.value is None:
        if record.key is None:
            return None
        return Delete(kind, record.key.decode("utf-8", errors="replace"))
    try:
        return prepare(record.value, kind)
    except ValueError as exc:
        # Our own output topic; a bad record is a producer bug. Skip it loudly
        # rather than stop projecting every other key.
        PROJECTED.labels("invalid").inc()
        log.error(
            "projection: skipping invalid %s at %s[%d]@%d: %s",
            kind.value,
            record.topic,
            record.partition,
            record.offset,
            exc,
        )
        return None
