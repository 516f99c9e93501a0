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
the rows that changed are encoded again. Account records (SPEC §10) are
published the same way (`AccountPublisher`), each currency's part rendered
again only when it changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import msgspec

from domain.accounts import AccountBook, record_to_dict
from domain.accounts import AccountRecord as AccountRecordView
from domain.accounts import render as render_account
from domain.ledger import AssetLedger
from schemas.snapshot_render import SnapshotRenderer
from service.accounts import AccountRecord
from streams import metrics

State = TypeVar("State")

log = logging.getLogger(__name__)

# Renderers kept (each holds the encoded rows of one asset's last snapshot).
RENDERER_CACHE_SIZE = 5_000

# (key, value or None for a tombstone) -> a future of the broker's acknowledgement
SendFn = Callable[[bytes, bytes | None], Awaitable[Awaitable[Any]]]


# After an asset's snapshot is sent: what else to send with it (its account change), if any.
AlsoFn = Callable[[bytes, AssetLedger], Awaitable[Awaitable[Any] | None]]


class WindowPublisher(Generic[State]):
    """Keeps the latest state per key within a window and publishes each key once."""

    def __init__(self, *, window: float) -> None:
        self._window = window
        self._dirty: dict[bytes, State] = {}
        self._done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def publish(self, key: bytes, state: State) -> asyncio.Future[None]:
        """Publish this key's latest state when the window closes; the future completes once
        the broker has acknowledged it."""
        self._dirty[key] = state
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
            acknowledgements = []
            for key, state in dirty.items():
                acknowledgements.extend(await self._send_one(key, state))
        except BaseException as exc:
            done.set_exception(exc)
            raise
        _settle_all(acknowledgements, done)

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

    async def _send_one(self, key: bytes, state: State) -> list[Awaitable[Any]]:
        raise NotImplementedError


class SnapshotPublisher(WindowPublisher[AssetLedger]):
    """Asset snapshots, rendered incrementally; `also` sends what goes with each (its account
    change), acknowledged with the window."""

    def __init__(self, send: SendFn, *, window: float, limit: int,
                 also: AlsoFn | None = None) -> None:  # fmt: skip
        super().__init__(window=window)
        self._send = send
        self._limit = limit
        self._also = also
        self._renderers: OrderedDict[bytes, SnapshotRenderer] = OrderedDict()

    async def _send_one(self, key: bytes, ledger: AssetLedger) -> list[Awaitable[Any]]:
        sent = await self._send_snapshot(key, ledger)
        extra = await self._also(key, ledger) if self._also is not None else None
        return [a for a in (sent, extra) if a is not None]

    async def _send_snapshot(self, key: bytes, ledger: AssetLedger) -> Awaitable[Any] | None:
        if not ledger.exists:
            if ledger.version == 0:
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


class AccountPublisher(WindowPublisher[AccountRecord]):
    """Account records (SPEC §10): rendered from the book at the record's as-of; a tombstone
    for an account left without assets."""

    def __init__(self, send: SendFn, *, window: float) -> None:
        super().__init__(window=window)
        self._send = send
        self._rendered: OrderedDict[bytes, tuple[AccountBook, AccountRecordView | None]] = (
            OrderedDict()
        )

    async def _send_one(self, key: bytes, account: AccountRecord) -> list[Awaitable[Any]]:
        as_of = account.as_of
        if as_of is None:
            return []
        previous = self._rendered.pop(key, None)
        view = render_account(account.book, as_of, previous)
        self._rendered[key] = (account.book, view)
        if len(self._rendered) > RENDERER_CACHE_SIZE:
            self._rendered.popitem(last=False)
        if view is None:
            return [await self._send(key, None)]
        value = msgspec.json.encode(record_to_dict(view, account.version))
        return [await self._send(key, value)]


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
