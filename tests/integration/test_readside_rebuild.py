"""The read model survives losing Redis (issue 12): real broker, private redis-servers.

A fault trial stopped Redis mid-stream and started it empty: 138 of 386 assets
never came back, because the projection only followed new snapshots. Here a
private redis-server (never the shared one: these tests FLUSHALL and restart
it) loses its data mid-stream, by FLUSHALL or by a restart with its files
deleted, and every asset must come back equal to the latest version on the
topic, while the API says "rebuilding" (503) instead of 404 for what is not
back yet. The rebuild window is made observable by holding the projection
after its first rebuild batch (`ProjectionConfig.on_batch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import Redis

from streams.readmodel import Epoch, ReadModel, ReadModelState, RecordKind, prepare
from streams.sinks.redis_projection import (
    BatchReport,
    ProjectedTopic,
    ProjectionConfig,
    open_redis,
    project_snapshots,
)
from tests.integration import test_projection as helpers

pytestmark = pytest.mark.integration

ASSETS = 386  # as many as in the fault trial
BATCH = 25
REBUILD_TIMEOUT_S = 90.0
HELD_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 60.0
OUTAGE_LOG_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
PARTITIONS = helpers.PARTITIONS


# ---- helpers ---------------------------------------------------------------------


def asset_id(i: int) -> str:
    return f"AST-{i:04d}"


def account_record(account_id: str, version: int, mrr: str) -> dict[str, Any]:
    """An accounts.mrr record (SPEC §10), small but with its keyed fields."""
    return {
        "account_id": account_id,
        "version": version,
        "as_of": "2026-03-01",
        "currencies": [{"currency": "USD", "current_mrr": mrr, "current_arr": mrr}],
    }


async def send(
    bootstrap: str, topic: str, records: list[tuple[str, dict[str, Any] | None]]
) -> None:
    """Send (key, value-or-tombstone) records and wait for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic, key=key.encode(), value=None if value is None else json.dumps(value).encode()
            )
            for key, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def snapshots(versions: range | list[int], ids: range) -> list[tuple[str, dict[str, Any] | None]]:
    return [
        (asset_id(i), helpers.snapshot(asset_id(i), v, quantity=str(v + 4)))
        for v in versions
        for i in ids
    ]


async def latest_on_topic(bootstrap: str, topic: str) -> dict[str, bytes]:
    """What a consumer keeping the highest version per key (tombstones delete) ends with."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        latest: dict[str, tuple[int, bytes]] = {}

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    key = record.key.decode()
                    if record.value is None:
                        latest.pop(key, None)
                        continue
                    version = json.loads(record.value)["version"]
                    if key not in latest or version >= latest[key][0]:
                        latest[key] = (version, record.value)
        return {key: value for key, (_, value) in latest.items()}
    finally:
        await consumer.stop()


async def stored(redis_url: str, namespace: str, keys: list[str]) -> dict[str, bytes]:
    """The snapshot bytes Redis holds for `keys` (absent ones left out), in one round trip."""
    client = Redis.from_url(redis_url)
    try:
        model = ReadModel(client, namespace)
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(model.asset_key(key), "json")
            raws = await pipe.execute()
        return {key: raw for key, raw in zip(keys, raws, strict=True) if raw is not None}
    finally:
        await client.aclose()


async def marker(redis_url: str, namespace: str) -> Epoch | None:
    client = Redis.from_url(redis_url)
    try:
        return await ReadModel(client, namespace).epoch()
    finally:
        await client.aclose()


async def wait_until_equal_to_topic(
    bootstrap: str, config: ProjectionConfig, redis_url: str, *, known: list[str]
) -> dict[str, bytes]:
    """Wait until Redis holds exactly the topic's latest record of every key, and is complete."""
    topic = helpers.topic_of(config)
    expected = await latest_on_topic(bootstrap, topic)

    async def equal() -> bool:
        epoch = await marker(redis_url, config.namespace)
        if epoch is None or epoch.state is not ReadModelState.COMPLETE:
            return False
        return await stored(redis_url, config.namespace, known) == expected

    await helpers.wait_for(equal, REBUILD_TIMEOUT_S, "every asset back at the topic's latest")
    return expected


def flushall(url: str) -> None:
    client = redis_sync.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()


class Gate:
    """Holds the projection after its first batch of a rebuild, until released."""

    def __init__(self) -> None:
        self.armed = False
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def on_batch(self, report: BatchReport) -> None:
        if self.armed and report.rebuilding:
            self.armed = False
            self.held.set()
            await self.release.wait()


@contextlib.asynccontextmanager
async def projections(*configs: ProjectionConfig) -> AsyncIterator[list[asyncio.Task[None]]]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(project_snapshots(c, stop)) for c in configs]
    try:
        yield tasks
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), STOP_TIMEOUT_S)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[helpers.RedisServer]:
    server = helpers.RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def config_for(
    kafka_bootstrap: str, redis_url: str, topic_prefix: str, name: str, **changes: Any
) -> ProjectionConfig:
    prefix = f"{topic_prefix}{name}-{uuid.uuid4().hex[:8]}."
    base = helpers.make_config(prefix, redis_url, kafka_bootstrap)
    return dataclasses.replace(base, batch_size=BATCH, epoch_check_interval_s=0.2, **changes)


def ids(count: int = ASSETS) -> list[str]:
    return [asset_id(i) for i in range(count)]


# ---- losing the data ------------------------------------------------------------------


def test_a_flushall_mid_stream_is_rebuilt_from_the_topic_and_answered_503_meanwhile(
    kafka_bootstrap: str,
    own_redis: helpers.RedisServer,
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="streams.sinks.redis_projection")
    gate = Gate()
    config = config_for(
        kafka_bootstrap, own_redis.url, topic_prefix, "flush", on_batch=gate.on_batch
    )
    topic = helpers.topic_of(config)

    async def scenario() -> None:
        await helpers.create_topic(kafka_bootstrap, topic)
        await send(kafka_bootstrap, topic, snapshots([1], range(ASSETS)))
        async with (
            projections(config),
            helpers.api_client(own_redis.url, config.namespace) as api,
        ):
            await wait_until_equal_to_topic(kafka_bootstrap, config, own_redis.url, known=ids())
            first = await marker(own_redis.url, config.namespace)
            assert first is not None

            # Step 1: Redis loses everything while version 2 is being published.
            gate.armed = True
            publishing = asyncio.create_task(
                send(kafka_bootstrap, topic, snapshots([2], range(ASSETS)))
            )
            flushall(own_redis.url)
            await asyncio.wait_for(gate.held.wait(), HELD_TIMEOUT_S)

            # Step 2: held after the first rebuild batch: a new build, not complete.
            during = await marker(own_redis.url, config.namespace)
            assert during is not None and during.id != first.id
            assert during.state is ReadModelState.REBUILDING
            statuses = [(await api.get(f"/assets/{a}")).status_code for a in ids()]
            assert 404 not in statuses
            assert statuses.count(200) >= 1 and statuses.count(503) >= ASSETS - 2 * BATCH
            missing = await api.get("/assets/AST-NEVER")
            assert missing.status_code == 503
            assert missing.json()["error"] == "read model rebuilding"
            assert missing.headers["retry-after"]
            assert (await api.get("/accounts/ACC-IT/assets")).status_code == 503

            # Step 3: released; later changes (a tombstone too) keep flowing in.
            gate.release.set()
            await publishing
            await send(
                kafka_bootstrap,
                topic,
                [*snapshots([3], range(0, ASSETS, 7)), (asset_id(5), None)],
            )
            expected = await wait_until_equal_to_topic(
                kafka_bootstrap, config, own_redis.url, known=ids()
            )
            assert asset_id(5) not in expected and len(expected) == ASSETS - 1
            # What the API serves is byte for byte what the topic holds last.
            for key, raw in expected.items():
                response = await api.get(f"/assets/{key}")
                assert response.status_code == 200, key
                assert response.content == raw
            assert (await api.get(f"/assets/{asset_id(5)}")).status_code == 404
            assert (await api.get("/assets/AST-NEVER")).status_code == 404
            await helpers.wait_for(
                lambda: helpers._no_lag(kafka_bootstrap, config),
                helpers.COMMITTED_TIMEOUT_S,
                "the rebuild to be committed",
            )
        assert "rebuilding the read model from the beginning" in caplog.text
        assert "read model complete" in caplog.text

    asyncio.run(scenario())


def test_a_redis_restart_with_its_data_deleted_is_rebuilt_from_the_topic(
    kafka_bootstrap: str, own_redis: helpers.RedisServer, topic_prefix: str
) -> None:
    config = config_for(kafka_bootstrap, own_redis.url, topic_prefix, "restart")
    topic = helpers.topic_of(config)
    unclosed: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: unclosed.append(str(context.get("message"))))
        await helpers.create_topic(kafka_bootstrap, topic)
        await send(kafka_bootstrap, topic, snapshots([1, 2], range(ASSETS)))
        async with projections(config):
            await wait_until_equal_to_topic(kafka_bootstrap, config, own_redis.url, known=ids())
            first = await marker(own_redis.url, config.namespace)
            assert first is not None

            # Step 1: Redis stops and its files are deleted; snapshots keep coming.
            own_redis.stop()
            shutil.rmtree(own_redis.workdir)
            own_redis.workdir.mkdir()
            retries = helpers.retries_so_far()
            await send(kafka_bootstrap, topic, snapshots([3], range(0, ASSETS, 3)))

            async def retrying() -> bool:
                return helpers.retries_so_far() >= retries + 3

            await helpers.wait_for(retrying, helpers.OUTAGE_NOTICED_TIMEOUT_S, "redis retries")

            # Step 2: it comes back empty; the projection notices and rebuilds.
            own_redis.start()
            await wait_until_equal_to_topic(kafka_bootstrap, config, own_redis.url, known=ids())
            again = await marker(own_redis.url, config.namespace)
            assert again is not None and again.id != first.id
        gc.collect()
        # Pipelines that failed during the outage gave their connections back.
        assert not [m for m in unclosed if "Unclosed Pipeline" in m], unclosed

    asyncio.run(scenario())


def test_a_restart_that_keeps_its_data_is_not_rebuilt(
    kafka_bootstrap: str, own_redis: helpers.RedisServer, topic_prefix: str
) -> None:
    """AOF on: Redis comes back with the marker, so the projection resumes, no rebuild."""
    config = config_for(kafka_bootstrap, own_redis.url, topic_prefix, "keep")
    topic = helpers.topic_of(config)

    async def scenario() -> None:
        await helpers.create_topic(kafka_bootstrap, topic)
        await send(kafka_bootstrap, topic, snapshots([1], range(60)))
        async with projections(config):
            await wait_until_equal_to_topic(kafka_bootstrap, config, own_redis.url, known=ids(60))
            first = await marker(own_redis.url, config.namespace)
            own_redis.stop()
            await send(kafka_bootstrap, topic, snapshots([2], range(60)))
            own_redis.start()
            await wait_until_equal_to_topic(kafka_bootstrap, config, own_redis.url, known=ids(60))
            assert await marker(own_redis.url, config.namespace) == first

    asyncio.run(scenario())


def test_two_projections_of_one_group_each_rebuild_their_partitions(
    kafka_bootstrap: str, own_redis: helpers.RedisServer, topic_prefix: str
) -> None:
    """The one that finds the marker gone begins the build; the other follows its epoch."""
    seen: dict[str, list[BatchReport]] = {"a": [], "b": []}

    def recorder(name: str) -> Any:
        async def on_batch(report: BatchReport) -> None:
            seen[name].append(report)

        return on_batch

    config_a = config_for(kafka_bootstrap, own_redis.url, topic_prefix, "pair")
    config_b = dataclasses.replace(config_a, on_batch=recorder("b"))
    config_a = dataclasses.replace(config_a, on_batch=recorder("a"))
    topic = helpers.topic_of(config_a)

    async def scenario() -> None:
        await helpers.create_topic(kafka_bootstrap, topic)
        await send(kafka_bootstrap, topic, snapshots([1], range(120)))
        async with projections(config_a, config_b):
            # Step 1: both hold partitions (each writes batches of fresh versions).
            version = iter(range(2, 1000))

            async def both_writing() -> bool:
                seen["a"].clear()
                seen["b"].clear()
                await send(kafka_bootstrap, topic, snapshots([next(version)], range(120)))
                await asyncio.sleep(1.0)  # let both poll once before looking
                return bool(seen["a"]) and bool(seen["b"])

            await helpers.wait_for(both_writing, SETTLE_TIMEOUT_S, "both projections to write")
            await wait_until_equal_to_topic(
                kafka_bootstrap, config_a, own_redis.url, known=ids(120)
            )
            seen["a"].clear()
            seen["b"].clear()

            # Step 2: Redis loses its data; both read their partitions from the start.
            flushall(own_redis.url)
            await wait_until_equal_to_topic(
                kafka_bootstrap, config_a, own_redis.url, known=ids(120)
            )
            assert any(r.rebuilding for r in seen["a"]) and any(r.rebuilding for r in seen["b"])
            written_a = {p for r in seen["a"] for p in r.partitions}
            written_b = {p for r in seen["b"] for p in r.partitions}
            assert written_a | written_b == {f"{topic}:{p}" for p in range(PARTITIONS)}

    asyncio.run(scenario())


# ---- a second compacted topic ------------------------------------------------------------


def test_a_second_compacted_topic_is_projected_and_rebuilt_with_the_first(
    kafka_bootstrap: str, own_redis: helpers.RedisServer, topic_prefix: str
) -> None:
    """accounts.mrr (highest version per account wins, a tombstone deletes) beside snapshots."""
    base = config_for(kafka_bootstrap, own_redis.url, topic_prefix, "two")
    accounts_topic = helpers.topic_of(base).replace("assets.snapshots", "accounts.mrr")
    config = dataclasses.replace(
        base, topics=(*base.topics, ProjectedTopic(accounts_topic, RecordKind.ACCOUNT_MRR))
    )
    records: list[tuple[str, dict[str, Any] | None]] = [
        ("ACC-1", account_record("ACC-1", 1, "10.00")),
        ("ACC-2", account_record("ACC-2", 1, "5.00")),
        ("ACC-1", account_record("ACC-1", 3, "30.00")),
        ("ACC-1", account_record("ACC-1", 2, "20.00")),  # older, arrives later
        ("ACC-3", account_record("ACC-3", 1, "1.00")),
        ("ACC-3", None),
    ]

    async def accounts() -> dict[str, Any]:
        client = Redis.from_url(own_redis.url)
        try:
            model = ReadModel(client, config.namespace)
            raw = {a: await model.get_account_mrr_json(a) for a in ("ACC-1", "ACC-2", "ACC-3")}
            return {a: json.loads(v)["version"] for a, v in raw.items() if v is not None}
        finally:
            await client.aclose()

    async def scenario() -> None:
        for topic in (helpers.topic_of(base), accounts_topic):
            await helpers.create_topic(kafka_bootstrap, topic)
        await send(kafka_bootstrap, helpers.topic_of(base), snapshots([1], range(30)))
        await send(kafka_bootstrap, accounts_topic, records)
        async with projections(config):
            for _ in range(2):  # as projected, then after losing everything
                await wait_until_equal_to_topic(
                    kafka_bootstrap, config, own_redis.url, known=ids(30)
                )

                async def accounts_back() -> bool:
                    return await accounts() == {"ACC-1": 3, "ACC-2": 1}

                await helpers.wait_for(accounts_back, REBUILD_TIMEOUT_S, "the account records")
                epoch = await marker(own_redis.url, config.namespace)
                assert epoch is not None
                assert set(epoch.topics) == {helpers.topic_of(base), accounts_topic}
                flushall(own_redis.url)

    asyncio.run(scenario())


# ---- outages: logs and connections -----------------------------------------------------------


def test_a_redis_outage_is_logged_once_every_few_seconds_with_a_count(
    kafka_bootstrap: str,
    own_redis: helpers.RedisServer,
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="streams.sinks.redis_projection.outage")
    config = dataclasses.replace(
        config_for(kafka_bootstrap, own_redis.url, topic_prefix, "quiet"),
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
    )
    topic = helpers.topic_of(config)

    def outage_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "redis unavailable" in r.getMessage()]

    async def scenario() -> None:
        await helpers.create_topic(kafka_bootstrap, topic)
        await send(kafka_bootstrap, topic, snapshots([1], range(10)))
        async with projections(config):
            await wait_until_equal_to_topic(kafka_bootstrap, config, own_redis.url, known=ids(10))
            own_redis.stop()
            caplog.clear()
            started = time.monotonic()
            retries = helpers.retries_so_far()

            async def second_line() -> bool:
                return len(outage_lines()) >= 2

            # The first line may carry a count left from an earlier outage; the
            # second comes one interval later with the repeats of this one.
            await helpers.wait_for(second_line, OUTAGE_LOG_TIMEOUT_S, "a second outage line")
            elapsed = time.monotonic() - started
            attempts = helpers.retries_so_far() - retries
            lines = outage_lines()
            # Dozens of attempts (every 0.1 s), one line per 5 s.
            assert attempts >= 20
            assert len(lines) <= elapsed / 5 + 2, [r.getMessage() for r in lines]
            repeats = getattr(lines[1], "suppressed", 0)
            assert repeats >= 10
            assert f"[{repeats} similar messages suppressed in the last" in lines[1].getMessage()
            own_redis.start()

    asyncio.run(scenario())


def test_a_batch_that_fails_on_a_dead_connection_gives_the_connection_back(
    own_redis: helpers.RedisServer,
) -> None:
    """The pipeline's script preload used to keep the connection: "Unclosed Pipeline client"."""
    messages: list[str] = []
    record = json.dumps(helpers.snapshot("AST-PIPE", 1)).encode()

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: messages.append(str(context.get("message")))
        )
        client = open_redis(own_redis.url)
        model = ReadModel(client, "it-pipe:")
        try:
            assert await model.apply_all([prepare(record)])
            own_redis.stop()  # the pooled connection is now dead
            for _ in range(3):
                with pytest.raises(redis_sync.exceptions.ConnectionError):
                    await model.apply_all([prepare(record)])
                gc.collect()
            own_redis.start()
            changed, _ = await model.apply_all([prepare(record)])
            assert changed == [False]  # AOF kept it; the write is versioned
        finally:
            await client.aclose()
        gc.collect()
        assert not [m for m in messages if "Unclosed" in m], messages

    asyncio.run(scenario())
