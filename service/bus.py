"""An in-memory message bus over the handlers: the worker's topology with queues for topics.

`assetstream replay` and the tests' oracle drive it. Each input message goes
through `intake`; the commands it produces are handled in arrival order
(first in, first out, as a single partition would deliver them), the asset
commands by `service.assets.handle` against in-memory records, the claims
by `service.registry.rule` against an in-memory registry, and the account
changes a published asset sends (`service.accounts`) against in-memory account
records, as the worker's publisher sends them. Nothing expires
before the end of the input (`finish`), which ends every grace period — but for
events waiting for an automatic renewal (SPEC §9.4): they stay in
`pending_events`, as in the worker until their date comes.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from domain.accounts import record_to_dict, render
from domain.ledger_types import DeadLetter, Outcome, Source
from service import accounts, assets
from service.intake import intake
from service.messages import (
    AccountChange,
    AccountTick,
    Claim,
    Command,
    Effect,
    Publish,
    PublishAccount,
    Retract,
)
from service.registry import rule

# Replay never ticks: grace periods end only with the input.
_NO_EXPIRY = timedelta.max


@dataclass
class Bus:
    """In-memory records, registry and outputs for one replay."""

    as_of: date
    now: datetime
    records: dict[str, assets.AssetRecord] = field(default_factory=dict)
    registry: dict[str, str] = field(default_factory=dict)
    rejected: list[DeadLetter] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    published: set[str] = field(default_factory=set)  # assets whose snapshot exists
    accounts: dict[str, accounts.AccountRecord] = field(default_factory=dict)
    messages: int = 0
    _queue: deque[Command] = field(default_factory=deque)

    def feed(self, raw: bytes, source: Source) -> None:
        """One input message, handled to the end of everything it causes."""
        self.messages += 1
        result = intake(raw, source, self.now)
        self._emit(result.effects)
        self._drain()

    def finish(self) -> None:
        """End of input: whatever is still pending (and not waiting) is dead-lettered.

        Dead-lettering an event on one asset can leave another with newly pending events
        (a withdrawn transfer leaves its target's amendments without a creation), so the
        passes repeat until one dead-letters nothing.
        """
        while True:
            letters = len(self.rejected)
            for asset_id in sorted(self.records):
                handled = assets.finish(self.records[asset_id], as_of=self.as_of, now=self.now)
                self.records[asset_id] = handled.record
                self._emit(handled.effects)
                self._drain()
            if len(self.rejected) == letters:
                return

    def _drain(self) -> None:
        while self._queue:
            command = self._queue.popleft()
            if isinstance(command, Claim):
                ruling = rule(self.registry.get(command.event_id), command)
                self.registry[command.event_id] = ruling.winner
                self._emit(ruling.effects)
                continue
            if isinstance(command, AccountChange | AccountTick):
                account_id = command.account_id
                account = self.accounts.get(account_id) or accounts.empty_account(account_id)
                done = accounts.handle_account(account, command, position=None, as_of=self.as_of)
                self.accounts[account_id] = done.record
                continue
            asset_id = command.asset_id
            record = self.records.get(asset_id) or assets.empty_record(asset_id)
            handled = assets.handle(record, command, position=None, as_of=self.as_of,
                                    now=self.now, grace=_NO_EXPIRY)  # fmt: skip
            self.records[asset_id] = handled.record
            if handled.outcome is not None and handled.outcome is not Outcome.HELD:
                self.outcomes[handled.outcome.value] += 1
            self._emit(handled.effects)

    def _emit(self, effects: tuple[Effect, ...]) -> None:
        for effect in effects:
            if isinstance(effect, DeadLetter):
                self.rejected.append(effect)
                self.outcomes[f"dead_lettered:{effect.reason_code.value}"] += 1
            elif isinstance(effect, Publish):
                self.published.add(effect.asset_id)
                # The worker's publisher sends the account change with the snapshot.
                change = accounts.contribution_change(self.records[effect.asset_id].ledger)
                if change is not None:
                    self._queue.append(change)
            elif isinstance(effect, PublishAccount):
                pass  # records are rendered at the end (`account_records`)
            elif isinstance(effect, Retract):
                self.published.discard(effect.asset_id)
            else:
                self._queue.append(effect)

    def account_records(self) -> list[dict[str, Any]]:
        """Every account that has assets, as SPEC §10's record, sorted by account id."""
        records = []
        for account_id in sorted(self.accounts):
            account = self.accounts[account_id]
            rendered = render(account.book, self.as_of)
            if rendered is not None:
                records.append(record_to_dict(rendered, max(account.version, 1)))
        return records
