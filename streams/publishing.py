"""Snapshot publication, coalesced per asset within a short window (SPEC §5).

Publishing a full snapshot per event makes a burst of n events on one asset
write O(n²) bytes downstream. As Kafka Streams' record cache does before a
commit, the publisher keeps the latest state of every asset touched within
`ASSETSTREAM_PUBLISH_WINDOW` and publishes each once when the window closes.
Every event that touched an asset carries the window's future among its
sends, so its offset is committed only after the asset's latest snapshot is
acknowledged: nothing is lost between the table write and the send. Published
versions may then skip numbers (consumers keep the highest). A window of 0
publishes after every event.

Rendering keeps one `SnapshotRenderer` per recently published asset, so only
the rows that changed are encoded again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from domain.ledger import AssetLedger
from schemas.snapshot_render import SnapshotRenderer
from streams import metrics

log = logging.getLogger(__name__)

# Renderers kept (each holds the encoded rows of one asset's last snapshot).
RENDERER_CACHE_SIZE = 5_000

# (key, value or None for a tombstone) -> a future of the broker's acknowledgement
SendFn = Callable[[bytes, bytes | None], Awaitable[Awaitable[Any]]]


class SnapshotPublisher:
    def __init__(self, send: SendFn, *, window: float, limit: int) -> None:
        self._send = send
        self._window = window
        self._limit = limit
        self._dirty: dict[bytes, AssetLedger | None] = {}
        self._done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._renderers: OrderedDict[bytes, SnapshotRenderer] = OrderedDict()

    def publish(self, key: bytes, ledger: AssetLedger) -> asyncio.Future[None]:
        """Publish this asset's latest state (a tombstone when it no longer exists)."""
        self._dirty[key] = ledger
        return self._window_future()

    async def close_window(self) -> None:
        """Publish everything marked so far (called when the window ends, or after each event
        when the window is 0)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dirty, done = self._dirty, self._done
        self._dirty, self._done = {}, None
        if done is None:
            return
        try:
            acknowledgements = [await self._send_one(key, ledger) for key, ledger in dirty.items()]
        except BaseException as exc:
            done.set_exception(exc)
            raise
        _settle_all([a for a in acknowledgements if a is not None], done)

    @property
    def immediate(self) -> bool:
        return self._window <= 0

    def _window_future(self) -> asyncio.Future[None]:
        if self._done is None:
            loop = asyncio.get_running_loop()
            self._done = loop.create_future()
            if self._window > 0:
                self._timer = loop.call_later(self._window, self._close_soon)
        return self._done

    def _close_soon(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self.close_window())
        task.add_done_callback(_log_failure)

    async def _send_one(self, key: bytes, ledger: AssetLedger | None) -> Awaitable[Any] | None:
        if ledger is None or not ledger.exists:
            if ledger is not None and ledger.version == 0:
                return None  # never existed: nothing to retract
            self._renderers.pop(key, None)
            metrics.TOMBSTONES.inc()
            return await self._send(key, None)
        renderer = self._renderers.pop(key, None) or SnapshotRenderer()
        self._renderers[key] = renderer  # most recently used last
        if len(self._renderers) > RENDERER_CACHE_SIZE:
            self._renderers.popitem(last=False)
        value = renderer.render(ledger, limit=self._limit)
        if value is None:
            return None
        metrics.SNAPSHOTS.inc()
        return await self._send(key, value)


def _settle_all(acknowledgements: list[Awaitable[Any]], done: asyncio.Future[None]) -> None:
    if not acknowledgements:
        done.set_result(None)
        return
    gathered = asyncio.gather(*acknowledgements)

    def settle(f: asyncio.Future[Any]) -> None:
        if f.cancelled():
            done.set_exception(asyncio.CancelledError("snapshot send cancelled"))
        elif f.exception() is not None:
            done.set_exception(f.exception())  # type: ignore[arg-type]
        else:
            done.set_result(None)

    gathered.add_done_callback(settle)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("publishing snapshots failed: %r", task.exception())
