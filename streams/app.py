"""The Faust app, built from settings at start-up (no clients at import time)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import gc_policy
from streams.acks import OrderedAcker
from streams.agents import Agents, TopicNames
from streams.clock import Clock
from streams.offsets import OffsetGuard, committed_offsets_of
from streams.ops.lag import run_lag_monitor
from streams.settings import Settings, app_id, broker_credentials, faust_broker_urls
from streams.topics import ACCOUNT_TABLE, ASSET_TABLE, FINGERPRINT_TABLE, topic_names

log = logging.getLogger(__name__)

# Besides after each new assignment, rebuild the timer's wake-up index this often.
WAKE_INDEX_REBUILD_SECONDS = 300.0
# How soon an idle agent's last events are acked (and so become committable).
ACK_IDLE_SECONDS = 0.2
# The producer waits this long to fill a batch: many small sends become one request.
PRODUCER_LINGER_SECONDS = 0.005
PRODUCER_BATCH_BYTES = 1024 * 1024


def quiet_connection_floods() -> None:
    """A broker outage makes aiokafka log "Unable connect to node…" many times a second (a fault
    trial saw 111,000 lines in 24 s): let one through every few seconds, with a count."""
    from streams.sinks.logfilters import RateLimitFilter

    for name in ("aiokafka", "aiokafka.conn", "aiokafka.client", "aiokafka.cluster"):
        logging.getLogger(name).addFilter(RateLimitFilter(5.0))


def faust_settings(settings: Settings) -> dict[str, Any]:
    """faust.App settings of every assetstream worker — and of the benchmarks' bare relay, so
    that the ceiling it measures runs with the same broker, producer and consumer settings."""
    compression = None if settings.compression == "none" else settings.compression
    return {
        "broker": faust_broker_urls(settings),
        "broker_credentials": broker_credentials(settings),
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "topic_disable_leader": True,
        "broker_commit_interval": 1.0,
        # A killed worker's partitions move after the session timeout (faust's default 60 s);
        # heartbeats come from faust's consumer thread, so a busy agent does not miss them.
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 3.0,
        "producer_acks": -1,
        "producer_compression_type": compression,
        "producer_linger": PRODUCER_LINGER_SECONDS,
        "producer_max_batch_size": PRODUCER_BATCH_BYTES,
        # Messages up to ASSETSTREAM_MAX_MESSAGE_BYTES (topics are created to accept them).
        "producer_max_request_size": settings.max_message_bytes,
        "consumer_max_fetch_size": max(settings.max_message_bytes, 4 * 1024 * 1024),
        "table_standby_replicas": settings.standby_replicas,
    }


def build_app(
    settings: Settings, *, with_projection: bool = True, partitions: dict[str, int] | None = None
) -> faust.App:
    """The worker's app: intake → (commands by asset id | claims by event id) → fold | registry;
    fold → asset changes by account id → account rollup (SPEC §10).

    `partitions`: the partition counts of the internal topics (from `ensure_topics`); the
    batcher chooses partitions itself, so it must know them.
    """
    names = topic_names(settings)
    app = faust.App(
        app_id(settings),
        store=settings.store,
        # One folder per app id: RocksDB files are named by table, not by app, so two
        # prefixes sharing ASSETSTREAM_DATA_DIR would otherwise open each other's tables.
        datadir=str(settings.data_dir / app_id(settings)),
        web_port=settings.web_port,
        web_host=settings.web_bind,
        web_bind=settings.web_bind,
        **faust_settings(settings),
    )

    def topic(name: str, **extra: Any) -> Any:
        return app.topic(name, key_serializer="raw", value_serializer="raw",
                         partitions=settings.partitions, **extra)  # fmt: skip

    orders, amendments = topic(names.orders), topic(names.amendments)
    by_event, commands = topic(names.by_event), topic(names.commands)
    account_changes = topic(names.account_changes)
    # bytes keys and values select faust's raw codec: we encode values ourselves.
    asset_table = app.Table(
        ASSET_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions
    )
    registry_table = app.Table(
        FINGERPRINT_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions
    )
    account_table = app.Table(
        ACCOUNT_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions
    )
    counts = partitions or {}
    agents = Agents(
        app=app,
        topics=TopicNames(
            commands=names.commands,
            by_event=names.by_event,
            snapshots=names.snapshots,
            deadletter=names.deadletter,
            account_changes=names.account_changes,
            accounts=names.accounts,
        ),
        asset_table=asset_table,
        registry_table=registry_table,
        account_table=account_table,
        clock=Clock(settings.as_of, settings.as_of_file),
        grace=settings.pending_grace,
        partitions={
            names.commands: counts.get(names.commands, settings.partitions),
            names.by_event: counts.get(names.by_event, settings.partitions),
            names.account_changes: counts.get(names.account_changes, settings.partitions),
        },
        publish_window=settings.publish_window.total_seconds(),
        max_message_bytes=settings.max_message_bytes,
        max_snapshot_bytes=settings.max_snapshot_bytes,
    )
    guard = OffsetGuard(committed_offsets_of(app))
    ackers: list[OrderedAcker] = []

    async def consume(stream: Any, handle: Callable[[Any], Awaitable[None]]) -> None:
        """Handle each event; ack it (in order) once everything it sent is acknowledged."""
        noack = stream.noack()
        acker = OrderedAcker(noack, app.crash)
        ackers.append(acker)
        try:
            async for event in noack.events():
                message = event.message
                skipped = guard.check(message.topic, message.partition, message.offset)
                if skipped is not None:
                    log.critical("%s", skipped)
                    await app.crash(skipped)
                    await asyncio.Event().wait()  # the crash cancels this task; ack nothing
                await handle(event)
                await acker.add(event, agents.take_pending())
        finally:
            ackers.remove(acker)  # faust may restart an agent with a fresh stream

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # faust's signal typing
    async def forget_revoked(app: Any, revoked: Any, **kwargs: Any) -> None:
        # faust has dropped the buffered events of revoked partitions by now; when one comes
        # back (here or after another worker had it) it starts at its committed offset.
        guard.forget(revoked)

    # concurrency=1 everywhere: more can commit past in-flight events (faust #606).
    @app.agent(orders, name="intake-orders", concurrency=1)
    async def intake_orders(stream: Any) -> None:
        await consume(stream, agents.intake)

    @app.agent(amendments, name="intake-amendments", concurrency=1)
    async def intake_amendments(stream: Any) -> None:
        await consume(stream, agents.intake)

    @app.agent(by_event, name="registry", concurrency=1)
    async def registry(stream: Any) -> None:
        await consume(stream, agents.registry)

    @app.agent(commands, name="fold-assets", concurrency=1)
    async def fold_assets(stream: Any) -> None:
        await consume(stream, agents.fold)

    @app.agent(account_changes, name="accounts", concurrency=1)
    async def account_rollup(stream: Any) -> None:
        await consume(stream, agents.account)

    @app.timer(interval=ACK_IDLE_SECONDS)  # type: ignore[untyped-decorator]  # faust untyped
    async def ack_idle_events() -> None:
        # An agent waiting for its next event acks nothing: ack its finished tail here.
        for acker in list(ackers):
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
                await agents.rebuild_account_wake()
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

    lag_stop = asyncio.Event()

    @app.task  # type: ignore[untyped-decorator]  # faust's decorator is untyped
    async def lag_monitor() -> None:
        await run_lag_monitor(settings, lag_stop)  # never raises; returns once lag_stop is set

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # faust's signal typing is narrow
    async def stop_lag_monitor(app: Any, *args: Any, **kwargs: Any) -> None:
        lag_stop.set()

    gc_policy.install(app)
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
