"""Prometheus metrics of the worker, served at /metrics on its web port."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "assetstream_messages_total",
    "Messages by where they ended: applied, duplicate, pending, dead_lettered (by reason).",
    ["outcome", "reason"],
)
SNAPSHOTS = Counter("assetstream_snapshots_published_total", "Snapshots published.")
TOMBSTONES = Counter("assetstream_tombstones_published_total", "Assets retracted (tombstones).")
INTERNAL_ERRORS = Counter(
    "assetstream_internal_errors_total", "Messages the worker failed on (dead-lettered).", ["agent"]
)
LATENCY = Histogram(
    "assetstream_processing_seconds",
    "Time to process one command in the fold agent.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def count(outcome: str, reason: str = "") -> None:
    MESSAGES.labels(outcome=outcome, reason=reason).inc()
