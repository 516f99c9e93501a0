"""The agents with in-memory stand-ins for faust's producer and tables (no broker).

The stand-ins behave like the parts the agents use: the producer returns a
future per record with the offset the broker would give, a table's store
records the offsets persisted by changelog callbacks. Crash replay: a command
at or below the asset's stored position was applied before a crash lost its
commit; the agent re-sends the snapshot and the dead letters and transfers
that command produced, and writes the rows it wrote again — never re-applying.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from domain.ledger_types import Source
from service.intake import intake
from service.messages import Claim, Command, Deliver, Tick
from streams.agents import Agents, TopicNames
from streams.clock import Clock
from streams.records import decode_commands, encode_commands, entry_key

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
COMMANDS, BY_EVENT = "assets.commands", "assets.by-event"
ACCOUNT_CHANGES = "assets.account-changes"


@dataclass
class Metadata:
    topic: str
    partition: int
    offset: int


class FakeProducer:
    """Records every send; each gets a future that is already acknowledged."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []
        self._offsets: dict[tuple[str, int | None], int] = defaultdict(int)

    async def send(self, topic: str, key: bytes | None, value: bytes | None,
                   partition: int | None, timestamp: Any, headers: Any,
                   ) -> asyncio.Future[Any]:  # fmt: skip
        self.sent.append((topic, key, value, partition))
        offset = self._offsets[(topic, partition)]
        self._offsets[(topic, partition)] += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(Metadata(topic, partition or 0, offset))
        return future

    def values(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        return [(k, v) for t, k, v, _ in self.sent if t == topic]


class FakeStore(dict[bytes, bytes]):
    def __init__(self) -> None:
        super().__init__()
        self.persisted: dict[Any, int] = {}

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[tp] = offset


@dataclass
class FakeChangelogTopic:
    name: str

    def get_topic_name(self) -> str:
        return self.name


class FakeTable:
    def __init__(self, name: str) -> None:
        self.data = FakeStore()
        self.changelog_topic = FakeChangelogTopic(f"{name}-changelog")

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def keys(self) -> list[bytes]:
        return list(self.data)


@dataclass
class FakeApp:
    producer: FakeProducer = field(default_factory=FakeProducer)


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass
class Event:
    message: Message


def _agents(app: FakeApp | None = None, tables: tuple[FakeTable, FakeTable] | None = None,
            as_of: date = date(2026, 6, 1), grace: timedelta = timedelta(hours=24),
            accounts: FakeTable | None = None) -> Agents:  # fmt: skip
    asset_table, registry_table = tables or (FakeTable("assets"), FakeTable("registry"))
    return Agents(
        app=app or FakeApp(),
        topics=TopicNames(
            COMMANDS,
            BY_EVENT,
            "assets.snapshots",
            "assets.deadletter",
            ACCOUNT_CHANGES,
            "accounts.mrr",
        ),
        asset_table=asset_table,
        registry_table=registry_table,
        account_table=accounts or FakeTable("accounts"),
        clock=Clock(as_of),
        grace=grace,
        partitions={COMMANDS: 1, BY_EVENT: 1, ACCOUNT_CHANGES: 1},
        publish_window=0.0,
        max_message_bytes=1024 * 1024,
        max_snapshot_bytes=512 * 1024,
    )


def _intake(line: bytes) -> list[Command]:
    """What intake makes of one input line: the asset deliveries, then the claim."""
    return list(intake(line, Source.from_bytes("assets.amendments", 0, 0, None, line), NOW)
                .effects)  # type: ignore[arg-type]  # fmt: skip


def _deliveries(line: bytes) -> list[Command]:
    return [c for c in _intake(line) if isinstance(c, Deliver)]


def _fold(agents: Agents, commands: list[Command], offset: int) -> None:
    message = Message(COMMANDS, 0, offset, None, encode_commands(commands))

    async def run() -> None:
        await agents.fold(Event(message))
        await asyncio.gather(*agents.take_pending())

    asyncio.run(run())


def _snapshots(app: FakeApp) -> list[dict[str, Any]]:
    return [json.loads(v) for _, v in app.producer.values("assets.snapshots") if v]


def _lines(name: str) -> list[bytes]:
    return (SCENARIOS / name).read_bytes().splitlines()


def test_a_replayed_command_republishes_and_rewrites_its_rows_instead_of_applying_again() -> None:
    app, tables = FakeApp(), (FakeTable("assets"), FakeTable("registry"))
    order, upsell = _lines("capricorn-upsell.events.jsonl")
    agents = _agents(app, tables)
    _fold(agents, _deliveries(order), offset=0)
    _fold(agents, _deliveries(upsell), offset=1)
    stored = dict(tables[0].data)
    # A restarted worker has only the table; the broker hands it offset 1 again.
    restarted = _agents(app, tables)
    before = len(app.producer.values("assets-changelog"))
    _fold(restarted, _deliveries(upsell), offset=1)
    assert dict(tables[0].data) == stored  # nothing applied twice
    assert [(s["version"], len(s["actions"])) for s in _snapshots(app)] == [(1, 1), (2, 2), (2, 2)]
    # The rows that command wrote were written again: a local store may hold writes whose
    # changelog records the crash lost.
    rewritten = {k for k, _ in app.producer.values("assets-changelog")[before:]}
    assert rewritten == {b"AST-QBO-CAPRICORN", entry_key(b"AST-QBO-CAPRICORN", 1)}


def test_every_row_is_acknowledged_before_the_event_and_its_offset_persisted() -> None:
    app = FakeApp()
    agents = _agents(app)
    (order,) = _lines("capricorn-initial.events.jsonl")
    message = Message(COMMANDS, 0, 0, None, encode_commands(_deliveries(order)))

    async def run() -> list[Any]:
        await agents.fold(Event(message))
        pending = agents.take_pending()
        # The window waits for the snapshot and the account change sent with it.
        await asyncio.wait_for(asyncio.gather(*pending), timeout=2)
        return pending

    pending = asyncio.run(run())
    changelog = [(k, v) for t, k, v, _ in app.producer.sent if t == "assets-changelog"]
    assert len(changelog) == 2  # the entry row and the head row
    # The acker waits for the two rows and the snapshot window.
    assert len(pending) == 3
    (change,) = [c for _, v in app.producer.values(ACCOUNT_CHANGES) if v
                 for c in decode_commands(v)]  # fmt: skip
    assert (change.account_id, change.asset_id) == ("ACC-CAPRICORN", "AST-QBO-CAPRICORN")  # type: ignore[union-attr]
    assert agents.asset_table.data.persisted == {("assets-changelog", 0): 1}


def test_a_replayed_transfer_command_sends_the_target_its_units_again() -> None:
    app, tables = FakeApp(), (FakeTable("assets"), FakeTable("registry"))
    (order,) = _lines("capricorn-initial.events.jsonl")
    move = json.dumps(
        {
            "specversion": "1.0",
            "id": "evt-move",
            "source": "t",
            "type": "asset.transferred",
            "time": "2025-09-01T00:00:00Z",
            "data": {
                "asset_id": "AST-QBO-CAPRICORN",
                "effective_date": "2025-10-01",
                "quantity": "2",
                "target_account_id": "ACC-OTHER",
                "target_asset_id": "AST-T",
            },
        }
    ).encode()
    agents = _agents(app, tables)
    _fold(agents, _deliveries(order), offset=0)
    _fold(agents, _deliveries(move), offset=1)
    _fold(_agents(app, tables), _deliveries(move), offset=1)  # replayed after a restart
    batches = [decode_commands(v) for k, v in app.producer.values(COMMANDS) if v]
    targets = [c for batch in batches for c in batch if isinstance(c, Deliver)]
    assert [c.asset_id for c in targets] == ["AST-T", "AST-T"]
    assert targets[0].delivery.event == targets[1].delivery.event


def test_the_registry_dead_letters_a_conflict_once_and_revokes_it_on_every_asset() -> None:
    app = FakeApp()
    agents = _agents(app)
    first = _intake(_lines("capricorn-initial.events.jsonl")[0])
    changed = _lines("capricorn-initial.events.jsonl")[0].replace(
        b'"quantity":"5"', b'"quantity":"6"'
    )
    second = _intake(changed)
    claims = [c for c in first + second if isinstance(c, Claim)]
    message = Message(BY_EVENT, 0, 0, b"evt-capricorn-0001", encode_commands(claims))

    async def run() -> None:
        await agents.registry(Event(message))
        await agents.batcher.flush()
        await asyncio.gather(*agents.take_pending())

    asyncio.run(run())
    (letter,) = [json.loads(v) for _, v in app.producer.values("assets.deadletter") if v]
    assert (letter["event_id"], letter["reason_code"]) == (
        "evt-capricorn-0001",
        "duplicate_conflict",
    )
    assert letter["payload"] == changed.decode()
    revokes = [c for _, v in app.producer.values(COMMANDS) if v for c in decode_commands(v)]
    assert [(r.asset_id, r.fingerprint) for r in revokes] == [  # type: ignore[union-attr]
        ("AST-QBO-CAPRICORN", claims[1].fingerprint)
    ]
    assert agents.registry_table.data[b"evt-capricorn-0001"] == claims[0].fingerprint.encode()


def test_a_claim_seen_before_is_stored_again_so_a_lost_changelog_record_comes_back() -> None:
    app = FakeApp()
    agents = _agents(app)
    (claim,) = [c for c in _intake(_lines("capricorn-initial.events.jsonl")[0])
                if isinstance(c, Claim)]  # fmt: skip
    for offset in (0, 1):
        message = Message(BY_EVENT, 0, offset, None, encode_commands([claim]))

        async def run(message: Message = message) -> None:
            await agents.registry(Event(message))
            await asyncio.gather(*agents.take_pending())

        asyncio.run(run())
    assert len(app.producer.values("registry-changelog")) == 2
    assert app.producer.values("assets.deadletter") == []


def test_a_tick_after_the_clock_passes_the_start_republishes_the_asset_as_active() -> None:
    app = FakeApp()
    agents = _agents(app, as_of=date(2025, 8, 1))
    (order,) = _lines("capricorn-initial.events.jsonl")
    _fold(agents, _deliveries(order), offset=0)
    _fold(agents, [Tick("AST-QBO-CAPRICORN")], offset=1)  # nothing changed yet
    agents.clock = Clock(date(2025, 8, 10))
    _fold(agents, [Tick("AST-QBO-CAPRICORN")], offset=2)
    assert [(s["version"], s["status"], s["as_of"]) for s in _snapshots(app)] == [
        (1, "scheduled", "2025-08-01"),
        (2, "active", "2025-08-10"),
    ]


def test_a_tick_after_the_grace_dead_letters_a_pending_event_with_its_source() -> None:
    app = FakeApp()
    agents = _agents(app, grace=timedelta(0))
    upsell = _lines("capricorn-upsell.events.jsonl")[1]
    _fold(agents, _deliveries(upsell), offset=0)  # no asset yet: pending unknown_asset
    _fold(agents, [Tick("AST-QBO-CAPRICORN")], offset=1)
    (letter,) = [json.loads(v) for _, v in app.producer.values("assets.deadletter") if v]
    assert (letter["event_id"], letter["reason_code"]) == ("evt-capricorn-0002", "unknown_asset")
    assert letter["source_topic"] == "assets.amendments"
    assert letter["payload"] == upsell.decode()


def test_one_bad_command_in_a_batch_is_dead_lettered_and_the_others_are_applied() -> None:
    app = FakeApp()
    agents = _agents(app)
    (order,) = _lines("capricorn-initial.events.jsonl")
    good = _deliveries(order)
    bad = Deliver(
        good[0].delivery.__class__(  # an event for an asset the record cannot hold
            event=good[0].delivery.event,
            fingerprint="x" * 64,
            source=good[0].delivery.source,
            received_at=NOW,
        )
    )
    original = agents.store.load

    def failing_load(key: bytes) -> Any:
        if failing_load.calls == 0:  # type: ignore[attr-defined]
            failing_load.calls += 1  # type: ignore[attr-defined]
            raise RuntimeError("a bug")
        return original(key)

    failing_load.calls = 0  # type: ignore[attr-defined]
    agents.store.load = failing_load  # type: ignore[method-assign]
    _fold(agents, [bad, *good], offset=0)
    (letter,) = [json.loads(v) for _, v in app.producer.values("assets.deadletter") if v]
    assert letter["reason_code"] == "internal_error"
    assert letter["payload"] == order.decode()
    assert [s["asset_id"] for s in _snapshots(app)] == ["AST-QBO-CAPRICORN"]
