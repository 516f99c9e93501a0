"""Read a topic between fixed offsets, within a time limit: pending events and dead letters.

`scan_topic` reads every partition from a start offset up to the end offset taken before
it began (records produced meanwhile are left out, so the numbers describe one moment),
with no consumer group (nothing is committed), and stops at a deadline, saying so.

`PendingCount` keeps the latest snapshot per asset of the compacted `assets.snapshots`
(the highest version; a tombstone removes the asset) and counts their `pending_events`.
The snapshots say which events are pending but not since when, so an event's age is
counted from the broker timestamp of the oldest snapshot still on the topic that already
showed it pending, in an unbroken run of its asset's snapshots. Compaction removes older
snapshots, so this is a lower bound: the event has been pending *at least* that long (the
worker's own gauge, `assetstream_pending_oldest_age_seconds`, is exact).

`DeadLetterCount` counts dead letters by `reason_code`, with the newest `dead_lettered_at`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from streams.settings import Settings, aiokafka_kwargs

__all__ = ["DeadLetterCount", "PendingCount", "ScanResult", "scan_topic"]

UNREADABLE = "(unreadable)"


@dataclass(frozen=True, slots=True)
class ScanResult:
    topic: str
    records_read: int
    records_total: int  # records between the start and end offsets (before compaction)
    complete: bool  # False: the deadline came first
    seconds: float


async def scan_topic(
    settings: Settings,
    topic: str,
    starts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
    on_record: Callable[[Any], None],
    *,
    deadline: float,
    connect_timeout: float = 10.0,
    client_id: str = "assetstream-status",
) -> ScanResult:
    """Feed every record of ``topic`` with ``starts[tp] <= offset < ends[tp]`` to ``on_record``.

    ``deadline`` is a `time.monotonic()` value for the reading; the result says whether
    everything was read by then. Connecting has its own ``connect_timeout``.
    """
    began = time.monotonic()
    todo = {tp: end for tp, end in ends.items() if end > starts.get(tp, 0)}
    total = sum(end - starts.get(tp, 0) for tp, end in todo.items())
    read = 0
    if not todo:
        return ScanResult(topic, 0, 0, True, 0.0)
    consumer = AIOKafkaConsumer(
        **aiokafka_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=client_id,
        max_partition_fetch_bytes=max(1024 * 1024, settings.max_message_bytes),
    )
    try:
        await asyncio.wait_for(consumer.start(), connect_timeout)
        consumer.assign(list(todo))  # the topic exists (listed first): naming it creates nothing
        for tp in todo:
            consumer.seek(tp, starts.get(tp, 0))
        while todo:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            batch = await consumer.getmany(
                *todo, timeout_ms=int(min(remaining, 0.5) * 1000), max_records=2000
            )
            for tp, records in batch.items():
                end = todo.get(tp)
                if end is None:
                    continue
                for record in records:
                    if record.offset >= end:
                        break
                    on_record(record)
                    read += 1
            for tp in list(todo):
                if await consumer.position(tp) >= todo[tp]:
                    del todo[tp]
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    return ScanResult(topic, read, total, not todo, time.monotonic() - began)


@dataclass(slots=True)
class _AssetPending:
    version: int
    since: dict[str, tuple[int, str]]  # event id -> (first seen, ms; reason code)
    omitted: int


@dataclass(frozen=True, slots=True)
class PendingSummary:
    events: int  # pending events on the latest snapshots (including omitted ones)
    assets: int  # assets with at least one
    snapshots: int  # assets with a live snapshot
    by_reason: Mapping[str, int]
    oldest_since_ms: int | None
    oldest_event_id: str | None
    oldest_asset_id: str | None
    omitted: int  # listed only as a count (`pending_events_omitted` of a cut-down snapshot)
    unreadable: int  # records that were not a snapshot

    def oldest_age_seconds(self, now_ms: int) -> float | None:
        if self.oldest_since_ms is None:
            return None
        return max(0.0, (now_ms - self.oldest_since_ms) / 1000)


@dataclass(slots=True)
class PendingCount:
    """Feed it snapshot records in offset order per partition; `summary()` at the end."""

    assets: dict[bytes, _AssetPending] = field(default_factory=dict)
    unreadable: int = 0

    def add(self, record: Any) -> None:
        key: bytes | None = record.key
        if key is None:
            self.unreadable += 1
            return
        if record.value is None:  # tombstone: the asset was retracted
            self.assets.pop(key, None)
            return
        try:
            value = orjson.loads(record.value)
            version = int(value["version"])
            items = value.get("pending_events") or []
            omitted = int(value.get("pending_events_omitted") or 0)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.unreadable += 1
            return
        previous = self.assets.get(key)
        if previous is not None and version < previous.version:
            return  # consumers keep the highest version per key (SPEC §5)
        earlier = previous.since if previous is not None else {}
        since: dict[str, tuple[int, str]] = {}
        for position, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            ident = str(item.get("event_id") or item.get("action_id") or f"#{position}")
            reason = str(item.get("reason_code") or "unknown")
            first = earlier.get(ident)
            since[ident] = (first[0] if first else int(record.timestamp), reason)
        self.assets[key] = _AssetPending(version, since, omitted)

    def summary(self) -> PendingSummary:
        by_reason: dict[str, int] = {}
        oldest: tuple[int, str, str] | None = None
        events = assets = omitted = 0
        for key, asset in self.assets.items():
            if asset.since or asset.omitted:
                assets += 1
            events += len(asset.since) + asset.omitted
            omitted += asset.omitted
            for ident, (since, reason) in asset.since.items():
                by_reason[reason] = by_reason.get(reason, 0) + 1
                candidate = (since, ident, key.decode("utf-8", "replace"))
                if oldest is None or candidate < oldest:
                    oldest = candidate
        if omitted:
            by_reason["(omitted)"] = omitted
        return PendingSummary(
            events=events,
            assets=assets,
            snapshots=len(self.assets),
            by_reason=dict(sorted(by_reason.items())),
            oldest_since_ms=oldest[0] if oldest else None,
            oldest_event_id=oldest[1] if oldest else None,
            oldest_asset_id=oldest[2] if oldest else None,
            omitted=omitted,
            unreadable=self.unreadable,
        )


@dataclass(slots=True)
class DeadLetterCount:
    """Dead letters by reason code; records before ``since_ms`` (broker time) are skipped."""

    since_ms: int | None = None
    by_reason: dict[str, int] = field(default_factory=dict)
    latest: dict[str, str] = field(default_factory=dict)  # reason -> newest dead_lettered_at

    def add(self, record: Any) -> None:
        if self.since_ms is not None and record.timestamp < self.since_ms:
            return
        reason = UNREADABLE
        at: str | None = None
        try:
            value = orjson.loads(record.value) if record.value is not None else None
            if isinstance(value, dict) and isinstance(value.get("reason_code"), str):
                reason = value["reason_code"]
                stamp = value.get("dead_lettered_at")
                at = stamp if isinstance(stamp, str) else None
        except orjson.JSONDecodeError:
            pass
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        if at is not None and at > self.latest.get(reason, ""):
            self.latest[reason] = at

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())
