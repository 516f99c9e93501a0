"""The worker's pending-event gauges: how many events wait, and since when the oldest.

The fold knows, per asset, since when each of its pending events has been pending
(`AssetLedger.pending_since`). A `PendingTracker` keeps that per asset key and sets
`assetstream_pending_events` and `assetstream_pending_oldest_age_seconds` when asked:

    tracker.observe(key, [clock.since for clock in ledger.pending_since])  # after each fold
    tracker.clear()                     # before the wake-up index is rebuilt (new assignment)
    tracker.publish(now)                # on the timer

The numbers cover the assets whose partitions this worker holds; summed over workers
(count) and maxed (oldest age) they cover the cluster.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime

from streams import metrics

__all__ = ["PendingTracker"]


class PendingTracker:
    """Per asset: the start times of its pending events. Not thread-safe (one event loop)."""

    def __init__(self) -> None:
        self._since: dict[Hashable, tuple[datetime, ...]] = {}

    def observe(self, key: Hashable, since: Iterable[datetime]) -> None:
        """The asset's pending events now started at ``since`` (empty: none pending)."""
        times = tuple(since)
        if times:
            self._since[key] = times
        else:
            self._since.pop(key, None)

    def forget(self, key: Hashable) -> None:
        self._since.pop(key, None)

    def clear(self) -> None:
        self._since.clear()

    @property
    def count(self) -> int:
        return sum(len(times) for times in self._since.values())

    def oldest(self) -> datetime | None:
        return min((min(times) for times in self._since.values()), default=None)

    def publish(self, now: datetime) -> None:
        """Set the gauges (the oldest age is 0 when nothing is pending)."""
        metrics.PENDING_EVENTS.set(self.count)
        oldest = self.oldest()
        age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
        metrics.PENDING_OLDEST_AGE.set(age)
