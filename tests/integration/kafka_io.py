"""Producing scenario lines and reading final snapshots/dead letters from the real broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.decode import Rejection, decode, partition_key
from schemas.events import EVENT_TOPICS

VOLATILE = ("version", "as_of", "updated_by_event_id")


def route(raw: bytes) -> tuple[str, bytes | None]:
    """(base topic, key) a well-behaved producer would use; garbage goes to amendments unkeyed."""
    decoded = decode(raw)
    if isinstance(decoded, Rejection):
        return "assets.amendments", None
    return EVENT_TOPICS[decoded.event_type], partition_key(decoded.model).encode()


async def _produce(bootstrap: str, records: list[tuple[str, bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                max_request_size=4 * 1024 * 1024)  # fmt: skip
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce_lines(bootstrap: str, prefix: str, lines: list[bytes]) -> None:
    """Produce each line, in order, to its topic with its key."""
    records = []
    for raw in lines:
        topic, key = route(raw)
        records.append((prefix + topic, key, raw))
    asyncio.run(_produce(bootstrap, records))


def produce_raw(bootstrap: str, topic: str, values: list[bytes], key: bytes | None = None) -> None:
    asyncio.run(_produce(bootstrap, [(topic, key, v) for v in values]))


async def _read_all(bootstrap: str, topic: str, idle_ms: int = 1500) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)  # fmt: skip
    await consumer.start()
    records: list[Any] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms, max_records=5000)
            if not batch:
                return records
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()


def final_records(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """Highest version per key of a compacted topic; a tombstone after it removes the key."""
    return final_snapshots(bootstrap, topic)


def final_snapshots(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """Highest version per key; a tombstone after it removes the asset."""
    latest: dict[str, dict[str, Any] | None] = {}
    for record in asyncio.run(_read_all(bootstrap, topic)):
        key = record.key.decode()
        if record.value is None:
            latest[key] = None
            continue
        value = json.loads(record.value)
        current = latest.get(key)
        if current is None or value["version"] >= current["version"]:
            latest[key] = value
    return {k: v for k, v in latest.items() if v is not None}


def dead_letters(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in asyncio.run(_read_all(bootstrap, topic))]


def content(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without the fields that legitimately differ between runs."""
    return {k: v for k, v in snapshot.items() if k not in VOLATILE}


def write_outputs(
    out: Path,
    snapshots: dict[str, dict[str, Any]],
    rejected: list[dict[str, Any]],
    accounts: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Lay Kafka's results out like `assetstream replay`, so compare.py can judge them."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "snapshots.jsonl").write_text(
        "".join(json.dumps(snapshots[k]) + "\n" for k in sorted(snapshots))
    )
    (out / "rejected.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rejected))
    records = accounts or {}
    (out / "accounts.jsonl").write_text(
        "".join(json.dumps(records[k]) + "\n" for k in sorted(records))
    )
