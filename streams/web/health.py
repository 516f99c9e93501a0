"""Reachability checks behind GET /healthz: Redis PING and a Kafka metadata request."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

from streams.readmodel import ReadModel


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
    """A PING with a deadline."""
    started = time.perf_counter()
    try:
        await asyncio.wait_for(model.ping(), timeout_s)
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()}
