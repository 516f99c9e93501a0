"""Read consumer lag and group membership from the cluster, creating nothing.

A broker with default settings (``auto.create.topics.enable=true``) creates a topic that a
Metadata request names. Here Metadata is only ever asked for *every* topic (one request,
no names), and everything else — end offsets (ListOffsets, to each partition's leader),
committed offsets (OffsetFetch) and members (DescribeGroups, to the group's coordinator) —
goes through requests that never create a topic. So `assetstream status` and the worker's
lag monitor can run against a cluster whose topics are missing and leave them missing.

Lag of a partition is its end offset (the high watermark) minus the group's committed
offset. A partition the group has committed nothing for counts from the log start offset:
the worker and the projection reset to the earliest offset, so that is what they would
read. A committed offset below the log start (retention deleted records first) also
counts from the log start.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiokafka import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import DescribeGroupsRequest
from aiokafka.protocol.commit import OffsetFetchRequest
from aiokafka.protocol.coordination import FindCoordinatorRequest
from aiokafka.protocol.offset import OffsetRequest
from aiokafka.structs import TopicPartition

from streams.settings import Settings, aiokafka_kwargs, app_id
from streams.topics import topic_names

__all__ = [
    "EARLIEST",
    "LATEST",
    "ClusterError",
    "ClusterReader",
    "GroupInfo",
    "GroupLag",
    "GroupSpec",
    "MemberInfo",
    "PartitionLag",
    "consumer_groups",
]

LATEST = -1  # ListOffsets "timestamps" meaning the end offset and the log start offset
EARLIEST = -2
READ_UNCOMMITTED = 0  # the worker does not use transactions: the end is the high watermark

Role = Literal["worker", "projection"]
T = TypeVar("T")


class ClusterError(RuntimeError):
    """The cluster answered with an error (the message names the request and the error).

    ``retriable``: the error may pass by itself (a coordinator that is moving or loading,
    ``__consumer_offsets`` being created on a fresh cluster).
    """

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


def _error(what: str, code: int) -> ClusterError:
    error = for_code(code)
    return ClusterError(f"{what}: {error.__name__}", retriable=bool(error.retriable))


RETRY_BACKOFF_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A consumer group of ours and the topics (full names) it consumes."""

    group_id: str
    role: Role
    topics: tuple[str, ...]


def consumer_groups(settings: Settings) -> tuple[GroupSpec, ...]:
    """The worker's group (the faust app id) and the Redis projection's group."""
    names = topic_names(settings)
    worker = GroupSpec(
        app_id(settings),
        "worker",
        (names.orders, names.amendments, names.by_event, names.commands),
    )
    from streams.sinks.redis_projection import config_from_settings

    projection = config_from_settings(settings)
    return (
        worker,
        GroupSpec(projection.group_id, "projection", tuple(t.topic for t in projection.topics)),
    )


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    start: int  # log start offset
    end: int  # end offset (high watermark)
    committed: int | None  # None: the group has committed nothing here

    @property
    def lag(self) -> int:
        consumed = self.start if self.committed is None else max(self.committed, self.start)
        return max(0, self.end - consumed)


@dataclass(frozen=True, slots=True)
class GroupLag:
    spec: GroupSpec
    partitions: tuple[PartitionLag, ...]
    missing_topics: tuple[str, ...]  # topics the group consumes that do not exist

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)


@dataclass(frozen=True, slots=True)
class MemberInfo:
    member_id: str
    client_id: str
    client_host: str
    assigned: Mapping[str, tuple[int, ...]]  # topic -> partitions (as the protocol says)
    standbys: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # faust only
    url: str | None = None  # faust: the worker's web server (its /metrics)


@dataclass(frozen=True, slots=True)
class GroupInfo:
    group_id: str
    state: str  # Stable, PreparingRebalance, CompletingRebalance, Empty, Dead
    protocol: str  # the assignor: faust, roundrobin, range, …
    members: tuple[MemberInfo, ...]
    error: str | None = None


class ClusterReader:
    """One aiokafka client for the requests above; ``async with ClusterReader(settings)``."""

    def __init__(
        self, settings: Settings, *, timeout: float = 10.0, client_id: str = "assetstream-ops"
    ) -> None:
        kwargs = aiokafka_kwargs(settings)
        self._timeout = timeout
        self._client_kwargs: dict[str, Any] = {
            **kwargs,
            "client_id": client_id,
            "request_timeout_ms": max(1, int(timeout * 1000)),
        }
        self._client: AIOKafkaClient | None = None

    async def __aenter__(self) -> ClusterReader:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        client = AIOKafkaClient(**self._client_kwargs)
        try:
            await asyncio.wait_for(client.bootstrap(), self._timeout)
        except BaseException:
            await client.close()
            raise
        self._client = client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    @property
    def client(self) -> AIOKafkaClient:
        if self._client is None:
            raise RuntimeError("ClusterReader is not started")
        return self._client

    # ---- topics --------------------------------------------------------------------------

    async def metadata(self) -> ClusterMetadata:
        """Metadata of every topic (no topic named, so none is created)."""
        return await asyncio.wait_for(self.client.fetch_all_metadata(), self._timeout)

    # ---- offsets -------------------------------------------------------------------------

    async def list_offsets(
        self, metadata: ClusterMetadata, partitions: Iterable[TopicPartition], timestamp: int
    ) -> dict[TopicPartition, int]:
        """Offsets per partition for ``timestamp``: `LATEST`, `EARLIEST` or unix ms.

        For a time, the offset of the first record at or after it, or the end offset when
        there is none (ListOffsets answers -1 then).
        """
        by_leader: dict[int, dict[str, list[tuple[int, int]]]] = {}
        for tp in partitions:
            leader = metadata.leader_for_partition(tp)
            if leader is None or leader < 0:
                raise ClusterError(f"partition {tp.topic}[{tp.partition}] has no leader")
            by_leader.setdefault(leader, {}).setdefault(tp.topic, []).append(
                (tp.partition, timestamp)
            )
        answers = await asyncio.gather(
            *(self._list_offsets_at(node, topics) for node, topics in by_leader.items())
        )
        offsets: dict[TopicPartition, int] = {}
        for answer in answers:
            offsets.update(answer)
        if timestamp >= 0 and any(offset < 0 for offset in offsets.values()):
            ends = await self.list_offsets(
                metadata, [tp for tp, offset in offsets.items() if offset < 0], LATEST
            )
            offsets.update(ends)
        return offsets

    async def _list_offsets_at(
        self, node: int, topics: Mapping[str, list[tuple[int, int]]]
    ) -> dict[TopicPartition, int]:
        request = OffsetRequest(-1, READ_UNCOMMITTED, list(topics.items()))
        response = await self._send(node, request)
        offsets: dict[TopicPartition, int] = {}
        for topic, partitions in response.topics:
            for partition, error_code, *info in partitions:
                if error_code:
                    raise ClusterError(
                        f"ListOffsets for {topic}[{partition}]: {for_code(error_code).__name__}"
                    )
                # v0 answers a list of offsets; v1+ answers (timestamp, offset[, epoch]).
                legacy = response.API_VERSION == 0
                offset = (info[0][0] if info[0] else -1) if legacy else info[1]
                offsets[TopicPartition(topic, partition)] = int(offset)
        return offsets

    async def committed(
        self, group_id: str, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        """The group's committed offset per partition (None where it committed nothing)."""
        if not partitions:
            return {}
        return await self._retrying(lambda: self._committed(group_id, partitions))

    async def _committed(
        self, group_id: str, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        result: dict[TopicPartition, int | None] = dict.fromkeys(partitions)
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        coordinator = await self.coordinator(group_id)
        response = await self._send(
            coordinator, OffsetFetchRequest(group_id, sorted(by_topic.items()))
        )
        top_error = getattr(response, "error_code", 0)
        if top_error:
            raise _error(f"OffsetFetch for {group_id}", top_error)
        for topic, answered in response.topics:
            for partition, offset, _metadata, error_code in answered:
                if error_code:
                    raise _error(f"OffsetFetch for {group_id} {topic}[{partition}]", error_code)
                tp = TopicPartition(topic, partition)
                if tp in result:
                    result[tp] = int(offset) if offset >= 0 else None
        return result

    async def coordinator(self, group_id: str) -> int:
        response = await self._send(None, FindCoordinatorRequest(group_id, 0))
        if response.error_code:
            raise _error(f"FindCoordinator for {group_id}", response.error_code)
        return int(response.coordinator_id)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()`` again while it fails with a retriable error, for up to the timeout."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return await attempt()
            except ClusterError as exc:
                if not exc.retriable or time.monotonic() + RETRY_BACKOFF_SECONDS > deadline:
                    raise
            await asyncio.sleep(RETRY_BACKOFF_SECONDS)

    # ---- what the operator asks for -------------------------------------------------------

    async def lag(
        self, specs: Sequence[GroupSpec], metadata: ClusterMetadata | None = None
    ) -> list[GroupLag]:
        """Lag of every partition of every group's topics; missing topics listed apart."""
        metadata = metadata or await self.metadata()
        present = metadata.topics(exclude_internal_topics=False)
        wanted: dict[str, list[TopicPartition]] = {}
        for spec in specs:
            for topic in spec.topics:
                if topic in present:
                    wanted[topic] = [
                        TopicPartition(topic, p)
                        for p in sorted(metadata.partitions_for_topic(topic) or ())
                    ]
        every = [tp for tps in wanted.values() for tp in tps]
        ends, starts = await asyncio.gather(
            self.list_offsets(metadata, every, LATEST),
            self.list_offsets(metadata, every, EARLIEST),
        )
        committed_by_group = await asyncio.gather(
            *(
                self.committed(spec.group_id, [tp for t in spec.topics for tp in wanted.get(t, ())])
                for spec in specs
            )
        )
        groups: list[GroupLag] = []
        for spec, committed in zip(specs, committed_by_group, strict=True):
            rows = tuple(
                PartitionLag(tp.topic, tp.partition, starts[tp], ends[tp], committed.get(tp))
                for topic in spec.topics
                for tp in wanted.get(topic, ())
            )
            missing = tuple(t for t in spec.topics if t not in present)
            groups.append(GroupLag(spec, rows, missing))
        return groups

    async def describe_groups(self, group_ids: Sequence[str]) -> list[GroupInfo]:
        """State and members of each group (a group nobody ever joined is ``Dead``)."""
        infos: list[GroupInfo] = []
        for group_id in group_ids:
            try:
                infos.append(await self._retrying(functools.partial(self._describe, group_id)))
            except ClusterError as exc:
                infos.append(GroupInfo(group_id, "unknown", "", (), error=str(exc)))
        return infos

    async def _describe(self, group_id: str) -> GroupInfo:
        coordinator = await self.coordinator(group_id)
        response = await self._send(coordinator, DescribeGroupsRequest([group_id]))
        for group in response.groups:
            error_code, name, state, _protocol_type, protocol, members = group[:6]
            if name != group_id:
                continue
            if error_code:
                raise _error(f"DescribeGroups for {group_id}", error_code)
            return GroupInfo(name, state, protocol, tuple(_member(*m[:5]) for m in members))
        raise ClusterError(f"DescribeGroups did not describe {group_id}")

    async def _send(self, node: int | None, request: Any) -> Any:
        client = self.client
        target = client.get_random_node() if node is None else node
        if target is None:
            raise ClusterError("no broker is known to send the request to")
        try:
            return await asyncio.wait_for(client.send(target, request), self._timeout)
        except KafkaError as exc:
            raise ClusterError(
                f"{type(request).__name__} to broker {target}: {exc}",
                retriable=bool(getattr(exc, "retriable", False)),
            ) from exc


# ---- decoding what consumers put in their group ------------------------------------------


def _member(
    member_id: str, client_id: str, client_host: str, metadata: bytes, assignment: bytes
) -> MemberInfo:
    assigned: dict[str, tuple[int, ...]] = {}
    standbys: dict[str, tuple[int, ...]] = {}
    url: str | None = None
    if assignment:
        try:
            decoded = ConsumerProtocolMemberAssignment.decode(assignment)
            for topic, partitions in decoded.assignment:
                assigned[topic] = tuple(sorted(partitions))
            standbys = _faust_standbys(decoded.user_data)
        except Exception:  # another client's protocol: show what we can
            assigned = {}
    if metadata:
        url = _faust_url(metadata)
    return MemberInfo(member_id, client_id, client_host, assigned, standbys, url)


def _faust_standbys(user_data: bytes | None) -> dict[str, tuple[int, ...]]:
    """faust's assignment carries its standby partitions as zlib-compressed JSON."""
    if not user_data:
        return {}
    try:
        document = json.loads(zlib.decompress(user_data))
        raw = document.get("assignment", {}).get("standbys", {})
        return {str(t): tuple(sorted(int(p) for p in ps)) for t, ps in raw.items() if ps}
    except Exception:
        return {}


def _faust_url(metadata: bytes) -> str | None:
    """faust's subscription metadata names the worker's web URL."""
    try:
        user_data = ConsumerProtocolMemberMetadata.decode(metadata).user_data
        if not user_data:
            return None
        url = json.loads(user_data).get("url")
        return str(url) if url else None
    except Exception:
        return None
