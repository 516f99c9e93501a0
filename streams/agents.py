"""The three agents and the timer: thin shells around `streams.pipeline` and `domain.ledger`.

Every agent catches everything per message (faust acks and skips an event
whose agent raised, #315), leaves its sends' futures for an `OrderedAcker`
(streams/acks.py: the event is acked only when they all succeeded), and
reassigns table values (a mutation alone never reaches the changelog).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.events import TransferReceived
from domain.idempotency import Seen, classify
from domain.ledger import (
    AssetLedger,
    current_snapshot,
    expire,
    new_ledger,
    next_boundary,
    pending_deadline,
    receive,
    refresh,
)
from domain.ledger_types import DeadLetter, Delivery, Source, Step
from domain.reasons import ReasonCode
from domain.snapshot_types import AssetSnapshot
from schemas.outputs import dead_letter_to_dict, snapshot_to_dict
from schemas.state_codec import decode_state, encode_state
from streams import metrics
from streams.clock import Clock
from streams.pipeline import Rejection, dead_letter_for_rejection, decode_message, deliveries_for

log = logging.getLogger(__name__)

# How many recent dead letters and transfers an asset keeps, to re-send them when a crash
# replays commands (commits lag processing by seconds, so a few suffice).
RECENT_OUTPUTS = 20
# Decoded asset records kept in memory (each with the bytes it was decoded from).
DECODED_CACHE_SIZE = 20_000


def _text(key: Any) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


@dataclass
class AssetRecord:
    """What the `assets` table holds per asset: the ledger plus crash-replay bookkeeping."""

    last_offset: int
    ledger: AssetLedger
    # What recent commands sent besides the snapshot, by command offset: a replayed command
    # re-sends them, since its first run may have stored the state but lost the sends.
    recent_dead_letters: tuple[tuple[int, DeadLetter], ...] = ()
    recent_transfers: tuple[tuple[int, TransferReceived], ...] = ()

    def encode(self) -> bytes:
        return encode_state(
            (self.last_offset, self.ledger, self.recent_dead_letters, self.recent_transfers)
        )

    @classmethod
    def decode(cls, raw: bytes) -> AssetRecord:
        return cls(*decode_state(raw))


@dataclass
class Agents:
    """The processing logic, given its topics, tables and clock (built by streams.app)."""

    app: Any  # the faust.App: crashed (not acked) when a send fails
    topics: Any  # streams.app.Topics
    asset_table: Any
    fingerprint_table: Any
    clock: Clock
    grace: Any
    wake_index: dict[bytes, tuple[datetime | None, date | None]] = field(default_factory=dict)
    # Sends not yet acknowledged, per task: the agents share this object and run concurrently.
    in_flight: dict[asyncio.Task[Any] | None, list[Any]] = field(default_factory=dict)
    decoded: dict[bytes, tuple[bytes, AssetRecord]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for table in (self.asset_table, self.fingerprint_table):
            _track_changelog(table, self.pending)

    def pending(self) -> list[Any]:
        """The calling task's unacknowledged sends."""
        return self.in_flight.setdefault(asyncio.current_task(), [])

    async def send(self, topic: Any, key: bytes | None, value: bytes | None) -> None:
        """Start a send; the event is acked only after it is acknowledged (see streams.acks)."""
        future = await topic.send(key=key, value=value)
        self.pending().append(future)

    def take_pending(self) -> list[Any]:
        """The calling task's sends so far (for an OrderedAcker); the task starts afresh."""
        return self.in_flight.pop(asyncio.current_task(), [])

    # --- 1. intake: decode, early rejections, re-key by event id ---------------------------

    async def intake(self, event: Any) -> None:
        message = event.message
        raw: bytes = message.value if message.value is not None else b""
        source = Source.from_bytes(
            message.topic, message.partition, message.offset, _text(message.key), raw
        )
        try:
            decoded = decode_message(message.value, source)
            if isinstance(decoded, Rejection):
                letter = dead_letter_for_rejection(decoded, source, self.clock.now())
                await self.dead_letter(message.key, letter)
                return
            # Commands are encoded once here; dedupe forwards them as they are.
            commands = [
                [delivery.event.asset_id, encode_state(("deliver", delivery)).decode()]
                for delivery in deliveries_for(decoded, source, self.clock.now())
            ]
            value = json.dumps({"fingerprint": decoded.fingerprint, "commands": commands})
            await self.send(self.topics.by_event, decoded.event_id.encode(), value.encode())
        except Exception:  # an agent must never raise (faust #315)
            await self.internal_error("intake", message.key, source)

    # --- 2. dedupe: one fingerprint per event id; fan out to assets --------------------------

    async def dedupe(self, event: Any) -> None:
        message = event.message
        try:
            document = json.loads(message.value)
            fingerprint: str = document["fingerprint"]
            commands: list[list[str]] = document["commands"]
            key = message.key
            # The table is raw bytes: RocksDB gives back bytes (memory:// would hand back
            # whatever was stored), so compare text with text.
            stored = self.fingerprint_table.get(key)
            previous = stored.decode() if isinstance(stored, bytes) else stored
            seen = classify(previous, fingerprint)
            if seen is Seen.CONFLICT:
                first: Delivery = decode_state(commands[0][1].encode())[1]
                letter = DeadLetter(
                    event_id=_text(key),
                    reason_code=ReasonCode.DUPLICATE_CONFLICT,
                    reason=f"event id {_text(key)!r} was seen before with different content",
                    source=first.source,
                    dead_lettered_at=self.clock.now(),
                )
                await self.dead_letter(_source_key(letter), letter)
                return
            if seen is Seen.NEW:
                self.fingerprint_table[key] = fingerprint.encode()
            for asset_id, command in commands:
                await self.send(self.topics.commands, asset_id.encode(), command.encode())
        except Exception:
            await self.internal_error("dedupe", message.key, None)

    # --- 3. fold: the per-asset ledger --------------------------------------------------------

    async def fold(self, event: Any) -> None:
        message = event.message
        key: bytes = message.key
        started = time.perf_counter()
        try:
            record = self.load(key)
            if message.offset <= record.last_offset:
                await self.republish(key, record, message.offset)
                return
            command = decode_state(message.value)
            step = self.apply(record.ledger, command)
            ledger = step.ledger
            if not isinstance(ledger, AssetLedger):
                raise TypeError(f"the ledger step returned {type(ledger).__name__}")
            offset = message.offset
            letters = tuple((offset, letter) for letter in step.dead_letters)
            transfers = tuple((offset, transfer) for transfer in step.transfers)
            self.store(key, AssetRecord(
                offset,
                ledger,
                (*record.recent_dead_letters, *letters)[-RECENT_OUTPUTS:],
                (*record.recent_transfers, *transfers)[-RECENT_OUTPUTS:],
            ))  # fmt: skip
            await self.emit(key, step)
            self.remember_wake_up(key, ledger)
        except Exception:
            await self.internal_error("fold", key, _command_source(message.value))
        metrics.LATENCY.observe(time.perf_counter() - started)

    def load(self, key: bytes) -> AssetRecord:
        """The asset's record; decoded only when the table holds other bytes than we wrote.

        Decoding a ledger costs more than folding an event, so the last record written per
        key is kept with its bytes; after a restart, recovery or rebalance the stored bytes
        differ (or are new) and the table's copy wins.
        """
        stored = self.asset_table.get(key)
        if stored is None:
            self.decoded.pop(key, None)
            return AssetRecord(-1, new_ledger(key.decode()))
        cached = self.decoded.get(key)
        if cached is not None and cached[0] == stored:
            return cached[1]
        record = AssetRecord.decode(stored)
        self.decoded[key] = (stored, record)
        return record

    def store(self, key: bytes, record: AssetRecord) -> None:
        raw = record.encode()
        self.asset_table[key] = raw  # reassign: only a set reaches the changelog
        self.decoded[key] = (raw, record)
        if len(self.decoded) > DECODED_CACHE_SIZE:
            self.decoded.pop(next(iter(self.decoded)))  # oldest insertion first

    def apply(self, ledger: AssetLedger, command: tuple[Any, ...]) -> Step:
        as_of, now = self.clock.today(), self.clock.now()
        if command[0] == "deliver":
            step = receive(ledger, command[1], as_of=as_of, now=now)
            if step.outcome is not None and command[1].source is not None:
                metrics.count(step.outcome.value)
            return step
        # "tick": grace periods, then the clock's boundaries.
        expired = expire(ledger, as_of=as_of, now=now, grace=self.grace)
        for letter in expired.dead_letters:
            metrics.count("dead_lettered", letter.reason_code.value)
        if not isinstance(expired.ledger, AssetLedger):
            raise TypeError(f"expire returned {type(expired.ledger).__name__}")
        if expired.snapshot is not None or expired.retracted or expired.transfers:
            return expired
        refreshed = refresh(expired.ledger, as_of=as_of)
        return Step(refreshed.ledger, None, refreshed.snapshot, expired.dead_letters,
                    refreshed.transfers)  # fmt: skip

    async def emit(self, key: bytes, step: Step) -> None:
        snapshot = step.snapshot
        if snapshot is not None:
            await self.publish(key, snapshot)
            metrics.SNAPSHOTS.inc()
        if step.retracted:
            await self.send(self.topics.snapshots, key, None)
            metrics.TOMBSTONES.inc()
        for letter in step.dead_letters:
            await self.dead_letter(_source_key(letter), letter, count=False)
        for target in step.transfers:
            await self.transfer(target)

    async def transfer(self, target: TransferReceived) -> None:
        """The target side of a transfer goes to its asset through the keyed command topic."""
        fingerprint = f"transfer:{target.event_id}:{target.source_revision}"
        delivery = Delivery(target, fingerprint, None, self.clock.now())
        await self.command(target.asset_id, ("deliver", delivery))

    async def republish(self, key: bytes, record: AssetRecord, offset: int) -> None:
        """A replayed command (crash before commit): re-send what it may have failed to send.

        The state is written again too: a local RocksDB store keeps writes whose changelog
        records were lost in the crash. Targets ignore a transfer revision they already hold.
        """
        metrics.count("duplicate", "replayed")
        self.store(key, record)
        snapshot = current_snapshot(record.ledger)
        if snapshot is not None:
            await self.publish(key, snapshot)
        for letter_offset, letter in record.recent_dead_letters:
            if letter_offset >= offset:
                await self.dead_letter(_source_key(letter), letter, count=False)
        for transfer_offset, transfer in record.recent_transfers:
            if transfer_offset >= offset:
                await self.transfer(transfer)

    # --- timer ----------------------------------------------------------------------------------

    def remember_wake_up(self, key: bytes, ledger: AssetLedger) -> None:
        deadline = pending_deadline(ledger, self.grace)
        boundary = next_boundary(ledger)
        if deadline is None and boundary is None:
            self.wake_index.pop(key, None)
        else:
            self.wake_index[key] = (deadline, boundary)

    async def rebuild_wake_index(self) -> None:
        """After a restart or rebalance the index is empty: rebuild it from the local table.

        Rows decoded by the fold are reused; the loop yields now and then so the agents
        keep running while a large table is scanned.
        """
        for number, (key, stored) in enumerate(list(self.asset_table.items())):
            if number % 200 == 199:
                await asyncio.sleep(0)
            try:
                cached = self.decoded.get(key)
                record = cached[1] if cached and cached[0] == stored else AssetRecord.decode(stored)
                self.remember_wake_up(key, record.ledger)
            except Exception:  # one bad row must not stop the timer
                log.exception("cannot read asset %r from the table", key)

    async def tick(self) -> int:
        """Send a tick command to every asset whose grace ended or boundary passed."""
        today, now = self.clock.today(), self.clock.now()
        due = [
            key
            for key, (deadline, boundary) in self.wake_index.items()
            if (deadline is not None and deadline <= now)
            or (boundary is not None and boundary <= today)
        ]
        for key in due:
            del self.wake_index[key]  # the fold agent re-adds it after the tick
            await self.send(self.topics.commands, key, encode_state(("tick",)))
        # A failed tick is logged by the timer; the index rebuild wakes the asset again.
        await asyncio.gather(*self.take_pending())
        return len(due)

    # --- outputs ----------------------------------------------------------------------------

    async def publish(self, key: bytes, snapshot: AssetSnapshot) -> None:
        await self.send(self.topics.snapshots, key, json.dumps(snapshot_to_dict(snapshot)).encode())

    async def command(self, asset_id: str, command: tuple[Any, ...]) -> None:
        await self.send(self.topics.commands, asset_id.encode(), encode_state(command))

    async def dead_letter(self, key: bytes | None, letter: DeadLetter, count: bool = True) -> None:
        await self.send(
            self.topics.deadletter, key, json.dumps(dead_letter_to_dict(letter)).encode()
        )
        if count:
            metrics.count("dead_lettered", letter.reason_code.value)

    async def internal_error(self, agent: str, key: Any, source: Source | None) -> None:
        log.exception("%s failed on a message (key %r); dead-lettering it", agent, key)
        metrics.INTERNAL_ERRORS.labels(agent=agent).inc()
        letter = DeadLetter(
            event_id=None,
            reason_code=ReasonCode.INTERNAL_ERROR,
            reason=f"the {agent} agent failed on this message; see the worker log",
            source=source,
            dead_lettered_at=self.clock.now(),
        )
        try:
            await self.dead_letter(key if isinstance(key, bytes) else None, letter)
        except Exception:  # even the dead-letter send failing must not raise
            log.exception("could not dead-letter after an internal error")


def _source_key(letter: DeadLetter) -> bytes | None:
    """A dead letter is keyed like the message it stands for."""
    key = letter.source.key if letter.source else None
    return key.encode() if key else None


def _command_source(raw: bytes | None) -> Source | None:
    try:
        command = decode_state(raw or b"")
        delivery = command[1] if command and command[0] == "deliver" else None
        return delivery.source if isinstance(delivery, Delivery) else None
    except Exception:
        return None


def _track_changelog(table: Any, pending: Callable[[], list[Any]]) -> None:
    """Count a table's changelog writes among the writing task's sends.

    faust hands changelog records to a buffer that its pre-commit flush drains only on a
    best-effort basis (it gives up after 0.1 s without progress), so an offset could be
    committed before the state it produced reached the changelog. Keeping each record's
    future with the writing task's sends closes that gap: an event is acked only once its
    state is stored.
    """
    send_changelog = table.send_changelog

    def tracked(*args: Any, **kwargs: Any) -> Any:
        future = send_changelog(*args, **kwargs)
        pending().append(future)
        return future

    table.send_changelog = tracked
