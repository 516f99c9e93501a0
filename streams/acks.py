"""Ack a stream's events in order, each only once every send it caused is acknowledged.

faust acks an event as soon as the agent asks for the next one, and commits acked
offsets after a flush that does not report failed sends. Waiting for each event's
sends before taking the next one is safe but idles the agent for a broker round
trip per event. Instead the agents iterate `stream.noack()` and hand each event
with its send futures to an `OrderedAcker`: processing goes on while the sends
are in flight, and an offset becomes committable only when its outputs (snapshots,
dead letters, commands, changelog records) are stored. A failed send acks nothing
more and crashes the worker, so the event is processed again after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

# Unacked events per stream before the agent waits for the oldest (bounds memory and the
# work repeated after a crash).
MAX_UNACKED = 1000


class OrderedAcker:
    def __init__(self, stream: Any, crash: Callable[[BaseException], Awaitable[None]]) -> None:
        self.stream = stream
        self._crash = crash
        self._queue: deque[tuple[Any, list[Any]]] = deque()
        self.failed: BaseException | None = None

    async def add(self, event: Any, futures: list[Any]) -> None:
        """Queue `event` behind its sends; ack whatever is ready; wait when too far behind."""
        self._queue.append((event, futures))
        if len(self._queue) > MAX_UNACKED and self._queue[0][1]:
            await asyncio.wait(self._queue[0][1])
        await self.ack_ready()
        if self.failed is not None:
            await asyncio.Event().wait()  # the crash cancels this task; never take more

    async def ack_ready(self) -> None:
        """Ack leading events whose sends all succeeded; stop for good at a failure."""
        queue = self._queue
        while queue and self.failed is None and all(f.done() for f in queue[0][1]):
            event, futures = queue[0]
            error = next((e for e in map(_error, futures) if e is not None), None)
            if error is not None:
                self.failed = error
                log.critical("a send was not acknowledged; stopping so nothing is acked: %r",
                             error)  # fmt: skip
                await self._crash(error)
                return
            queue.popleft()
            await self.stream.ack(event)

    def __len__(self) -> int:
        return len(self._queue)


def _error(future: Any) -> BaseException | None:
    if future.cancelled():
        return asyncio.CancelledError("send cancelled")
    error: BaseException | None = future.exception()
    return error
