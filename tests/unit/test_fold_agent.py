"""The fold agent with in-memory stand-ins for faust's topics and tables.

Crash replay: a command at or below the asset's stored offset was processed
before a crash that lost its commit: the agent re-sends the current snapshot,
the dead letters and transfers that command produced, and writes the state
again, never re-applying. Ticks: the clock passing a boundary re-publishes; a
pending event past its grace is dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from domain.ledger_types import Source
from schemas.state_codec import decode_state, encode_state
from streams.agents import Agents
from streams.clock import Clock
from streams.pipeline import Decoded, decode_message, deliveries_for

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


class FakeTopic:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[bytes | None, bytes | None]] = []

    async def send(self, *, key: bytes | None, value: bytes | None) -> asyncio.Future[None]:
        self.sent.append((key, value))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class FakeTable(dict[bytes, bytes]):
    def send_changelog(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class FakeTopics:
    orders: FakeTopic
    amendments: FakeTopic
    by_event: FakeTopic
    commands: FakeTopic
    snapshots: FakeTopic
    deadletter: FakeTopic


@dataclass
class Message:
    key: bytes
    value: bytes
    offset: int
    topic: str = "assets.commands"
    partition: int = 0


@dataclass
class Event:
    message: Message


def _agents(as_of: date = date(2026, 6, 1), grace: timedelta = timedelta(hours=24)) -> Agents:
    topics = FakeTopics(*(FakeTopic(n) for n in ("o", "a", "b", "c", "s", "d")))
    return Agents(app=None, topics=topics, asset_table=FakeTable(),
                  fingerprint_table=FakeTable(), clock=Clock(as_of), grace=grace)  # fmt: skip


def _commands(line: bytes) -> list[tuple[bytes, bytes]]:
    source = Source.from_bytes("assets.amendments", 0, 0, None, line)
    decoded = decode_message(line, source)
    assert isinstance(decoded, Decoded)
    now = Clock().now()
    return [
        (d.event.asset_id.encode(), encode_state(("deliver", d)))
        for d in deliveries_for(decoded, source, now)
    ]


def _versions(topic: FakeTopic) -> list[tuple[str, int]]:
    return [(k.decode(), json.loads(v)["version"]) for k, v in topic.sent if k and v]


def test_a_replayed_command_republishes_the_snapshot_instead_of_applying_again() -> None:
    agents = _agents()
    lines = (SCENARIOS / "capricorn-upsell.events.jsonl").read_bytes().splitlines()
    (order,), (upsell,) = _commands(lines[0]), _commands(lines[1])

    async def scenario() -> None:
        await agents.fold(Event(Message(order[0], order[1], offset=0)))
        await agents.fold(Event(Message(upsell[0], upsell[1], offset=1)))
        stored = agents.asset_table[order[0]]
        agents.decoded.clear()  # a restarted worker has only the table
        await agents.fold(Event(Message(order[0], order[1], offset=0)))  # replayed
        assert agents.asset_table[order[0]] == stored

    asyncio.run(scenario())
    assert _versions(agents.topics.snapshots) == [
        ("AST-QBO-CAPRICORN", 1),
        ("AST-QBO-CAPRICORN", 2),
        ("AST-QBO-CAPRICORN", 2),  # the current snapshot again, not a version 3
    ]


def test_a_replayed_transfer_command_sends_the_target_its_units_again() -> None:
    agents = _agents()
    order = _commands((SCENARIOS / "capricorn-initial.events.jsonl").read_bytes().strip())[0]
    transfer = _commands(json.dumps({
        "specversion": "1.0", "id": "evt-move", "source": "t", "type": "asset.transferred",
        "time": "2025-09-01T00:00:00Z",
        "data": {"asset_id": "AST-QBO-CAPRICORN", "effective_date": "2025-10-01",
                 "quantity": "2", "target_account_id": "ACC-OTHER", "target_asset_id": "AST-T"},
    }).encode())[0]  # fmt: skip

    async def scenario() -> None:
        await agents.fold(Event(Message(order[0], order[1], offset=0)))
        await agents.fold(Event(Message(transfer[0], transfer[1], offset=1)))
        await agents.fold(Event(Message(transfer[0], transfer[1], offset=1)))  # replayed

    asyncio.run(scenario())
    targets = [key for key, _ in agents.topics.commands.sent]
    assert targets == [b"AST-T", b"AST-T"]
    first, again = (decode_state(value)[1] for _, value in agents.topics.commands.sent)
    assert (again.event, again.fingerprint) == (first.event, first.fingerprint)


def test_a_tick_after_the_clock_passes_the_start_republishes_the_asset_as_active() -> None:
    agents = _agents(as_of=date(2025, 8, 1))
    (order,) = _commands((SCENARIOS / "capricorn-initial.events.jsonl").read_bytes().strip())
    tick = encode_state(("tick",))

    async def scenario() -> None:
        await agents.fold(Event(Message(order[0], order[1], offset=0)))
        await agents.fold(Event(Message(order[0], tick, offset=1)))  # nothing changed yet
        agents.clock = Clock(date(2025, 8, 10))
        await agents.fold(Event(Message(order[0], tick, offset=2)))

    asyncio.run(scenario())
    published = [json.loads(v) for _, v in agents.topics.snapshots.sent if v]
    assert [(s["version"], s["status"], s["as_of"]) for s in published] == [
        (1, "scheduled", "2025-08-01"),
        (2, "active", "2025-08-10"),
    ]


def test_a_tick_after_the_grace_dead_letters_a_pending_event_with_its_source() -> None:
    agents = _agents(grace=timedelta(0))
    (upsell,) = _commands(
        (SCENARIOS / "capricorn-upsell.events.jsonl").read_bytes().splitlines()[1]
    )

    async def scenario() -> None:
        await agents.fold(Event(Message(upsell[0], upsell[1], offset=0)))  # no asset yet
        await agents.fold(Event(Message(upsell[0], encode_state(("tick",)), offset=1)))

    asyncio.run(scenario())
    (letter,) = [json.loads(v) for _, v in agents.topics.deadletter.sent if v]
    assert (letter["event_id"], letter["reason_code"]) == ("evt-capricorn-0002", "unknown_asset")
    assert letter["source_topic"] == "assets.amendments"
