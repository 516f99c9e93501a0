"""`assetstream status` and the lag monitor against the real broker.

Each test uses its own uuid prefix: it creates the app's topics (or leaves some out),
produces records at chosen partitions and broker times, commits offsets for the worker's
and the projection's groups, and checks what `status` prints (a subprocess, as operators
run it) and what the lag monitor exports. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY

from streams.ops.lag import run_lag_monitor
from streams.settings import load_settings
from tests.integration.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

STATUS_TIMEOUT_S = 90.0  # one `assetstream status` subprocess: start-up + reads + slack
TOPICS_TIMEOUT_S = 30.0  # created topics show up in Metadata
MONITOR_TIMEOUT_S = 30.0  # the lag monitor (interval 0.2 s) exports a new reading
ABSENCE_WATCH_S = 3.0  # how long a topic must stay absent after status ran
HOUR_MS = 3_600_000

# (partition, key, value, broker timestamp in ms or None for now)
Record = tuple[int, bytes | None, bytes | None, int | None]


# ---- helpers --------------------------------------------------------------------------------


async def _until(check: Any, *, timeout: float, what: str) -> Any:
    """Await ``check()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


async def _list_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _create_topics(
    bootstrap: str, topics: Mapping[str, int], compacted: Sequence[str] = ()
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    name,
                    count,
                    1,
                    topic_configs={"cleanup.policy": "compact"} if name in compacted else {},
                )
                for name, count in topics.items()
            ]
        )
    finally:
        await admin.close()

    async def created() -> bool:
        return set(topics) <= await _list_topics(bootstrap)

    await _until(created, timeout=TOPICS_TIMEOUT_S, what=f"topics {sorted(topics)}")


async def _produce(bootstrap: str, by_topic: Mapping[str, Sequence[Record]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, partition=partition, timestamp_ms=ts)
            for topic, records in by_topic.items()
            for partition, key, value, ts in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _commit(bootstrap: str, group: str, offsets: Mapping[tuple[str, int], int]) -> None:
    """Commit offsets for ``group`` without joining it (a manual assignment)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        tps = {TopicPartition(t, p): o for (t, p), o in offsets.items()}
        consumer.assign(list(tps))
        await consumer.commit(tps)
    finally:
        await consumer.stop()


def _env(bootstrap: str, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(KAFKA_BOOTSTRAP_SERVERS=bootstrap, ASSETSTREAM_TOPIC_PREFIX=prefix,
               PYTHONUNBUFFERED="1")  # fmt: skip
    return env


def _status(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "status", *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=STATUS_TIMEOUT_S,
        check=False,
    )


async def _status_async(env: Mapping[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streams.cli", "status", *args,
        cwd=REPO_ROOT, env=dict(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), STATUS_TIMEOUT_S)
    return process.returncode or 0, out.decode(), err.decode()


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document).encode()


def _snapshot(asset: str, version: int, *pending: tuple[str, str]) -> bytes:
    return _json({
        "asset_id": asset, "version": version, "as_of": "2026-01-01",
        "pending_events": [{"event_id": e, "action_id": e, "reason_code": r} for e, r in pending],
    })  # fmt: skip


def _letter(reason: str, at: str) -> bytes:
    return _json({"event_id": None, "reason_code": reason, "reason": "test",
                  "dead_lettered_at": at})  # fmt: skip


# ---- the scene ------------------------------------------------------------------------------


class Scene:
    """Topics, records and commits for one prefix, and the numbers status must show."""

    def __init__(self, prefix: str) -> None:
        p = prefix
        self.prefix = prefix
        self.worker, self.projection = f"{p}assetstream", f"{p}assetstream-projection"
        self.orders, self.amendments = f"{p}orders.fulfilled", f"{p}assets.amendments"
        self.by_event, self.commands = f"{p}assets.by-event", f"{p}assets.commands"
        self.snapshots, self.deadletter = f"{p}assets.snapshots", f"{p}assets.deadletter"
        self.topics = {self.orders: 3, self.amendments: 2, self.by_event: 2, self.commands: 2,
                       self.snapshots: 2, self.deadletter: 2}  # fmt: skip
        # Not created: the changelogs and accounts.mrr (they must show as missing).
        self.now_ms = int(time.time() * 1000)

    async def build(self, bootstrap: str) -> None:
        now = self.now_ms
        await _create_topics(bootstrap, self.topics, compacted=[self.snapshots])
        orders = [(0, b"o", b"{}", None)] * 5 + [(1, b"o", b"{}", None)] * 3
        await _produce(bootstrap, {
            self.orders: orders,
            self.amendments: [(1, b"a", b"{}", None)] * 4,
            self.commands: [(0, b"c", b"{}", None)] * 2,
            self.snapshots: [
                (0, b"A", _snapshot("A", 1, ("a1", "unknown_asset")), now - 2 * HOUR_MS),
                (0, b"A", _snapshot("A", 2, ("a1", "unknown_asset"),
                                    ("a2", "outside_lifecycle")), now - HOUR_MS),
                (0, b"D", _snapshot("D", 1), now - HOUR_MS),
                (1, b"B", _snapshot("B", 1, ("b1", "unknown_asset")), now - 3 * HOUR_MS),
                (1, b"B", None, now - 2 * HOUR_MS),  # retracted: b1 no longer counts
                (1, b"C", _snapshot("C", 3, ("c1", "insufficient_quantity")), now - 1800_000),
                (1, b"C", _snapshot("C", 2), now - 60_000),  # an older version: ignored
            ],
            self.deadletter: [
                (0, b"k", _letter("schema_violation", "2026-01-01T00:00:00Z"), now - 3 * HOUR_MS),
                (0, b"k", _letter("schema_violation", "2026-01-01T00:00:01Z"), now - 3 * HOUR_MS),
                (0, b"k", _letter("schema_violation", "2026-01-01T05:00:00Z"), now - 600_000),
                (1, b"k", _letter("unknown_asset", "2026-01-01T05:00:00Z"), now - 600_000),
                (1, b"k", _letter("unknown_asset", "2026-01-01T05:00:02Z"), now - 300_000),
                (1, b"k", b"\xffnot json", now - 300_000),
                (0, b"k", _letter("evil\x1b[2Jreason", "2026-01-01T05:00:03Z"), now - 60_000),
            ],
        })  # fmt: skip
        await _commit(bootstrap, self.worker, {(self.orders, 0): 2, (self.orders, 1): 3,
                                               (self.commands, 0): 2})  # fmt: skip
        await _commit(bootstrap, self.projection, {(self.snapshots, 0): 1})

    @property
    def worker_lag(self) -> dict[tuple[str, int], tuple[int | None, int, int]]:
        """(topic, partition) -> (committed, end, lag)."""
        return {
            (self.orders, 0): (2, 5, 3), (self.orders, 1): (3, 3, 0),
            (self.orders, 2): (None, 0, 0),
            (self.amendments, 0): (None, 0, 0), (self.amendments, 1): (None, 4, 4),
            (self.by_event, 0): (None, 0, 0), (self.by_event, 1): (None, 0, 0),
            (self.commands, 0): (2, 2, 0), (self.commands, 1): (None, 0, 0),
        }  # fmt: skip

    @property
    def projection_lag(self) -> dict[tuple[str, int], tuple[int | None, int, int]]:
        return {(self.snapshots, 0): (1, 3, 2), (self.snapshots, 1): (None, 4, 4)}


def _rows(group: Mapping[str, Any]) -> dict[tuple[str, int], tuple[int | None, int, int]]:
    return {
        (p["topic"], p["partition"]): (p["committed"], p["end"], p["lag"])
        for p in group["partitions"]
    }


# ---- status ---------------------------------------------------------------------------------


def test_status_shows_lag_per_partition_pending_and_dead_letters_by_reason(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    scene = Scene(topic_prefix)
    asyncio.run(scene.build(kafka_bootstrap))
    env = _env(kafka_bootstrap, topic_prefix)

    done = _status(env, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    groups = {g["group"]: g for g in report["groups"]}
    worker, projection = groups[scene.worker], groups[scene.projection]
    assert _rows(worker) == scene.worker_lag
    assert worker["lag"] == 7 and worker["role"] == "worker" and worker["missing_topics"] == []
    assert _rows(projection) == scene.projection_lag
    assert projection["lag"] == 6
    assert projection["missing_topics"] == [f"{topic_prefix}accounts.mrr"]
    assert report["topics"][f"{topic_prefix}assetstream-assets-changelog"]["present"] is False
    assert report["topics"][scene.orders] == {"present": True, "partitions": 3}

    pending = report["pending"]
    assert (pending["events"], pending["assets_with_pending"], pending["assets"]) == (3, 2, 3)
    assert pending["by_reason"] == {"insufficient_quantity": 1, "outside_lifecycle": 1,
                                    "unknown_asset": 1}  # fmt: skip
    assert (pending["oldest_event_id"], pending["oldest_asset_id"]) == ("a1", "A")
    assert 2 * 3600 <= pending["oldest_age_seconds"] < 2 * 3600 + STATUS_TIMEOUT_S
    assert pending["complete"] is True and pending["note"] is None

    dead = report["dead_letters"]
    assert dead["by_reason"] == {"schema_violation": 3, "unknown_asset": 2, "(unreadable)": 1,
                                 "evil\x1b[2Jreason": 1}  # fmt: skip
    assert dead["total"] == 7 and dead["complete"] is True
    assert dead["latest"]["unknown_asset"] == "2026-01-01T05:00:02Z"
    assert "\x1b" not in done.stdout  # escaped as \u001b, still JSON

    recent = json.loads(_status(env, "--json", "--since", "1h").stdout)["dead_letters"]
    assert recent["by_reason"] == {"schema_violation": 1, "unknown_asset": 2,
                                   "(unreadable)": 1, "evil\x1b[2Jreason": 1}  # fmt: skip
    assert recent["since_seconds"] == 3600

    table = _status(env)
    assert table.returncode == 0, table.stderr
    text = table.stdout
    assert "\x1b" not in text and "evil\\x1b[2Jreason" in text
    rows = [line.split() for line in text.splitlines()]
    assert [scene.orders, "0", "2", "5", "3"] in rows
    assert [scene.amendments, "1", "-", "4", "4"] in rows
    assert ["total", "7"] in rows and ["total", "6"] in rows
    assert ["schema_violation", "3", "2026-01-01T05:00:00Z"] in rows
    assert f"{topic_prefix}accounts.mrr: MISSING" in text
    assert "3 pending on 2 of 3 asset(s); oldest pending for at least 2h" in text


def test_status_shows_the_worker_groups_members(kafka_bootstrap: str, topic_prefix: str) -> None:
    orders = f"{topic_prefix}orders.fulfilled"
    group = f"{topic_prefix}assetstream"
    env = _env(kafka_bootstrap, topic_prefix)

    async def main() -> dict[str, Any]:
        await _create_topics(kafka_bootstrap, {orders: 3})
        member = AIOKafkaConsumer(
            orders,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            client_id="ops-test-worker",
            enable_auto_commit=False,
        )
        await member.start()
        try:

            async def assigned() -> bool:
                await member.getmany(timeout_ms=100)
                return len(member.assignment()) == 3

            await _until(assigned, timeout=TOPICS_TIMEOUT_S, what="the member's assignment")
            code, out, err = await _status_async(env, "--json")
            assert code == 0, err
            table_code, table, table_err = await _status_async(env)
            assert table_code == 0, table_err
            assert "ops-test-worker" in table and f"{orders}[0-2]" in table
            report: dict[str, Any] = json.loads(out)
            return report
        finally:
            await member.stop()

    report = asyncio.run(main())
    worker = next(g for g in report["groups"] if g["group"] == group)
    assert worker["state"] == "Stable"
    (member,) = worker["members"]
    assert member["client_id"] == "ops-test-worker"
    assert member["assigned"] == {orders: [0, 1, 2]}
    assert member["client_host"]


def test_status_reports_missing_topics_and_creates_none(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    orders = f"{topic_prefix}orders.fulfilled"
    asyncio.run(_create_topics(kafka_bootstrap, {orders: 2}))
    env = _env(kafka_bootstrap, topic_prefix)

    table = _status(env)
    assert table.returncode == 0, table.stderr
    done = _status(env, "--json", "--since", "1h")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    missing = sorted(t for t, info in report["topics"].items() if not info["present"])
    assert orders not in missing
    assert f"{topic_prefix}assets.snapshots" in missing
    assert f"{topic_prefix}assets.deadletter" in missing
    assert f"{topic_prefix}assets.commands" in missing
    assert report["pending"] == {"topic": f"{topic_prefix}assets.snapshots", "missing": True}
    assert report["dead_letters"]["missing"] is True
    worker = report["groups"][0]
    assert {p["topic"] for p in worker["partitions"]} == {orders}
    assert f"{topic_prefix}assets.commands" in worker["missing_topics"]
    rows = [line.split() for line in table.stdout.splitlines()]
    assert [f"{topic_prefix}assets.snapshots", "MISSING"] in rows

    async def ours() -> set[str]:
        return {t for t in await _list_topics(kafka_bootstrap) if t.startswith(topic_prefix)}

    watch_until = time.monotonic() + ABSENCE_WATCH_S
    while time.monotonic() < watch_until:  # auto-creation would show within moments
        assert asyncio.run(ours()) == {orders}


def test_status_says_when_the_time_limit_cut_the_topic_reads_short(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    snapshots, deadletter = f"{topic_prefix}assets.snapshots", f"{topic_prefix}assets.deadletter"
    records = 10_000

    async def build() -> None:
        await _create_topics(kafka_bootstrap, {snapshots: 1, deadletter: 1},
                             compacted=[snapshots])  # fmt: skip
        await _produce(kafka_bootstrap, {
            snapshots: [(0, f"A{i}".encode(), _snapshot(f"A{i}", 1, ("e", "unknown_asset")),
                         None) for i in range(records)],
            deadletter: [(0, b"k", _letter("schema_violation", "2026-01-01T00:00:00Z"), None)
                         for _ in range(records)],
        })  # fmt: skip

    asyncio.run(build())
    env = _env(kafka_bootstrap, topic_prefix)
    done = _status(env, "--json", "--timeout", "0.01")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for part in (report["pending"], report["dead_letters"]):
        assert part["complete"] is False
        assert part["records_read"] < records
        assert "cut short" in part["note"] and "--timeout" in part["note"]
    table = _status(env, "--timeout", "0.01").stdout
    assert table.count("note: cut short") == 2
    full = json.loads(_status(env, "--json").stdout)
    assert full["pending"]["complete"] is True and full["pending"]["events"] == records
    assert full["dead_letters"]["by_reason"] == {"schema_violation": records}


def test_status_names_an_unreachable_broker_in_one_line(topic_prefix: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _env(f"127.0.0.1:{port}", topic_prefix)
    started = time.monotonic()
    done = _status(env, "--connect-timeout", "5")
    assert done.returncode == 1
    assert time.monotonic() - started < STATUS_TIMEOUT_S
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("assetstream status: ")
    assert f"127.0.0.1:{port}" in lines[0] and "Traceback" not in done.stderr
    assert done.stdout == ""


# ---- the lag monitor ------------------------------------------------------------------------


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_lag_monitor_exports_lag_and_follows_commits_and_deleted_topics(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    scene = Scene(topic_prefix)
    settings = load_settings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
                             ASSETSTREAM_TOPIC_PREFIX=topic_prefix)  # fmt: skip

    def lag(group: str, topic: str, partition: int) -> float | None:
        return _sample("assetstream_consumer_lag", group=group, topic=topic,
                       partition=str(partition))  # fmt: skip

    async def main() -> None:
        await scene.build(kafka_bootstrap)
        stop = asyncio.Event()
        monitor = asyncio.ensure_future(run_lag_monitor(settings, stop, interval=0.2))
        try:

            async def first_reading() -> bool:
                return _sample("assetstream_consumer_group_lag", group=scene.worker) == 7

            await _until(first_reading, timeout=MONITOR_TIMEOUT_S, what="the worker group's lag")
            for (topic, partition), (committed, end, expected) in scene.worker_lag.items():
                assert lag(scene.worker, topic, partition) == expected, (topic, partition)
                got = _sample("assetstream_consumer_committed_offset", group=scene.worker,
                              topic=topic, partition=str(partition))  # fmt: skip
                assert got == (None if committed is None else float(committed))
                assert _sample("assetstream_topic_end_offset", topic=topic,
                               partition=str(partition)) == end  # fmt: skip
            for (topic, partition), (_, _, expected) in scene.projection_lag.items():
                assert lag(scene.projection, topic, partition) == expected
            assert _sample("assetstream_consumer_group_lag", group=scene.projection) == 6
            assert _sample("assetstream_consumer_group_members", group=scene.worker) == 0
            last = _sample("assetstream_lag_monitor_last_success_timestamp_seconds")
            assert last is not None and last > time.time() - MONITOR_TIMEOUT_S

            # The worker catches up on orders[0] and amendments[1]: lag follows.
            await _commit(kafka_bootstrap, scene.worker,
                          {(scene.orders, 0): 5, (scene.amendments, 1): 4})  # fmt: skip

            async def caught_up() -> bool:
                return _sample("assetstream_consumer_group_lag", group=scene.worker) == 0

            await _until(caught_up, timeout=MONITOR_TIMEOUT_S, what="the lag to follow commits")
            assert lag(scene.worker, scene.orders, 0) == 0

            # A deleted topic loses its series and is not re-created by the monitor.
            admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
            await admin.start()
            try:
                await admin.delete_topics([scene.amendments])
            finally:
                await admin.close()

            async def series_gone() -> bool:
                return lag(scene.worker, scene.amendments, 1) is None

            await _until(series_gone, timeout=MONITOR_TIMEOUT_S, what="the deleted topic's series")
            rounds = _sample("assetstream_lag_monitor_last_success_timestamp_seconds") or 0.0

            async def more_rounds() -> bool:
                seen = _sample("assetstream_lag_monitor_last_success_timestamp_seconds") or 0.0
                return seen > rounds + 1.0

            await _until(more_rounds, timeout=MONITOR_TIMEOUT_S, what="more monitor rounds")
            assert scene.amendments not in await _list_topics(kafka_bootstrap)
            assert not monitor.done()
        finally:
            stop.set()
            await asyncio.wait_for(monitor, MONITOR_TIMEOUT_S)

    asyncio.run(main())
