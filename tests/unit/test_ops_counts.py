"""streams.ops without a broker: lag arithmetic, pending and dead-letter counts, the gauges."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from streams import metrics
from streams.ops.cluster import GroupInfo, GroupLag, GroupSpec, MemberInfo, PartitionLag
from streams.ops.lag import LagExporter, run_lag_monitor
from streams.ops.pending import PendingTracker
from streams.ops.scan import DeadLetterCount, PendingCount
from streams.settings import load_settings

HOUR_MS = 3_600_000


@dataclass
class Rec:
    key: bytes | None
    value: bytes | None
    timestamp: int
    offset: int = 0
    partition: int = 0


def snapshot(asset: str, version: int, *pending: tuple[str, str], **extra: object) -> bytes:
    items = [{"event_id": e, "reason_code": r, "action_id": e} for e, r in pending]
    return json.dumps(
        {"asset_id": asset, "version": version, "pending_events": items, **extra}
    ).encode()


# ---- lag -----------------------------------------------------------------------------------


def test_lag_is_end_minus_committed_and_counts_from_the_log_start() -> None:
    assert PartitionLag("t", 0, start=0, end=10, committed=4).lag == 6
    assert PartitionLag("t", 0, start=0, end=10, committed=None).lag == 10
    assert PartitionLag("t", 0, start=7, end=10, committed=None).lag == 3  # retention
    assert PartitionLag("t", 0, start=7, end=10, committed=2).lag == 3  # committed < start
    assert PartitionLag("t", 0, start=0, end=10, committed=12).lag == 0  # truncated log
    spec = GroupSpec("g", "worker", ("t",))
    rows = (PartitionLag("t", 0, 0, 5, 1), PartitionLag("t", 1, 0, 3, None))
    assert GroupLag(spec, rows, ()).total == 7


# ---- pending from snapshots ----------------------------------------------------------------


def test_pending_keeps_the_highest_version_and_forgets_tombstoned_assets() -> None:
    count = PendingCount()
    t0 = 1_000 * HOUR_MS
    count.add(Rec(b"A", snapshot("A", 1, ("a1", "unknown_asset")), t0))
    count.add(Rec(b"A", snapshot("A", 2, ("a1", "unknown_asset"), ("a2", "outside_lifecycle")),
                  t0 + HOUR_MS))  # fmt: skip
    count.add(Rec(b"B", snapshot("B", 1, ("b1", "unknown_asset")), t0 - HOUR_MS))
    count.add(Rec(b"B", None, t0 + 2 * HOUR_MS))  # tombstone: B's pending event is gone
    count.add(Rec(b"C", snapshot("C", 3, ("c1", "insufficient_quantity")), t0 + HOUR_MS))
    count.add(Rec(b"C", snapshot("C", 2), t0 + 2 * HOUR_MS))  # an older version: ignored
    count.add(Rec(b"D", snapshot("D", 1), t0))
    count.add(Rec(b"E", b"not json", t0))
    summary = count.summary()
    assert summary.events == 3
    assert summary.assets == 2
    assert summary.snapshots == 3  # A, C and D are live
    assert dict(summary.by_reason) == {
        "insufficient_quantity": 1,
        "outside_lifecycle": 1,
        "unknown_asset": 1,
    }
    # a1 has been pending since A's first snapshot, an hour before a2 and c1
    assert (summary.oldest_event_id, summary.oldest_asset_id) == ("a1", "A")
    assert summary.oldest_since_ms == t0
    assert summary.oldest_age_seconds(t0 + 3 * HOUR_MS) == 3 * 3600
    assert summary.unreadable == 1


def test_a_pending_event_that_left_and_came_back_counts_from_its_return() -> None:
    count = PendingCount()
    count.add(Rec(b"A", snapshot("A", 1, ("a1", "unknown_asset")), 1_000))
    count.add(Rec(b"A", snapshot("A", 2), 2_000))
    count.add(Rec(b"A", snapshot("A", 3, ("a1", "unknown_asset")), 3_000))
    assert count.summary().oldest_since_ms == 3_000


def test_omitted_pending_events_of_a_cut_down_snapshot_are_counted() -> None:
    count = PendingCount()
    value = snapshot("A", 1, ("a1", "unknown_asset"), pending_events_omitted=4)
    count.add(Rec(b"A", value, 1_000))
    summary = count.summary()
    assert summary.events == 5 and summary.omitted == 4
    assert summary.by_reason["(omitted)"] == 4


def test_dead_letters_by_reason_with_since_and_unreadable_records() -> None:
    count = DeadLetterCount(since_ms=10_000)

    def letter(reason: str, at: str) -> bytes:
        return json.dumps({"reason_code": reason, "dead_lettered_at": at}).encode()

    count.add(Rec(None, letter("schema_violation", "2026-01-01T00:00:00Z"), 5_000))  # too old
    count.add(Rec(None, letter("schema_violation", "2026-01-02T00:00:00Z"), 11_000))
    count.add(Rec(None, letter("schema_violation", "2026-01-03T00:00:00Z"), 12_000))
    count.add(Rec(None, letter("unknown_asset", "2026-01-02T00:00:00Z"), 12_000))
    count.add(Rec(None, b"\xff garbage", 12_000))
    count.add(Rec(None, None, 12_000))
    assert count.by_reason == {"schema_violation": 2, "unknown_asset": 1, "(unreadable)": 2}
    assert count.latest["schema_violation"] == "2026-01-03T00:00:00Z"
    assert count.total == 5


# ---- status rendering ----------------------------------------------------------------------


def _report(reason: str = "schema_violation", client_id: str = "faust-0.15.3") -> dict[str, object]:
    return {
        "cluster": "127.0.0.1:9092",
        "prefix": "p.",
        "generated_at": "2026-01-01T00:00:00Z",
        "topics": {"p.orders.fulfilled": {"present": True, "partitions": 2},
                   "p.accounts.mrr": {"present": False, "partitions": None}},
        "groups": [{
            "group": "p.assetstream", "role": "worker", "state": "Stable", "protocol": "faust",
            "error": None, "lag": 7, "missing_topics": ["p.assets.commands"],
            "partitions": [
                {"topic": "p.orders.fulfilled", "partition": 0, "start": 0, "end": 5,
                 "committed": 1, "lag": 4},
                {"topic": "p.orders.fulfilled", "partition": 1, "start": 0, "end": 3,
                 "committed": None, "lag": 3}],
            "members": [{"member_id": "m-1", "client_id": client_id, "client_host": "/10.0.0.1",
                         "assigned": {"p.orders.fulfilled": [0, 1]},
                         "standbys": {"p.assetstream-assets-changelog": [2, 3, 4]},
                         "url": "http://w1:6066"}]}],
        "pending": {"topic": "p.assets.snapshots", "missing": False, "events": 2,
                    "assets_with_pending": 1, "assets": 9, "by_reason": {"unknown_asset": 2},
                    "oldest_age_seconds": 3725.0, "oldest_event_id": "e1",
                    "oldest_asset_id": "A", "unreadable_records": 0, "records_read": 10,
                    "complete": False, "note": "cut short: read 10 of up to 20 records"},
        "dead_letters": {"topic": "p.assets.deadletter", "missing": True},
    }  # fmt: skip


def test_render_shows_lag_members_pending_and_missing_topics() -> None:
    from streams.commands.status import render

    text = "\n".join(render(_report()))
    assert "p.accounts.mrr" in text and "MISSING" in text
    assert "CONSUMER GROUP p.assetstream (worker): lag 7" in text
    assert "p.assets.commands: MISSING" in text
    assert (
        "p.orders.fulfilled[0-1]" in text and "standby p.assetstream-assets-changelog[2-4]" in text
    )
    assert "web http://w1:6066" in text
    assert "2 pending on 1 of 9 asset(s); oldest pending for at least 1h 2m (e1 on A)" in text
    assert "note: cut short" in text
    assert "DEAD LETTERS (p.assets.deadletter)" in text and "topic MISSING" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["p.orders.fulfilled", "0", "1", "5", "4"] in rows
    assert ["p.orders.fulfilled", "1", "-", "3", "3"] in rows
    assert ["total", "7"] in rows


def test_render_escapes_control_characters() -> None:
    from streams.commands.status import render

    lines = render(_report(client_id="evil\x1b[2J\x9b"))
    text = "\n".join(lines)
    assert "\x1b" not in text and "\x9b" not in text
    assert "evil\\x1b[2J\\x9b" in text


def test_age_and_ranges() -> None:
    from streams.commands.status import _age, _ranges

    assert _ranges([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert _ranges([3]) == "3"
    assert [_age(s) for s in (45, 125, 3725, 200_000)] == ["45s", "2m 5s", "1h 2m", "2d 7h"]


# ---- gauges --------------------------------------------------------------------------------


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_lag_exporter_sets_gauges_and_removes_series_that_are_gone() -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    spec = GroupSpec(group, "worker", ("t1", "t2"))
    exporter = LagExporter()
    first = GroupLag(spec, (PartitionLag("t1", 0, 0, 10, 4), PartitionLag("t2", 0, 0, 3, None)), ())
    exporter.export(
        [first], [GroupInfo(group, "Stable", "faust", (MemberInfo("m", "c", "h", {}),))]
    )
    assert _sample("assetstream_consumer_lag", group=group, topic="t1", partition="0") == 6
    assert _sample("assetstream_consumer_lag", group=group, topic="t2", partition="0") == 3
    assert _sample("assetstream_consumer_group_lag", group=group) == 9
    assert _sample("assetstream_consumer_committed_offset", group=group, topic="t1",
                   partition="0") == 4  # fmt: skip
    assert _sample("assetstream_consumer_committed_offset", group=group, topic="t2",
                   partition="0") is None  # fmt: skip
    assert _sample("assetstream_consumer_group_members", group=group) == 1
    second = GroupLag(spec, (PartitionLag("t1", 0, 0, 10, 10),), ("t2",))
    exporter.export([second])
    assert _sample("assetstream_consumer_lag", group=group, topic="t1", partition="0") == 0
    assert _sample("assetstream_consumer_lag", group=group, topic="t2", partition="0") is None
    assert _sample("assetstream_consumer_group_lag", group=group) == 0
    assert _sample("assetstream_consumer_group_members", group=group) is None


def test_pending_tracker_counts_and_ages() -> None:
    tracker = PendingTracker()
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    tracker.observe(b"A", [now - timedelta(hours=2), now - timedelta(minutes=5)])
    tracker.observe(b"B", [now - timedelta(hours=1)])
    tracker.publish(now)
    assert _sample("assetstream_pending_events") == 3
    assert _sample("assetstream_pending_oldest_age_seconds") == 7200
    tracker.observe(b"A", [])
    tracker.publish(now)
    assert _sample("assetstream_pending_events") == 1
    assert _sample("assetstream_pending_oldest_age_seconds") == 3600
    tracker.clear()
    tracker.publish(now)
    assert _sample("assetstream_pending_events") == 0
    assert _sample("assetstream_pending_oldest_age_seconds") == 0


def test_snapshot_acknowledged_sets_the_time_only_on_success() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        metrics.LAST_SNAPSHOT_PUBLISHED.set(0)
        failed: asyncio.Future[None] = loop.create_future()
        assert metrics.snapshot_acknowledged(failed) is failed
        failed.set_exception(RuntimeError("refused"))
        await asyncio.sleep(0)
        assert _sample("assetstream_last_snapshot_published_timestamp_seconds") == 0
        ok: asyncio.Future[None] = loop.create_future()
        metrics.snapshot_acknowledged(ok)
        before = time.time()
        ok.set_result(None)
        await asyncio.sleep(0)
        stamp = _sample("assetstream_last_snapshot_published_timestamp_seconds")
        assert stamp is not None and stamp >= before - 1

    asyncio.run(main())


def test_lag_monitor_on_an_unreachable_cluster_counts_errors_and_stops_when_told() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}",
                             ASSETSTREAM_PENDING_GRACE="6h")  # fmt: skip
    errors_before = _sample("assetstream_lag_monitor_errors_total") or 0.0

    async def main() -> float:
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_lag_monitor(settings, stop, interval=0.1))
        deadline = time.monotonic() + 20
        while (_sample("assetstream_lag_monitor_errors_total") or 0) < errors_before + 2:
            assert time.monotonic() < deadline, "the monitor did not retry"
            assert not task.done(), "the monitor returned (or raised) on its own"
            await asyncio.sleep(0.05)
        stop.set()
        started = time.monotonic()
        await asyncio.wait_for(task, 10)
        return time.monotonic() - started

    took = asyncio.run(main())
    assert took < 5
    assert _sample("assetstream_pending_grace_seconds") == 6 * 3600
