"""Consumer lag as Prometheus metrics, read from the cluster by a background coroutine.

`run_lag_monitor(settings, stop)` runs in the worker (a faust task): every ``interval``
seconds it reads, for the worker's group and the projection's group, the end offset and
the committed offset of every partition they consume (`streams.ops.cluster`), and sets

- ``assetstream_consumer_lag{group,topic,partition}`` and ``assetstream_consumer_group_lag{group}``,
- ``assetstream_consumer_committed_offset{group,topic,partition}``,
  ``assetstream_topic_end_offset{topic,partition}``,
- ``assetstream_consumer_group_members{group}``,
- ``assetstream_lag_monitor_last_success_timestamp_seconds`` (and
  ``assetstream_lag_monitor_errors_total`` when a round fails),

and, once, ``assetstream_pending_grace_seconds`` from ``ASSETSTREAM_PENDING_GRACE`` (the
alert rules compare the pending age with it).

It never raises: a failed round is counted and logged (at most one line a minute, with the
reason `streams.connectivity.check_kafka` gives when the cluster cannot be reached), its
client is closed, and the next round starts with a fresh one after a backoff (up to
``MAX_BACKOFF_SECONDS``). A round that fails leaves the last values in place; the age of
the last success says how old they are. Partitions that disappear lose their series. It
returns soon after ``stop`` is set; cancelling it also stops it.

Every worker runs one and exports the same cluster-wide numbers: aggregate with ``max``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from streams import metrics
from streams.connectivity import KafkaConnectError, check_kafka
from streams.ops.cluster import ClusterReader, GroupInfo, GroupLag, consumer_groups
from streams.settings import Settings
from streams.sinks.logfilters import RateLimitFilter

__all__ = ["LagExporter", "run_lag_monitor"]

log = logging.getLogger(__name__)
log.addFilter(RateLimitFilter(60.0))

MAX_BACKOFF_SECONDS = 60.0


class LagExporter:
    """Sets the lag gauges from one reading and removes the series that are gone."""

    def __init__(self) -> None:
        self._partitions: set[tuple[str, str, str]] = set()
        self._committed: set[tuple[str, str, str]] = set()
        self._ends: set[tuple[str, str]] = set()
        self._groups: set[str] = set()
        self._members: set[str] = set()

    def export(self, groups: Sequence[GroupLag], infos: Sequence[GroupInfo] = ()) -> None:
        partitions: set[tuple[str, str, str]] = set()
        committed: set[tuple[str, str, str]] = set()
        ends: set[tuple[str, str]] = set()
        names: set[str] = set()
        for group in groups:
            name = group.spec.group_id
            names.add(name)
            metrics.CONSUMER_GROUP_LAG.labels(group=name).set(group.total)
            for row in group.partitions:
                labels = (name, row.topic, str(row.partition))
                partitions.add(labels)
                metrics.CONSUMER_LAG.labels(*labels).set(row.lag)
                ends.add((row.topic, str(row.partition)))
                metrics.TOPIC_END_OFFSET.labels(row.topic, str(row.partition)).set(row.end)
                if row.committed is not None:
                    committed.add(labels)
                    metrics.CONSUMER_COMMITTED_OFFSET.labels(*labels).set(row.committed)
        members: set[str] = set()
        for info in infos:
            if info.error is None:
                members.add(info.group_id)
                metrics.CONSUMER_GROUP_MEMBERS.labels(group=info.group_id).set(len(info.members))
        for labels in self._partitions - partitions:
            metrics.CONSUMER_LAG.remove(*labels)
        for labels in self._committed - committed:
            metrics.CONSUMER_COMMITTED_OFFSET.remove(*labels)
        for end_labels in self._ends - ends:
            metrics.TOPIC_END_OFFSET.remove(*end_labels)
        for name in self._groups - names:
            metrics.CONSUMER_GROUP_LAG.remove(name)
        for name in self._members - members:
            metrics.CONSUMER_GROUP_MEMBERS.remove(name)
        self._partitions, self._committed, self._ends = partitions, committed, ends
        self._groups, self._members = names, members


async def read_once(
    reader: ClusterReader, settings: Settings
) -> tuple[list[GroupLag], list[GroupInfo]]:
    specs = consumer_groups(settings)
    groups = await reader.lag(specs)
    infos = await reader.describe_groups([spec.group_id for spec in specs])
    return groups, infos


async def run_lag_monitor(settings: Settings, stop: asyncio.Event, interval: float = 10.0) -> None:
    """Export consumer lag every ``interval`` seconds until ``stop`` is set; never raises."""
    interval = max(0.1, interval)
    timeout = max(10.0, min(30.0, interval * 3))
    metrics.PENDING_GRACE.set(settings.pending_grace.total_seconds())
    exporter = LagExporter()
    reader: ClusterReader | None = None
    failures = 0
    try:
        while not stop.is_set():
            try:
                if reader is None:
                    reader = await _connect(settings, timeout)
                groups, infos = await asyncio.wait_for(read_once(reader, settings), timeout)
                exporter.export(groups, infos)
                metrics.LAG_MONITOR_LAST_SUCCESS.set(time.time())
                if failures:
                    log.info("lag monitor: reading the cluster again after %d failure(s)",
                             failures)  # fmt: skip
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                metrics.LAG_MONITOR_ERRORS.inc()
                log.warning("lag monitor: cannot read consumer lag (%s); retrying", _why(exc))
                if reader is not None:
                    await _close(reader)
                    reader = None
            pause = interval if not failures else min(MAX_BACKOFF_SECONDS, interval * failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
    finally:
        if reader is not None:
            await _close(reader)


async def _connect(settings: Settings, timeout: float) -> ClusterReader:
    # check_kafka says in one line why a cluster cannot be used (password, TLS, address);
    # aiokafka's own bootstrap only says "Unable to bootstrap".
    await check_kafka(settings, timeout)
    reader = ClusterReader(settings, timeout=timeout, client_id="assetstream-lag-monitor")
    await reader.start()
    return reader


async def _close(reader: ClusterReader) -> None:
    try:
        await reader.close()
    except Exception:
        log.debug("lag monitor: closing the client failed", exc_info=True)


def _why(exc: BaseException) -> str:
    if isinstance(exc, KafkaConnectError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "the cluster did not answer in time"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
