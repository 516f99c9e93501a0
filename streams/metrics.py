"""Prometheus metrics of the worker, served at /metrics on its web port."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

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


# ---- the operator's view (streams/ops) ------------------------------------------------------
# Lag is read from the cluster by `streams.ops.lag.run_lag_monitor` (every worker runs one, so
# every worker exports the same cluster-wide numbers: aggregate them with max, not sum).
CONSUMER_LAG = Gauge(
    "assetstream_consumer_lag",
    "Records not yet consumed and committed by the group: end offset - committed offset "
    "(end - log start when the group has committed nothing), per partition.",
    ["group", "topic", "partition"],
)
CONSUMER_GROUP_LAG = Gauge(
    "assetstream_consumer_group_lag",
    "Sum of assetstream_consumer_lag over the group's partitions.",
    ["group"],
)
CONSUMER_COMMITTED_OFFSET = Gauge(
    "assetstream_consumer_committed_offset",
    "The group's committed offset per partition (absent when it has committed nothing).",
    ["group", "topic", "partition"],
)
TOPIC_END_OFFSET = Gauge(
    "assetstream_topic_end_offset",
    "End offset (high watermark) per partition of the topics the groups consume.",
    ["topic", "partition"],
)
CONSUMER_GROUP_MEMBERS = Gauge(
    "assetstream_consumer_group_members",
    "Members of the consumer group, as its coordinator describes it.",
    ["group"],
)
LAG_MONITOR_LAST_SUCCESS = Gauge(
    "assetstream_lag_monitor_last_success_timestamp_seconds",
    "Unix time the lag monitor last read the cluster successfully (0: never).",
)
LAG_MONITOR_ERRORS = Counter(
    "assetstream_lag_monitor_errors_total",
    "Rounds of the lag monitor that could not read the cluster.",
)
# Set by the worker for the assets it holds (streams.ops.pending.PendingTracker).
PENDING_EVENTS = Gauge(
    "assetstream_pending_events",
    "Events pending (SPEC 4.6) on the assets whose partitions this worker holds.",
)
PENDING_OLDEST_AGE = Gauge(
    "assetstream_pending_oldest_age_seconds",
    "Age of the oldest pending event on this worker's assets (0 when none is pending).",
)
PENDING_GRACE = Gauge(
    "assetstream_pending_grace_seconds",
    "ASSETSTREAM_PENDING_GRACE: how long an event may stay pending before it is dead-lettered.",
)
LAST_SNAPSHOT_PUBLISHED = Gauge(
    "assetstream_last_snapshot_published_timestamp_seconds",
    "Unix time the broker last acknowledged a snapshot this worker published (0: none yet).",
)


def snapshot_acknowledged(ack: Any) -> Any:
    """Set LAST_SNAPSHOT_PUBLISHED when the send future ``ack`` succeeds; returns ``ack``."""
    add_done_callback = getattr(ack, "add_done_callback", None)
    if add_done_callback is not None:
        add_done_callback(_mark_published)
    return ack


def _mark_published(future: Any) -> None:
    if not future.cancelled() and future.exception() is None:
        LAST_SNAPSHOT_PUBLISHED.set_to_current_time()
