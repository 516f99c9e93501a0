"""Reachability checks behind GET /healthz: Redis PING, a Kafka metadata request, the marker.

`HealthCheck` runs them at most once per `ttl_s`: concurrent and repeated
requests share one result, so a health probe (or anyone without the token,
since /healthz is open) cannot make the API open a Kafka client per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.readmodel import ReadModel


@dataclass(frozen=True, slots=True)
class HealthReport:
    """One run of the checks: `ok` when Redis and Kafka both answered."""

    ok: bool
    details: Mapping[str, object]


class HealthCheck:
    """The checks, cached for `ttl_s` seconds; one run at a time."""

    def __init__(
        self,
        model: ReadModel,
        kafka_kwargs: Mapping[str, Any],
        snapshots_topic: str,
        *,
        timeout_s: float,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._model = model
        self._kafka_kwargs = kafka_kwargs
        self._topic = snapshots_topic
        self._timeout_s = timeout_s
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: tuple[float, HealthReport] | None = None

    def _fresh(self) -> HealthReport | None:
        if self._cached is not None and self._clock() - self._cached[0] < self._ttl_s:
            return self._cached[1]
        return None

    async def report(self) -> HealthReport:
        cached = self._fresh()
        if cached is not None:
            return cached
        async with self._lock:
            # Whoever waited for the lock gets the run that just finished.
            cached = self._fresh()
            if cached is not None:
                return cached
            report = await self._run()
            self._cached = (self._clock(), report)
            return report

    async def _run(self) -> HealthReport:
        redis_check, kafka_check = await asyncio.gather(
            check_redis(self._model, self._timeout_s),
            check_kafka(self._kafka_kwargs, self._topic, self._timeout_s),
        )
        ok = bool(redis_check["ok"]) and bool(kafka_check["ok"])
        return HealthReport(ok, {"redis": redis_check, "kafka": kafka_check})


async def check_kafka(
    kafka_kwargs: Mapping[str, Any], snapshots_topic: str, timeout_s: float
) -> dict[str, object]:
    """A metadata request to the brokers; also says whether the snapshots topic exists."""
    from aiokafka.admin import AIOKafkaAdminClient

    kwargs = dict(kafka_kwargs)
    kwargs.setdefault("request_timeout_ms", int(timeout_s * 1000))
    client = AIOKafkaAdminClient(**kwargs)
    started = time.perf_counter()
    try:
        await asyncio.wait_for(client.start(), timeout_s)
        topics = await asyncio.wait_for(client.list_topics(), timeout_s)
        return {
            "ok": True,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "snapshots_topic": snapshots_topic,
            "snapshots_topic_exists": snapshots_topic in topics,
        }
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()}
    finally:
        # A client that never connected may fail to close; nothing is left open.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), timeout_s)


async def check_redis(model: ReadModel, timeout_s: float) -> dict[str, object]:
    """A PING with a deadline, how far the read model is built, and from which topics.

    `read_model_topics` lists the topics in the current build: one missing
    from it (accounts.mrr before a worker created it) is not projected yet.
    """
    started = time.perf_counter()
    try:
        await asyncio.wait_for(model.ping(), timeout_s)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        state = await asyncio.wait_for(model.state(), timeout_s)
        epoch = await asyncio.wait_for(model.epoch(), timeout_s)
        return {
            "ok": True,
            "latency_ms": latency_ms,
            "read_model": state.value,
            "read_model_topics": list(epoch.topics) if epoch is not None else [],
        }
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()}
