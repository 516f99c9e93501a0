"""The agents and the timer: they translate Kafka messages to commands and effects to sends.

Four agents around the service layer (`service/`):

- **intake** (input topics): decode; early rejections are dead-lettered; each
  asset's `Deliver` goes to `assets.commands` and the message's `Claim` to
  `assets.by-event`, both batched per partition (streams.batching).
- **registry** (`assets.by-event`, keyed by event id): rules on conflicts
  (service.registry), stores the first fingerprint per id, dead-letters the
  loser and sends `Revoke`s to its assets.
- **fold** (`assets.commands`, keyed by asset id): applies each command to the
  asset's record (service.assets) in the asset table (streams.asset_store),
  publishes snapshots through the coalescing publisher, sends transfer
  revisions and dead letters; with each snapshot, what the asset now adds to
  its account goes to `assets.account-changes`.
- **accounts** (`assets.account-changes`, keyed by account id, SPEC §10):
  applies each asset's change and the timer's ticks to the account's record
  (service.accounts) in the account table (streams.account_store) and
  publishes `accounts.mrr` through the coalescing `AccountPublisher`.

So an amendment takes two hops (input → commands → fold); its claim travels
beside it. Every agent catches everything per message (faust acks and skips an
event whose agent raised, #315) and leaves the futures of everything the
message caused — sends, batches, changelog writes, the snapshot window — for
an `OrderedAcker` (streams.acks): an event is acked only when all succeeded.
Table rows are written through `streams.changelog.ChangelogWriter`, whose futures
are the changelog records' acknowledgements.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError

from domain.ledger import AssetLedger, next_boundary, pending_deadline
from domain.ledger_types import DeadLetter, Outcome, Source
from domain.reasons import ReasonCode
from schemas.outputs import dead_letter_json
from service import assets
from service.accounts import AccountRecord, contribution_change, handle_account
from service.accounts import next_boundary as next_account_boundary
from service.intake import intake
from service.messages import (
    AccountChange,
    AccountTick,
    AssetCommand,
    Claim,
    Command,
    Deliver,
    Effect,
    Publish,
    PublishAccount,
    Retract,
    Revoke,
    Tick,
)
from service.registry import rule
from streams import metrics
from streams.account_store import AccountStore, is_account_head_key
from streams.asset_store import AssetStore
from streams.batching import CommandBatcher
from streams.changelog import ChangelogWriter
from streams.clock import Clock
from streams.ops.pending import PendingTracker
from streams.publishing import AccountPublisher, SnapshotPublisher
from streams.records import RecordError, decode_commands, is_head_key

log = logging.getLogger(__name__)

# Kafka's default broker limit (message.max.bytes) less headroom: what a dead letter is
# cut down to when a topic created by someone else refuses a larger one.
FALLBACK_MESSAGE_BYTES = 900_000
ACCOUNT_SHARE_CACHE = 100_000


def _too_large(exc: BaseException) -> bool:
    """The client or the broker refused a message as too large (faust wraps the former)."""
    return isinstance(exc, MessageSizeTooLargeError) or isinstance(
        exc.__cause__, MessageSizeTooLargeError
    )


def _text(key: Any) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


@dataclass
class TopicNames:
    """The full names (prefixed) of the topics the agents send to, from streams.topics."""

    commands: str
    by_event: str
    snapshots: str
    deadletter: str
    account_changes: str
    accounts: str


@dataclass
class Agents:
    """The processing logic, given its topics, tables, clock and producer (built by streams.app)."""

    app: Any  # the faust.App: its producer sends, and a failed send crashes it
    topics: TopicNames
    asset_table: Any
    registry_table: Any
    account_table: Any
    clock: Clock
    grace: timedelta
    partitions: dict[str, int]
    publish_window: float
    max_message_bytes: int
    max_snapshot_bytes: int
    wake_index: dict[bytes, tuple[datetime | None, date | None]] = field(default_factory=dict)
    account_wake: dict[bytes, date] = field(default_factory=dict)
    # What each recently published asset last sent its account (an unchanged one is not sent).
    account_shares: dict[bytes, tuple[str, object]] = field(default_factory=dict)
    # Sends not yet acknowledged, per task: the agents share this object and run concurrently.
    in_flight: dict[asyncio.Task[Any] | None, list[Any]] = field(default_factory=dict)
    pending_gauges: PendingTracker = field(default_factory=PendingTracker)
    store: AssetStore = field(init=False)
    batcher: CommandBatcher = field(init=False)
    publisher: SnapshotPublisher = field(init=False)

    def __post_init__(self) -> None:
        self.store = AssetStore(self.asset_table)
        self.batcher = CommandBatcher(self._send_batch, self.partitions)
        self.publisher = SnapshotPublisher(
            self._send_snapshot,
            window=self.publish_window,
            limit=self.max_snapshot_bytes,
            also=self._send_account_share,
        )
        self.accounts = AccountStore(self.account_table)
        self.account_publisher = AccountPublisher(self._send_account, window=self.publish_window)
        self.asset_rows = ChangelogWriter(self.app, self.asset_table)
        self.registry_rows = ChangelogWriter(self.app, self.registry_table)
        self.account_rows = ChangelogWriter(self.app, self.account_table)

    # --- bookkeeping of sends -------------------------------------------------------------------

    def pending(self) -> list[Any]:
        """The calling task's unacknowledged sends."""
        return self.in_flight.setdefault(asyncio.current_task(), [])

    def take_pending(self) -> list[Any]:
        """The calling task's sends so far (for an OrderedAcker); the task starts afresh."""
        return self.in_flight.pop(asyncio.current_task(), [])

    async def _produce(self, topic: str, key: bytes | None, value: bytes | None,
                       partition: int | None = None) -> Any:  # fmt: skip
        return await self.app.producer.send(topic, key, value, partition, None, None)

    async def _send_batch(self, topic: str, partition: int, value: bytes) -> Any:
        return await self._produce(topic, None, value, partition)

    async def _send_account(self, key: bytes, value: bytes | None) -> Any:
        return await self._produce(self.topics.accounts, key, value)

    async def _send_account_share(self, key: bytes, ledger: AssetLedger) -> Any:
        """With an asset's snapshot, what it now adds to its account (when that changed)."""
        change = contribution_change(ledger)
        if change is None:
            return None
        share = (change.account_id, change.contribution)
        if self.account_shares.get(key) == share:
            return None
        self.account_shares[key] = share
        if len(self.account_shares) > ACCOUNT_SHARE_CACHE:
            self.account_shares.pop(next(iter(self.account_shares)))
        return await self.batcher.add(self.topics.account_changes, change.account_id.encode(),
                                      change)  # fmt: skip

    async def _send_snapshot(self, key: bytes, value: bytes | None) -> Any:
        sent = await self._produce(self.topics.snapshots, key, value)
        return metrics.snapshot_acknowledged(sent) if value is not None else sent

    # --- 1. intake ------------------------------------------------------------------------------

    async def intake(self, event: Any) -> None:
        message = event.message
        raw: bytes = message.value if message.value is not None else b""
        source = Source.from_bytes(
            message.topic, message.partition, message.offset, _text(message.key), raw
        )
        try:
            result = intake(message.value, source, self.clock.now())
            if result.rejected is not None:
                metrics.count("dead_lettered", result.rejected.reason_code.value)
            await self.carry_out(result.effects)
        except Exception:  # an agent must never raise (faust #315)
            await self.internal_error("intake", message.key, source)

    # --- 2. registry ----------------------------------------------------------------------------

    async def registry(self, event: Any) -> None:
        message = event.message
        try:
            commands = decode_commands(message.value)
        except RecordError:
            await self.internal_error("registry", message.key, None)
            return
        for command in commands:
            try:
                if not isinstance(command, Claim):
                    raise RecordError(f"the registry got a {type(command).__name__}")
                key = command.event_id.encode()
                stored = self.registry_table.get(key)
                previous = stored.decode() if isinstance(stored, bytes) else stored
                ruling = rule(previous, command)
                if ruling.seen.value != "conflict":
                    # New: store it. Seen: store it again, since a local store may hold a
                    # write whose changelog record a crash lost.
                    stored_row = await self.registry_rows.set(
                        key, ruling.winner.encode(), message.partition
                    )
                    self.pending().append(stored_row)
                else:
                    metrics.count("dead_lettered", ReasonCode.DUPLICATE_CONFLICT.value)
                await self.carry_out(ruling.effects)
            except Exception:
                source = command.source if isinstance(command, Claim) else None
                await self.internal_error("registry", message.key, source)

    # --- 3. fold --------------------------------------------------------------------------------

    async def fold(self, event: Any) -> None:
        message = event.message
        try:
            commands = decode_commands(message.value)
        except RecordError:
            await self.internal_error("fold", message.key, None)
            return
        for index, command in enumerate(commands):
            started = time.perf_counter()
            try:
                if isinstance(command, Claim | AccountChange | AccountTick):
                    raise RecordError(f"the fold got a {type(command).__name__}")
                await self.apply(command, (message.offset, index), message.partition)
            except Exception:
                source = command.delivery.source if isinstance(command, Deliver) else None
                asset_id = getattr(command, "asset_id", None)
                key = asset_id.encode() if isinstance(asset_id, str) else None
                await self.internal_error("fold", key, source)
            metrics.LATENCY.observe(time.perf_counter() - started)
            if self.publisher.immediate:  # a window of 0: after every command, not every batch
                await self.publisher.close_window()

    async def apply(self, command: AssetCommand, position: assets.Position, partition: int) -> None:
        """One command for one asset: load, handle, store, then carry out its effects."""
        key = command.asset_id.encode()
        record = self.store.load(key)
        handled = assets.handle(record, command, position=position, as_of=self.clock.today(),
                                now=self.clock.now(), grace=self.grace)  # fmt: skip
        for row_key, row in self.store.save(key, handled.record, handled.written):
            self.pending().append(await self.asset_rows.set(row_key, row, partition))
        ledger = handled.record.ledger
        if handled.outcome is not None and handled.outcome is not Outcome.HELD:
            metrics.count(handled.outcome.value, "replayed" if handled.replayed else "")
        for letter in handled.dead_lettered:
            metrics.count("dead_lettered", letter.reason_code.value)
        await self.carry_out(handled.effects, ledger)
        self.remember_wake_up(key, ledger)

    # --- 4. accounts ------------------------------------------------------------------------------

    async def account(self, event: Any) -> None:
        """Changes from assets (and ticks) for the accounts on this partition (SPEC §10)."""
        message = event.message
        try:
            commands = decode_commands(message.value)
        except RecordError:
            await self.internal_error("accounts", message.key, None)
            return
        for index, command in enumerate(commands):
            try:
                if not isinstance(command, AccountChange | AccountTick):
                    raise RecordError(f"the account agent got a {type(command).__name__}")
                key = command.account_id.encode()
                record = self.accounts.load(key)
                handled = handle_account(record, command, position=(message.offset, index),
                                         as_of=self.clock.today())  # fmt: skip
                for row_key, row in self.accounts.save(key, handled.record,
                                                       handled.changed_asset):  # fmt: skip
                    self.pending().append(
                        await self.account_rows.set(row_key, row, message.partition)
                    )
                if handled.effects:
                    self.pending().append(self.account_publisher.publish(key, handled.record))
                self._remember_account(key, handled.record)
            except Exception:
                await self.internal_error("accounts", message.key, None)
            if self.account_publisher.immediate:
                await self.account_publisher.close_window()

    def _remember_account(self, key: bytes, record: AccountRecord) -> None:
        boundary = next_account_boundary(record)
        if boundary is None:
            self.account_wake.pop(key, None)
        else:
            self.account_wake[key] = boundary

    # --- effects --------------------------------------------------------------------------------

    async def carry_out(
        self, effects: tuple[Effect, ...], ledger: AssetLedger | None = None
    ) -> None:
        for effect in effects:
            if isinstance(effect, Publish | Retract):
                if ledger is None:  # pragma: no cover - only the fold publishes
                    raise RuntimeError("a publication without the asset's ledger")
                self.pending().append(self.publisher.publish(effect.asset_id.encode(), ledger))
            elif isinstance(effect, DeadLetter):
                await self.dead_letter(effect)
            elif isinstance(effect, Claim):
                await self.command(self.topics.by_event, effect.event_id.encode(), effect)
            elif isinstance(effect, AccountChange | AccountTick):
                key = effect.account_id.encode()
                await self.command(self.topics.account_changes, key, effect)
            elif isinstance(effect, PublishAccount):  # pragma: no cover - only the account agent
                raise RuntimeError("an account publication outside the account agent")
            else:
                await self.command(self.topics.commands, effect.asset_id.encode(), effect)

    async def command(self, topic: str, key: bytes, command: Command) -> None:
        self.pending().append(await self.batcher.add(topic, key, command))

    async def dead_letter(self, letter: DeadLetter) -> None:
        """Send a dead letter keyed like its message; cut down rather than lost (SPEC §4.6)."""
        key = letter.source.key.encode() if letter.source and letter.source.key else None
        value = dead_letter_json(letter, self.max_message_bytes - 1024)
        self.pending().append(asyncio.ensure_future(self._send_dead_letter(key, letter, value)))

    async def _send_dead_letter(self, key: bytes | None, letter: DeadLetter, value: bytes) -> None:
        try:
            await (await self._produce(self.topics.deadletter, key, value))
        except Exception as exc:
            if not _too_large(exc):
                raise
            # The topic (or the broker) takes less than we were told: cut it down to what any
            # Kafka takes by default, and send that.
            log.warning("dead letter of %d bytes refused as too large; sending it cut down",
                        len(value))  # fmt: skip
            smaller = dead_letter_json(letter, FALLBACK_MESSAGE_BYTES)
            await (await self._produce(self.topics.deadletter, key, smaller))

    async def internal_error(self, agent: str, key: Any, source: Source | None) -> None:
        log.exception("%s failed on a message (key %r); dead-lettering it", agent, key)
        metrics.INTERNAL_ERRORS.labels(agent=agent).inc()
        metrics.count("dead_lettered", ReasonCode.INTERNAL_ERROR.value)
        letter = DeadLetter(
            event_id=None,
            reason_code=ReasonCode.INTERNAL_ERROR,
            reason=f"the {agent} agent failed on this message; see the worker log",
            source=source,
            dead_lettered_at=self.clock.now(),
        )
        await self.dead_letter(letter)

    # --- timer ----------------------------------------------------------------------------------

    def remember_wake_up(self, key: bytes, ledger: AssetLedger) -> None:
        self.pending_gauges.observe(key, (c.since for c in ledger.pending_since))
        deadline = pending_deadline(ledger, self.grace)
        boundary = next_boundary(ledger)
        if deadline is None and boundary is None:
            self.wake_index.pop(key, None)
        else:
            self.wake_index[key] = (deadline, boundary)

    async def rebuild_wake_index(self) -> None:
        """After a restart or rebalance the index is empty: rebuild it from the local table.

        Only head rows are read; records cached by the fold are re-used; the loop yields
        now and then so the agents keep running while a large table is scanned.
        """
        self.pending_gauges.clear()  # the assignment changed
        for number, key in enumerate(list(self.asset_table.keys())):
            if number % 200 == 199:
                await asyncio.sleep(0)
            if not is_head_key(key):
                continue
            try:
                record = self.store.cached(key) or self.store.load(key)
                self.remember_wake_up(key, record.ledger)
            except Exception:  # one bad row must not stop the timer
                log.exception("cannot read asset %r from the table", key)

    async def rebuild_account_wake(self) -> None:
        """The account side of `rebuild_wake_index`: each account's next MRR change date."""
        self.account_wake.clear()
        for number, key in enumerate(list(self.account_table.keys())):
            if number % 200 == 199:
                await asyncio.sleep(0)
            if not is_account_head_key(key):
                continue
            try:
                record = self.accounts.cached(key) or self.accounts.load(key)
                self._remember_account(key, record)
            except Exception:  # one bad row must not stop the timer
                log.exception("cannot read account %r from the table", key)

    async def tick(self) -> int:
        """Send a tick to every asset whose grace ended or whose next boundary passed."""
        today, now = self.clock.today(), self.clock.now()
        self.pending_gauges.publish(now)
        due = [
            key
            for key, (deadline, boundary) in list(self.wake_index.items())
            if (deadline is not None and deadline <= now)
            or (boundary is not None and boundary <= today)
        ]
        for key in due:
            # The fold re-adds it after the tick; the fold may also have removed it meanwhile.
            self.wake_index.pop(key, None)
            await self.command(self.topics.commands, key, Tick(key.decode()))
        accounts_due = [key for key, day in list(self.account_wake.items()) if day <= today]
        for key in accounts_due:
            self.account_wake.pop(key, None)
            await self.command(self.topics.account_changes, key, AccountTick(key.decode()))
        await self.batcher.flush()
        # A failed tick is logged by the timer; the index rebuild wakes the asset again.
        await asyncio.gather(*self.take_pending())
        return len(due) + len(accounts_due)


__all__ = ["Agents", "Revoke", "TopicNames"]
