"""The Faust app, built from settings at start-up (no clients at import time)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.acks import OrderedAcker
from streams.agents import Agents
from streams.clock import Clock
from streams.settings import Settings, app_id, broker_credentials, faust_broker_urls
from streams.topics import ASSET_TABLE, FINGERPRINT_TABLE, TopicNames, topic_names

log = logging.getLogger(__name__)

# Besides after each new assignment, rebuild the timer's wake-up index this often.
WAKE_INDEX_REBUILD_SECONDS = 300.0
# How soon an idle agent's last events are acked (and so become committable).
ACK_IDLE_SECONDS = 0.2


@dataclass
class Topics:
    orders: Any
    amendments: Any
    by_event: Any
    commands: Any
    snapshots: Any
    deadletter: Any


def build_app(settings: Settings, *, with_projection: bool = True) -> faust.App:
    """The worker's app: intake → dedupe (by event id) → fold (by asset id) → outputs."""
    names: TopicNames = topic_names(settings)
    app = faust.App(
        app_id(settings),
        broker=faust_broker_urls(settings),
        broker_credentials=broker_credentials(settings),
        store=settings.store,
        # One folder per app id: RocksDB files are named by table, not by app, so two
        # prefixes sharing ASSETSTREAM_DATA_DIR would otherwise open each other's tables.
        datadir=str(settings.data_dir / app_id(settings)),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_disable_leader=True,
        web_port=settings.web_port,
        web_host="127.0.0.1",
        broker_commit_interval=1.0,
        # A killed worker's partitions move after the session timeout (faust's default 60 s);
        # heartbeats come from faust's consumer thread, so a busy agent does not miss them.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        producer_acks=-1,
        table_standby_replicas=0,
    )

    def topic(name: str) -> Any:
        return app.topic(name, key_serializer="raw", value_serializer="raw",
                         partitions=settings.partitions)  # fmt: skip

    topics = Topics(
        orders=topic(names.orders),
        amendments=topic(names.amendments),
        by_event=topic(names.by_event),
        commands=topic(names.commands),
        snapshots=app.topic(
            names.snapshots,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
            compacting=True,
        ),
        deadletter=topic(names.deadletter),
    )
    # bytes keys and values select faust's raw codec: we encode values ourselves.
    asset_table = app.Table(
        ASSET_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions
    )
    fingerprint_table = app.Table(
        FINGERPRINT_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions
    )
    agents = Agents(
        app=app,
        topics=topics,
        asset_table=asset_table,
        fingerprint_table=fingerprint_table,
        clock=Clock(settings.as_of),
        grace=settings.pending_grace,
    )

    ackers: list[OrderedAcker] = []

    async def consume(stream: Any, handle: Callable[[Any], Awaitable[None]]) -> None:
        """Handle each event; ack it (in order) once everything it sent is acknowledged."""
        noack = stream.noack()
        acker = OrderedAcker(noack, app.crash)
        ackers.append(acker)
        try:
            async for event in noack.events():
                await handle(event)
                await acker.add(event, agents.take_pending())
        finally:
            ackers.remove(acker)  # faust may restart an agent with a fresh stream

    # concurrency=1 everywhere: more can commit past in-flight events (faust #606).
    @app.agent(topics.orders, name="intake-orders", concurrency=1)
    async def intake_orders(stream: Any) -> None:
        await consume(stream, agents.intake)

    @app.agent(topics.amendments, name="intake-amendments", concurrency=1)
    async def intake_amendments(stream: Any) -> None:
        await consume(stream, agents.intake)

    @app.agent(topics.by_event, name="dedupe", concurrency=1)
    async def dedupe(stream: Any) -> None:
        await consume(stream, agents.dedupe)

    @app.agent(topics.commands, name="fold-assets", concurrency=1)
    async def fold_assets(stream: Any) -> None:
        await consume(stream, agents.fold)

    @app.timer(interval=ACK_IDLE_SECONDS)  # type: ignore[untyped-decorator]  # faust untyped
    async def ack_idle_events() -> None:
        # An agent waiting for its next event acks nothing: ack its finished tail here.
        for acker in ackers:
            try:
                await acker.ack_ready()
            except Exception:
                log.exception("acking finished events failed; will retry")

    rebuilt: dict[str, Any] = {"at": 0.0, "view": None}

    @app.timer(interval=settings.tick_seconds)  # type: ignore[untyped-decorator]  # faust untyped
    async def wake_assets() -> None:
        try:
            # Rebuild the wake-up index once the table is recovered for a new assignment
            # (it only knows assets folded since the start), and now and then for safety.
            if app.in_recovery or app.rebalancing:
                return
            view = frozenset(app.assignor.assigned_actives())
            loop_time = asyncio.get_running_loop().time()
            if view != rebuilt["view"] or loop_time - rebuilt["at"] > WAKE_INDEX_REBUILD_SECONDS:
                await agents.rebuild_wake_index()
                rebuilt.update(at=loop_time, view=view)
            await agents.tick()
        except Exception:  # the timer must keep running
            log.exception("timer failed; will retry at the next tick")

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; the exposition format is UTF-8 anyway.
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def health_page(web: Any, request: Any) -> Any:
        return web.json({"status": "ok", "app": app.conf.id})

    if with_projection:
        _attach_projection(app, settings)
    app.assetstream_agents = agents  # type: ignore[attr-defined]
    return app


def _attach_projection(app: faust.App, settings: Settings) -> None:
    """Run the Redis projection inside the worker (its own consumer group, never blocking us)."""
    try:
        from streams.sinks.redis_projection import run_projection
    except ImportError:  # pragma: no cover - the read side ships with the package
        return
    stop = asyncio.Event()

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def project_snapshots() -> None:
        try:
            await run_projection(settings, stop)
        except Exception:  # a read-model outage must not stop the processor
            log.exception("redis projection stopped")

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # faust's signal typing is narrow
    async def stop_projection(app: Any, *args: Any, **kwargs: Any) -> None:
        stop.set()
