"""Refuse to ack past a skipped offset: a silent loss becomes a replay.

Our input and internal topics are neither compacted nor transactional, so
their offsets are contiguous: every offset is a message. faust 0.15.3 can
nevertheless hand an agent offset n+2 after n (a fetch racing the seek to the
committed offsets during recovery, a batch dropped on a generation change), and
its commit logic then counts the hole as a gap that needs no ack and commits
past it — a message consumed by nobody. A fault trial lost one upsell that way.

`OffsetGuard.check` is called for every event before it is handled. When an
event's offset is not the one after the last handled on its partition (or,
for the first event after an assignment, not the committed offset), the guard
says so: the agent crashes the worker without acking it, so everything from
the last contiguous offset is consumed again after the restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

TP = tuple[str, int]


class SkippedOffsetError(RuntimeError):
    """An offset was skipped on a topic whose offsets are contiguous."""


class OffsetGuard:
    """Tracks the next expected offset per partition of the topics it guards."""

    def __init__(self, committed: Callable[[TP], int | None]) -> None:
        self._committed = committed  # the consumer's committed offset (next to read), if known
        self._expected: dict[TP, int] = {}

    def check(self, topic: str, partition: int, offset: int) -> SkippedOffsetError | None:
        """None when `offset` is the next one expected (or a re-delivery); else the error."""
        tp = (topic, partition)
        expected = self._expected.get(tp)
        if expected is None:
            expected = self._committed(tp)
        if expected is not None and offset > expected:
            return SkippedOffsetError(
                f"{topic}[{partition}]: got offset {offset} but offset {expected} was never "
                "handled; stopping without acking so it is consumed again after a restart"
            )
        # offset < expected: a re-delivery (the consumer sought back); handling it again is
        # idempotent, and the partition continues from there.
        self._expected[tp] = offset + 1
        return None

    def forget(self, partitions: Any) -> None:
        """Partitions revoked or reassigned: their next offsets are the committed ones again."""
        for tp in partitions:
            self._expected.pop((tp.topic, tp.partition), None)


def committed_offsets_of(app: Any) -> Callable[[TP], int | None]:
    """The committed offsets faust's consumer sought to (None before it knows one)."""

    def committed(tp: TP) -> int | None:
        # faust keys it by its TP named tuple, which hashes and compares as a plain tuple.
        offsets = getattr(getattr(app, "consumer", None), "_committed_offset", None)
        offset = offsets.get(tp) if offsets else None
        return int(offset) if offset is not None else None

    return committed
