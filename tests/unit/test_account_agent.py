"""The account rollup path of the worker (SPEC §10) with in-memory stand-ins (no broker).

Assets are folded by the real fold agent from events made with tests/support
builders; the account changes it sends to `assets.account-changes` are then
handed to the account agent (`Agents.account`: service.accounts.handle_account,
streams.account_store.AccountStore, streams.publishing.AccountPublisher) as the
broker would hand them: once, twice, at new offsets (an echo: a copy re-sent
after the asset side's crash replay) or at an offset already applied (the
account agent's own crash replay). What comes out is read where a consumer
reads it: the `accounts.mrr` records and the `accounts` changelog rows.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import date
from typing import Any

import msgspec

from domain.accounts import contribution_from_fold
from domain.ledger import new_ledger, receive
from service.messages import AccountChange, AccountTick, Command, Deliver
from streams.agents import Agents
from streams.clock import Clock
from streams.records import (
    account_index_key,
    account_share_key,
    decode_account_head,
    decode_commands,
    encode_commands,
)
from tests.support.builders import T0, changed, created, d, delivery, transferred, voided
from tests.unit.test_agents import (
    ACCOUNT_CHANGES,
    COMMANDS,
    Event,
    FakeApp,
    FakeTable,
    Message,
    _agents,
)

ACCOUNTS, ACCOUNT_ROWS = "accounts.mrr", "accounts-changelog"


class Worker:
    """One worker's agents on a fake producer and tables, with offsets counted per topic."""

    def __init__(self, as_of: date = date(2025, 9, 1), app: FakeApp | None = None,
                 accounts: FakeTable | None = None) -> None:  # fmt: skip
        self.app = app or FakeApp()
        self.accounts = accounts or FakeTable("accounts")
        self.agents: Agents = _agents(self.app, as_of=as_of, accounts=self.accounts)
        self._fold_offset = 0
        self._commands_read = 0
        self._changes_read = 0
        self.next_offset = 0  # of the account-changes partition

    def restarted(self) -> Worker:
        """A new worker on the same account table (its caches and publisher start empty)."""
        worker = Worker(self.agents.clock.today(), self.app, self.accounts)
        worker._changes_read, worker.next_offset = self._changes_read, self.next_offset
        return worker

    def fold(self, *commands: Command) -> None:
        """Fold the commands, then the commands they sent to other assets (transfers)."""
        self._fold([*commands])
        while True:
            sent = [v for _, v in self.app.producer.values(COMMANDS) if v]
            fresh, self._commands_read = sent[self._commands_read :], len(sent)
            if not fresh:
                return
            for value in fresh:
                self._fold(decode_commands(value))

    def _fold(self, commands: list[Command]) -> None:
        message = Message(COMMANDS, 0, self._fold_offset, None, encode_commands(commands))
        self._fold_offset += 1

        async def run() -> None:
            await self.agents.fold(Event(message))
            await self.agents.batcher.flush()
            await asyncio.gather(*self.agents.take_pending())

        asyncio.run(run())

    def new_account_changes(self) -> list[bytes]:
        """The batches sent to the account-changes topic since the last call."""
        sent = [v for _, v in self.app.producer.values(ACCOUNT_CHANGES) if v]
        fresh, self._changes_read = sent[self._changes_read :], len(sent)
        return fresh

    def account(self, batch: bytes | list[Command], offset: int | None = None,
                ) -> list[tuple[bytes, bytes]]:  # fmt: skip
        """Hand one account-changes message to the account agent (at the next offset unless
        told); the rows it wrote."""
        if offset is None:
            offset = self.next_offset
        self.next_offset = max(self.next_offset, offset + 1)
        value = batch if isinstance(batch, bytes) else encode_commands(batch)
        before = len(self.app.producer.values(ACCOUNT_ROWS))

        async def run() -> None:
            await self.agents.account(Event(Message(ACCOUNT_CHANGES, 0, offset, None, value)))
            await asyncio.gather(*self.agents.take_pending())

        asyncio.run(run())
        assert self.app.producer.values("assets.deadletter") == []  # the agent never failed
        return [(k, v) for k, v in self.app.producer.values(ACCOUNT_ROWS)[before:] if k and v]

    def tick(self, on: date) -> None:
        """Move the clock and run the timer; hand the account ticks it sent to the agent
        (asset ticks are left unfolded: only the clock moves the accounts here)."""
        self.agents.clock = Clock(on)
        asyncio.run(self.agents.tick())
        for batch in self.new_account_changes():
            self.account(batch)

    def published(self, account_id: str) -> list[dict[str, Any] | None]:
        """The account's `accounts.mrr` records in order (None: a tombstone)."""
        key = account_id.encode()
        sent = self.app.producer.values(ACCOUNTS)
        return [json.loads(v) if v is not None else None for k, v in sent if k == key]

    def rows(self) -> dict[bytes, bytes]:
        return dict(self.accounts.data)


def _mrr(record: dict[str, Any] | None) -> list[tuple[str, str | None, str]]:
    """The USD timeline of a published record, as (start, end, mrr)."""
    assert record is not None
    (usd,) = record["currencies"]
    return [(s["start_date"], s["end_date"], s["mrr"]) for s in usd["mrr_timeline"]]


def _without_position(head: bytes) -> Any:
    return msgspec.structs.replace(decode_account_head(head), position=None)


# 5 units at 120 a year: 50.00 a month.
ORDER = Deliver(delivery(created(account_id="ACC-1", quantity="5", price="120")))


# --- (a) an echo counts nothing twice; the account's own crash replay republishes -----------


def test_an_echoed_account_change_changes_nothing_and_is_not_published_again() -> None:
    worker = Worker()
    worker.fold(ORDER)
    worker.fold(Deliver(delivery(changed("e2", "2025-10-01", "3"))))  # 8 units from October
    first, second = worker.new_account_changes()
    worker.account(first, 0)
    worker.account(second, 1)
    (_, latest) = worker.published("ACC-1")
    assert latest is not None and latest["version"] == 2
    stored, published = worker.rows(), worker.published("ACC-1")
    # The same changes again at new offsets (re-sent by the assets), the newest first.
    for echo in (second, first):
        rows = worker.account(echo)
        assert [k for k, _ in rows] == [b"ACC-1"]  # the head only: its position moved on
    assert worker.published("ACC-1") == published  # not published again
    after = worker.rows()
    assert {k: v for k, v in after.items() if k != b"ACC-1"} == {
        k: v for k, v in stored.items() if k != b"ACC-1"
    }
    assert _without_position(after[b"ACC-1"]) == _without_position(stored[b"ACC-1"])
    record = worker.agents.accounts.load(b"ACC-1")
    assert record.version == 2 and record.versions.get("A") == 2
    # The MRR counts the asset once, as of its newest change (50.00, then 80.00).
    assert _mrr(latest) == [
        ("2025-08-10", "2025-10-01", "50.00"),
        ("2025-10-01", "2026-08-10", "80.00"),
        ("2026-08-10", None, "0.00"),
    ]
    # A worker restarted on the table publishes the same record from it: nothing was lost.
    restarted = worker.restarted()
    restarted.account([AccountTick("ACC-1")], 3)  # at the stored position: a replay
    assert worker.published("ACC-1")[-1] == latest


def test_a_replayed_account_message_republishes_the_record_and_rewrites_its_rows() -> None:
    """The account agent crashed before committing offset 1: it gets it again on restart."""
    worker = Worker()
    worker.fold(ORDER)
    worker.fold(Deliver(delivery(changed("e2", "2025-10-01", "3"))))
    first, second = worker.new_account_changes()
    worker.account(first, 0)
    written = worker.account(second, 1)
    stored = worker.rows()
    restarted = worker.restarted()
    rewritten = restarted.account(second, 1)
    assert worker.rows() == stored  # nothing applied twice
    # The record is published again, the same version with the same content.
    _, latest, again = worker.published("ACC-1")
    assert again == latest and again is not None and again["version"] == 2
    # The rows that message wrote are written again (a local store may hold writes whose
    # changelog records the crash lost): the asset's row and the head, unchanged.
    assert written == [(account_share_key(b"ACC-1", 0), stored[account_share_key(b"ACC-1", 0)]),
                       (b"ACC-1", stored[b"ACC-1"])]  # fmt: skip
    assert rewritten == written


# --- (b) an account left without assets is tombstoned -------------------------------------


def test_the_last_asset_leaving_an_account_tombstones_its_record() -> None:
    worker = Worker()
    worker.fold(ORDER)
    worker.fold(Deliver(delivery(voided("e2", "e1"))))  # the asset never existed after all
    added, removed = worker.new_account_changes()
    (removal,) = decode_commands(removed)
    assert removal == AccountChange("ACC-1", "A", 2, None)
    worker.account(added, 0)
    worker.account(removed, 1)
    first, last = worker.published("ACC-1")
    assert first is not None and _mrr(first)[0] == ("2025-08-10", "2026-08-10", "50.00")
    assert last is None  # a tombstone on accounts.mrr
    assert worker.agents.accounts.load(b"ACC-1").version == 2
    # The removal again (an echo) sends no second tombstone.
    worker.account(removed)
    assert worker.published("ACC-1") == [first, None]


def test_a_removal_for_an_account_that_never_had_assets_publishes_nothing() -> None:
    worker = Worker()
    worker.account([AccountChange("ACC-9", "A", 3, None)], 0)
    assert worker.published("ACC-9") == []


# --- (c) a transfer moves MRR between two accounts exactly once ----------------------------


def _transfer_changes(worker: Worker) -> list[bytes]:
    worker.fold(ORDER)
    # 2 of the 5 units go to asset B on ACC-2 from October.
    worker.fold(Deliver(delivery(transferred("e2", "2025-10-01", "2", target_account="ACC-2"))))
    return worker.new_account_changes()


def test_a_transfer_moves_mrr_between_two_accounts_once_when_every_change_comes_twice() -> None:
    once, twice = Worker(), Worker()
    changes = _transfer_changes(once)
    assert changes == _transfer_changes(twice)
    assert [(c.account_id, c.asset_id, c.version)  # type: ignore[union-attr]
            for batch in changes for c in decode_commands(batch)] == [
        ("ACC-1", "A", 1), ("ACC-1", "A", 2), ("ACC-2", "B", 1)]  # fmt: skip
    for offset, batch in enumerate(changes):
        once.account(batch, offset)
    # Every change delivered twice: each copy right after itself, then all again.
    for offset, batch in enumerate([b for b in changes for _ in (0, 1)] + changes):
        twice.account(batch, offset)
    source, target = once.published("ACC-1")[-1], once.published("ACC-2")[-1]
    assert _mrr(source) == [
        ("2025-08-10", "2025-10-01", "50.00"),
        ("2025-10-01", "2026-08-10", "30.00"),
        ("2026-08-10", None, "0.00"),
    ]
    assert _mrr(target) == [("2025-10-01", "2026-08-10", "20.00"), ("2026-08-10", None, "0.00")]
    # Twice is the same as once: the same records and versions, each published once.
    for account in ("ACC-1", "ACC-2"):
        assert twice.published(account) == once.published(account)
    assert [r["version"] for r in once.published("ACC-1") if r] == [1, 2]
    assert [r["version"] for r in once.published("ACC-2") if r] == [1]


# --- (d) the clock versions the record only when it crosses an MRR change -------------------


def test_an_account_tick_versions_the_record_only_when_an_mrr_change_is_crossed() -> None:
    worker = Worker(as_of=date(2025, 8, 1))  # the asset starts on 2025-08-10
    worker.fold(ORDER)
    (change,) = worker.new_account_changes()
    worker.account(change, 0)
    (scheduled,) = worker.published("ACC-1")
    assert scheduled is not None and scheduled["version"] == 1
    (usd,) = scheduled["currencies"]
    assert (usd["current_mrr"], usd["movements"][0]["scheduled"]) == ("0.00", True)
    assert worker.agents.account_wake[b"ACC-1"] == d("2025-08-10")
    # The clock moves, but not across a change: no version, nothing published.
    worker.tick(d("2025-08-05"))  # the timer sends no tick before the boundary
    worker.account([AccountTick("ACC-1")])  # a tick anyway (a rebuilt wake index)
    assert worker.published("ACC-1") == [scheduled]
    assert worker.agents.accounts.load(b"ACC-1").version == 1
    # Across the start: the movement became current, the record has a new version.
    worker.tick(d("2025-08-10"))
    _, current = worker.published("ACC-1")
    assert current is not None and current["version"] == 2 and current["as_of"] == "2025-08-10"
    (usd,) = current["currencies"]
    assert (usd["current_mrr"], usd["movements"][0]["scheduled"]) == ("50.00", False)
    assert worker.agents.account_wake[b"ACC-1"] == d("2026-08-10")  # the next change
    # Later ticks short of the next change version nothing.
    worker.account([AccountTick("ACC-1")])
    worker.agents.clock = Clock(d("2026-08-09"))
    worker.account([AccountTick("ACC-1")])
    assert worker.published("ACC-1") == [scheduled, current]
    assert worker.agents.accounts.load(b"ACC-1").version == 2


# --- (e) a change writes a bounded number of small rows, whatever the account's size --------


def _contribution(*events: object) -> Any:
    ledger = new_ledger("A")
    for event in events:
        ledger = receive(ledger, delivery(event), as_of=d("2025-09-01"), now=T0).ledger
    contribution = contribution_from_fold("A", ledger.fold, d("2025-09-01"))
    assert contribution is not None
    return contribution


def test_a_change_to_one_asset_writes_the_same_few_small_rows_on_an_account_of_1000() -> None:
    base = _contribution(created(account_id="ACC-1", quantity="5", price="120"))
    grown = _contribution(created(account_id="ACC-1", quantity="5", price="120"),
                          changed("e2", "2025-10-01", "3"))  # fmt: skip

    def change_rows(size: int) -> list[tuple[bytes, bytes]]:
        worker = Worker()
        worker.account([AccountChange("ACC-1", f"A{n}", 1, replace(base, asset_id=f"A{n}"))
                        for n in range(size)], 0)  # fmt: skip
        assert len([k for k in worker.rows() if k.startswith(b"ACC-1\x00")]) == size
        rows = worker.account([AccountChange("ACC-1", "A0", 2, replace(grown, asset_id="A0"))], 1)
        (record,) = worker.published("ACC-1")[-1:]
        assert record is not None and record["currencies"][0]["current_mrr"] == f"{50 * size}.00"
        return rows

    small, large = change_rows(1), change_rows(1000)
    # The asset's own row and the head: two rows, a few hundred bytes, as on a lone asset.
    assert [k for k, _ in large] == [account_share_key(b"ACC-1", 0), b"ACC-1"]
    assert [k for k, _ in small] == [k for k, _ in large]
    assert all(len(v) < 400 for _, v in large)
    assert sum(len(v) for _, v in large) <= sum(len(v) for _, v in small) + 8  # next_seq digits


def test_a_new_asset_on_a_large_account_adds_its_index_row_and_nothing_more() -> None:
    base = _contribution(created(account_id="ACC-1", quantity="5", price="120"))
    worker = Worker()
    worker.account([AccountChange("ACC-1", f"A{n}", 1, replace(base, asset_id=f"A{n}"))
                    for n in range(1000)], 0)  # fmt: skip
    rows = worker.account([AccountChange("ACC-1", "NEW", 1, replace(base, asset_id="NEW"))], 1)
    assert [k for k, _ in rows] == [
        account_index_key(b"ACC-1", "NEW"),
        account_share_key(b"ACC-1", 1000),
        b"ACC-1",
    ]
    assert all(len(v) < 400 for _, v in rows)
