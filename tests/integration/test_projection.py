"""The Redis projection against the real broker and real Redis servers.

Snapshots are produced to a fresh compacted topic; the projection (its own
consumer group) copies them into Redis; the API reads them back. The outage
tests run a private redis-server (append-only file on, so a restart keeps the
data) that they can stop and restart without disturbing anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from streams.readmodel import ReadModel, RecordKind
from streams.sinks.redis_projection import ProjectedTopic, ProjectionConfig, project_snapshots
from streams.web.app import ApiConfig, create_app

pytestmark = pytest.mark.integration

VISIBLE_TIMEOUT_S = 30.0
COMMITTED_TIMEOUT_S = 30.0
OUTAGE_NOTICED_TIMEOUT_S = 20.0
REDIS_START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0
PARTITIONS = 3


def snapshot(
    asset_id: str, version: int, account_id: str = "ACC-IT", quantity: str = "5"
) -> dict[str, Any]:
    """A small but complete snapshot record (SPEC §5); money as strings."""
    return {
        "asset_id": asset_id,
        "account_id": account_id,
        "currency": "USD",
        "product_code": "QBO",
        "product_name": "QuickBooks Online",
        "price_term_months": 12,
        "renewal_term_months": 12,
        "billing_anchor_date": "2025-08-10",
        "version": version,
        "as_of": "2026-03-01",
        "status": "active",
        "current_quantity": quantity,
        "current_mrr": "20.83",
        "lifecycle_start_date": "2025-08-10",
        "lifecycle_end_date": "2026-08-10",
        "total_lifecycle_amount": "249.95",
        "state_periods": [
            {
                "start_date": "2025-08-10",
                "end_date": "2026-08-10",
                "quantity": quantity,
                "mrr": "20.83",
                "amount": "249.95",
            }
        ],
        "actions": [],
        "pending_events": [],
        "updated_by_event_id": f"evt-{asset_id}-{version}",
    }


# ---- helpers ------------------------------------------------------------------


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, PARTITIONS, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, records: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                topic, key=record["asset_id"].encode(), value=json.dumps(record).encode()
            )
    finally:
        await producer.stop()


async def lag(bootstrap: str, group: str, topic: str) -> int:
    """Records on the topic that the group has not committed yet."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        return sum(ends[tp] - done.get(tp, 0) for tp in partitions)
    finally:
        await consumer.stop()
        await admin.close()


def retries_so_far() -> float:
    value = REGISTRY.get_sample_value("assetstream_projection_redis_retries_total")
    return value or 0.0


@contextlib.asynccontextmanager
async def running_projection(config: ProjectionConfig) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(project_snapshots(config, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, STOP_TIMEOUT_S)


@contextlib.asynccontextmanager
async def api_client(redis_url: str, namespace: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ApiConfig(redis_url=redis_url, namespace=namespace, snapshots_topic="unused"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c,
    ):
        yield c


async def api_versions(client: httpx.AsyncClient, asset_ids: list[str]) -> dict[str, int | None]:
    versions: dict[str, int | None] = {}
    for asset_id in asset_ids:
        response = await client.get(f"/assets/{asset_id}")
        versions[asset_id] = response.json()["version"] if response.status_code == 200 else None
    return versions


def make_config(prefix: str, redis_url: str, bootstrap: str) -> ProjectionConfig:
    return ProjectionConfig(
        topics=(ProjectedTopic(f"{prefix}assets.snapshots", RecordKind.ASSET_SNAPSHOT),),
        group_id=f"{prefix}assetstream-projection",
        redis_url=redis_url,
        namespace=f"{prefix}assetstream:",
        kafka_kwargs={"bootstrap_servers": bootstrap},
        backoff_initial_s=0.1,
        backoff_max_s=0.5,
    )


def topic_of(config: ProjectionConfig) -> str:
    """The snapshots topic of a one-topic config."""
    return config.topics[0].topic


# ---- a private redis-server -----------------------------------------------------


class RedisServer:
    """A redis-server this test owns: durable (AOF, fsync always), stoppable."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (scripts/install-system-deps.sh)")
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.workdir),
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", "always",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        while not _answers_ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---- tests --------------------------------------------------------------------


def test_snapshots_produced_to_the_topic_are_visible_through_the_api_with_their_version(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}proj-{uuid.uuid4().hex[:8]}."
    config = make_config(prefix, redis_url, kafka_bootstrap)
    records = [
        snapshot("AST-A", 1),
        snapshot("AST-B", 1),
        snapshot("AST-A", 2, quantity="8"),
        snapshot("AST-C", 1, account_id="ACC-OTHER"),
    ]

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic_of(config))
        await produce(kafka_bootstrap, topic_of(config), records)
        async with running_projection(config), api_client(redis_url, config.namespace) as api:
            expected = {"AST-A": 2, "AST-B": 1, "AST-C": 1}

            async def all_visible() -> bool:
                return await api_versions(api, list(expected)) == expected

            await wait_for(all_visible, VISIBLE_TIMEOUT_S, "every asset at its newest version")
            body = (await api.get("/assets/AST-A")).json()
            assert body["current_quantity"] == "8"
            assert body == records[2]
            account = (await api.get("/accounts/ACC-IT/assets")).json()
            assert [a["asset_id"] for a in account["assets"]] == ["AST-A", "AST-B"]
            assert account["count"] == 2
            await wait_for(
                lambda: _no_lag(kafka_bootstrap, config), COMMITTED_TIMEOUT_S, "offsets committed"
            )

    asyncio.run(scenario())


async def _no_lag(bootstrap: str, config: ProjectionConfig) -> bool:
    return await lag(bootstrap, config.group_id, topic_of(config)) == 0


def test_an_older_version_arriving_later_does_not_overwrite_a_newer_one(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}stale-{uuid.uuid4().hex[:8]}."
    config = make_config(prefix, redis_url, kafka_bootstrap)

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic_of(config))
        async with running_projection(config), api_client(redis_url, config.namespace) as api:
            await produce(kafka_bootstrap, topic_of(config), [snapshot("AST-S", 3, quantity="9")])

            async def at_three() -> bool:
                return await api_versions(api, ["AST-S"]) == {"AST-S": 3}

            await wait_for(at_three, VISIBLE_TIMEOUT_S, "version 3 to be visible")
            # An older version, then a replay of the current one, both after it.
            await produce(
                kafka_bootstrap,
                topic_of(config),
                [snapshot("AST-S", 2, quantity="1"), snapshot("AST-S", 3, quantity="9")],
            )
            await wait_for(
                lambda: _no_lag(kafka_bootstrap, config),
                COMMITTED_TIMEOUT_S,
                "the stale records to be projected and committed",
            )
            body = (await api.get("/assets/AST-S")).json()
            assert (body["version"], body["current_quantity"]) == (3, "9")

    asyncio.run(scenario())


def test_a_redis_outage_pauses_the_projection_without_committing_then_it_catches_up(
    kafka_bootstrap: str, own_redis: RedisServer, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}outage-{uuid.uuid4().hex[:8]}."
    config = make_config(prefix, own_redis.url, kafka_bootstrap)
    before = [snapshot(f"AST-{i}", 1) for i in range(5)]
    during = [snapshot(f"AST-{i}", 2, quantity="7") for i in range(5)] + [
        snapshot(f"AST-NEW-{i}", 1) for i in range(5)
    ]
    expected = {r["asset_id"]: r["version"] for r in before + during}

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic_of(config))
        async with running_projection(config) as task:
            await produce(kafka_bootstrap, topic_of(config), before)
            async with api_client(own_redis.url, config.namespace) as api:

                async def first_batch_visible() -> bool:
                    return await api_versions(api, [r["asset_id"] for r in before]) == {
                        r["asset_id"]: 1 for r in before
                    }

                await wait_for(first_batch_visible, VISIBLE_TIMEOUT_S, "the first batch")
            await wait_for(
                lambda: _no_lag(kafka_bootstrap, config), COMMITTED_TIMEOUT_S, "first commit"
            )

            # Step 1: Redis goes away; new snapshots keep arriving.
            own_redis.stop()
            retries_before = retries_so_far()
            await produce(kafka_bootstrap, topic_of(config), during)

            async def retrying() -> bool:
                return retries_so_far() >= retries_before + 3

            await wait_for(retrying, OUTAGE_NOTICED_TIMEOUT_S, "the projection to retry Redis")
            # Nothing it could not write was committed, and it is still running.
            assert await lag(kafka_bootstrap, config.group_id, topic_of(config)) == len(during)
            assert not task.done()

            # Step 2: Redis comes back (with its data); the projection catches up.
            own_redis.start()
            async with api_client(own_redis.url, config.namespace) as api:

                async def everything_visible() -> bool:
                    return await api_versions(api, list(expected)) == expected

                await wait_for(everything_visible, VISIBLE_TIMEOUT_S, "the catch-up")
            await wait_for(
                lambda: _no_lag(kafka_bootstrap, config), COMMITTED_TIMEOUT_S, "catch-up commit"
            )

    asyncio.run(scenario())


def test_a_projection_stopped_during_an_outage_commits_nothing_and_its_successor_resumes(
    kafka_bootstrap: str, own_redis: RedisServer, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}crash-{uuid.uuid4().hex[:8]}."
    config = make_config(prefix, own_redis.url, kafka_bootstrap)
    records = [snapshot(f"AST-{i}", 1, account_id="ACC-CRASH") for i in range(8)]

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic_of(config))
        own_redis.stop()
        retries_before = retries_so_far()
        await produce(kafka_bootstrap, topic_of(config), records)
        async with running_projection(config):

            async def retrying() -> bool:
                return retries_so_far() >= retries_before + 2

            await wait_for(retrying, OUTAGE_NOTICED_TIMEOUT_S, "the projection to retry Redis")
        # The first projection is gone, and it committed nothing.
        assert await lag(kafka_bootstrap, config.group_id, topic_of(config)) == len(records)

        own_redis.start()
        async with running_projection(config):
            await wait_for(
                lambda: _no_lag(kafka_bootstrap, config), COMMITTED_TIMEOUT_S, "the successor"
            )
        redis = Redis.from_url(own_redis.url)
        try:
            model = ReadModel(redis, config.namespace)
            assert await model.account_asset_ids("ACC-CRASH") == sorted(
                r["asset_id"] for r in records
            )
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_a_tombstone_removes_the_asset_and_its_account_entry(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}tomb-{uuid.uuid4().hex[:8]}."
    config = make_config(prefix, redis_url, kafka_bootstrap)

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic_of(config))
        target = snapshot("AST-SRC/transfer/evt-7", 1, account_id="ACC-TARGET")
        await produce(
            kafka_bootstrap, topic_of(config), [target, snapshot("AST-KEEP", 1, "ACC-TARGET")]
        )
        async with running_projection(config), api_client(redis_url, config.namespace) as api:
            await wait_for(
                lambda: _no_lag(kafka_bootstrap, config), COMMITTED_TIMEOUT_S, "the snapshots"
            )
            assert (await api.get(f"/assets/{target['asset_id']}")).status_code == 200
            # A withdrawn transfer target: the worker publishes a tombstone for its key.
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            await producer.start()
            try:
                await producer.send_and_wait(
                    topic_of(config), key=target["asset_id"].encode(), value=None
                )
            finally:
                await producer.stop()
            await wait_for(
                lambda: _no_lag(kafka_bootstrap, config), COMMITTED_TIMEOUT_S, "the tombstone"
            )
            assert (await api.get(f"/assets/{target['asset_id']}")).status_code == 404
            account = (await api.get("/accounts/ACC-TARGET/assets")).json()
            assert [a["asset_id"] for a in account["assets"]] == ["AST-KEEP"]

    asyncio.run(scenario())


def test_the_projection_waits_for_the_topic_instead_of_auto_creating_it(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"{topic_prefix}wait-{uuid.uuid4().hex[:8]}."
    config = make_config(prefix, redis_url, kafka_bootstrap)
    caplog.set_level("INFO", logger="streams.sinks.redis_projection")

    async def topic_exists() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            return topic_of(config) in await admin.list_topics()
        finally:
            await admin.close()

    async def scenario() -> None:
        async with running_projection(config), api_client(redis_url, config.namespace) as api:

            async def waited_twice() -> bool:
                return caplog.text.count(f"waiting for topic {topic_of(config)}") >= 2

            await wait_for(waited_twice, OUTAGE_NOTICED_TIMEOUT_S, "the projection to wait")
            assert not await topic_exists()
            # The worker creates the compacted topic; the projection then starts.
            await create_topic(kafka_bootstrap, topic_of(config))
            await produce(kafka_bootstrap, topic_of(config), [snapshot("AST-LATE", 4)])

            async def visible() -> bool:
                return await api_versions(api, ["AST-LATE"]) == {"AST-LATE": 4}

            await wait_for(visible, VISIBLE_TIMEOUT_S, "the first snapshot after the wait")

    asyncio.run(scenario())


def test_a_record_that_is_not_a_snapshot_is_skipped_without_blocking_the_others(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}bad-{uuid.uuid4().hex[:8]}."
    config = make_config(prefix, redis_url, kafka_bootstrap)

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic_of(config))
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for value in (b"not json", b'{"asset_id": "AST-BAD"}', b"[1, 2]"):
                await producer.send_and_wait(topic_of(config), key=b"AST-BAD", value=value)
        finally:
            await producer.stop()
        await produce(kafka_bootstrap, topic_of(config), [snapshot("AST-GOOD", 1)])
        async with running_projection(config), api_client(redis_url, config.namespace) as api:
            await wait_for(
                lambda: _no_lag(kafka_bootstrap, config), COMMITTED_TIMEOUT_S, "every record"
            )
            assert await api_versions(api, ["AST-GOOD", "AST-BAD"]) == {
                "AST-GOOD": 1,
                "AST-BAD": None,
            }

    asyncio.run(scenario())


def test_cancelling_the_projection_task_stops_it_cleanly_for_a_successor(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str
) -> None:
    """A Faust worker cancels its tasks at shutdown; nothing half-done may remain."""
    prefix = f"{topic_prefix}cancel-{uuid.uuid4().hex[:8]}."
    config = make_config(prefix, redis_url, kafka_bootstrap)

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic_of(config))
        await produce(kafka_bootstrap, topic_of(config), [snapshot("AST-C1", 1)])
        task = asyncio.create_task(project_snapshots(config, asyncio.Event()))
        await wait_for(lambda: _no_lag(kafka_bootstrap, config), COMMITTED_TIMEOUT_S, "AST-C1")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, STOP_TIMEOUT_S)
        await produce(kafka_bootstrap, topic_of(config), [snapshot("AST-C2", 1)])
        async with running_projection(config), api_client(redis_url, config.namespace) as api:

            async def both() -> bool:
                return await api_versions(api, ["AST-C1", "AST-C2"]) == {"AST-C1": 1, "AST-C2": 1}

            await wait_for(both, VISIBLE_TIMEOUT_S, "the successor to project AST-C2")

    asyncio.run(scenario())


def test_the_worker_entry_point_projects_with_settings_from_the_environment(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str
) -> None:
    from streams.settings import load_settings
    from streams.sinks.redis_projection import run_projection

    settings = load_settings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        REDIS_URL=redis_url,
        ASSETSTREAM_TOPIC_PREFIX=topic_prefix,
    )
    topic = f"{topic_prefix}assets.snapshots"
    namespace = f"{topic_prefix}assetstream:"

    async def scenario() -> None:
        await create_topic(kafka_bootstrap, topic)
        await produce(kafka_bootstrap, topic, [snapshot("AST-ENV", 5)])
        stop = asyncio.Event()
        task = asyncio.create_task(run_projection(settings, stop))
        try:
            async with api_client(redis_url, namespace) as api:

                async def visible() -> bool:
                    return await api_versions(api, ["AST-ENV"]) == {"AST-ENV": 5}

                await wait_for(visible, VISIBLE_TIMEOUT_S, "AST-ENV through run_projection")
        finally:
            stop.set()
            await asyncio.wait_for(task, STOP_TIMEOUT_S)

    asyncio.run(scenario())
