"""The account handler: one change from an asset (or a tick) → the account's new record (SPEC §10).

An `AccountRecord` is the account's book (`domain.accounts`, kept as differences
so a change costs the same whatever the account's size), the version of the
last change applied per asset, and what publication and crash replay need.

- A change is applied only when it is newer than the last one from its asset
  (by the asset's snapshot version): a transfer moves MRR between two accounts
  exactly once whatever the crashes and replays.
- `version` rises by one whenever the record's content other than `as_of` can
  change: the book's currencies changed, or the clock passed a date where the
  timeline changes (a scheduled movement became current). The rendered record is
  published by the shell, coalesced like snapshots.
- A command at or below the stored position is a crash replay: nothing is
  applied; the record is published again and the rows are written again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from domain.accounts import (
    AccountBook,
    AssetContribution,
    AssetRemoval,
    AssetVersions,
    apply,
    contribution_from_fold,
    empty_book,
    has_assets,
    next_change_after,
)
from domain.ledger import AssetLedger
from service.assets import Position
from service.messages import AccountChange, AccountCommand, AccountTick, Effect, PublishAccount


@dataclass(frozen=True, slots=True)
class AccountRecord:
    book: AccountBook
    versions: AssetVersions = field(default_factory=AssetVersions)
    version: int = 0
    as_of: date | None = None  # of the content last versioned
    position: Position | None = None
    existed: bool = False  # it had assets once (an empty account is then tombstoned)

    @property
    def account_id(self) -> str:
        return self.book.account_id


@dataclass(frozen=True, slots=True)
class HandledAccount:
    """One account command's result; `changed_asset` names the contribution row to store."""

    record: AccountRecord
    effects: tuple[Effect, ...]
    changed_asset: str | None
    replayed: bool = False


def empty_account(account_id: str) -> AccountRecord:
    return AccountRecord(empty_book(account_id))


def handle_account(
    record: AccountRecord, command: AccountCommand, *, position: Position | None, as_of: date
) -> HandledAccount:
    """Apply one change or tick to the account (or, for a replayed position, publish again)."""
    publish = (PublishAccount(record.account_id),)
    if position is not None and record.position is not None and position <= record.position:
        # The asset's row as it stands (it may be newer than what the command wrote).
        rewrite = (command.asset_id if isinstance(command, AccountChange)
                   and record.versions.get(command.asset_id) is not None else None)  # fmt: skip
        return HandledAccount(record, publish if record.existed else (), rewrite, replayed=True)
    at = position if position is not None else record.position
    if isinstance(command, AccountTick):
        ticked = replace(_clock_moved(record, as_of), position=at)
        return HandledAccount(ticked, publish if ticked.version != record.version else (), None)
    return _change(record, command, at, as_of)


def contribution_change(ledger: AssetLedger) -> AccountChange | None:
    """What a published asset now adds to its account (sent when its snapshot is published)."""
    terms, published = ledger.fold.terms, ledger.published
    if terms is None or published is None:
        return None
    contribution = contribution_from_fold(ledger.asset_id, ledger.fold, published.as_of)
    return AccountChange(terms.account_id, ledger.asset_id, ledger.version, contribution)


def next_boundary(record: AccountRecord) -> date | None:
    """When the clock next changes the record's content: the first MRR change after its as_of."""
    if record.as_of is None or not has_assets(record.book):
        return None
    return next_change_after(record.book, record.as_of)


def _change(
    record: AccountRecord, command: AccountChange, at: Position | None, as_of: date
) -> HandledAccount:
    stored = record.versions.get(command.asset_id)
    if stored is not None and command.version <= stored:
        return HandledAccount(replace(record, position=at), (), None)  # an echo: counted before
    change: AssetContribution | AssetRemoval = (
        command.contribution if command.contribution is not None else AssetRemoval(command.asset_id)
    )
    book = apply(record.book, change)
    moved = _clock_moved(record, as_of)
    # The record renders from the currencies alone (and as_of): nothing else is content.
    content = book.currencies != record.book.currencies
    updated = AccountRecord(
        book=book,
        versions=record.versions.with_version(command.asset_id, command.version),
        version=moved.version + (1 if content else 0),
        as_of=as_of,
        position=at,
        existed=record.existed or has_assets(book),
    )
    publish = updated.version != record.version and updated.existed
    effects = (PublishAccount(record.account_id),) if publish else ()
    return HandledAccount(updated, effects, command.asset_id)


def _clock_moved(record: AccountRecord, as_of: date) -> AccountRecord:
    """The record at `as_of`: a new version when a change of MRR fell between the two dates
    (a scheduled movement became current, the current MRR moved)."""
    if record.as_of is not None and as_of > record.as_of and has_assets(record.book):
        crossed = next_change_after(record.book, record.as_of)
        if crossed is not None and crossed <= as_of:
            return replace(record, as_of=as_of, version=record.version + 1)
    return record if record.as_of == as_of else replace(record, as_of=as_of)
