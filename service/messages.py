"""Typed commands between the handlers, and the effects a handler asks its shell to carry out.

Commands travel between handlers (through Kafka in the worker, through a queue in
replay): `Deliver`, `Revoke`, `Tick` and `TargetRefused` go to one asset (keyed by
`asset_id`), `Claim` to the event-id registry (keyed by `event_id`). Effects leave the
system: a snapshot to publish (rendered by the shell, which may coalesce), a
tombstone, a dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.accounts import AssetContribution
from domain.events import TargetRefusal
from domain.ledger_types import DeadLetter, Delivery, Source


@dataclass(frozen=True, slots=True)
class Deliver:
    """An event for one asset: an input line's event, or a transfer target's revision."""

    delivery: Delivery

    @property
    def asset_id(self) -> str:
        return self.delivery.event.asset_id


@dataclass(frozen=True, slots=True)
class Revoke:
    """The registry ruled this content of `event_id` a duplicate_conflict: drop it here."""

    asset_id: str
    event_id: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Tick:
    """The clock moved for this asset: pending grace periods and date boundaries."""

    asset_id: str


@dataclass(frozen=True, slots=True)
class TargetRefused:
    """A transfer's or swap's target tells its source whether it could be created (SPEC §9.5).

    Keyed by the source (`refusal.asset_id`). `refusal.refused` False: a later revision of
    the target accepted it after all (its id became free), so the source applies it again.
    """

    refusal: TargetRefusal

    @property
    def asset_id(self) -> str:
        return self.refusal.asset_id


AssetCommand = Deliver | Revoke | Tick | TargetRefused


@dataclass(frozen=True, slots=True)
class Claim:
    """One decoded input message, for the event-id registry (SPEC §3 idempotency)."""

    event_id: str
    fingerprint: str
    asset_ids: tuple[str, ...]
    source: Source
    received_at: datetime


@dataclass(frozen=True, slots=True)
class AccountChange:
    """What one asset now adds to an account (SPEC §10); `contribution` None: it left.

    `version` is the asset's snapshot version: the account applies a change only when it is
    newer than the last one from that asset, so a replayed or late copy counts nothing twice.
    """

    account_id: str
    asset_id: str
    version: int
    contribution: AssetContribution | None


@dataclass(frozen=True, slots=True)
class AccountTick:
    """The clock moved for this account: a movement may have become current."""

    account_id: str


AccountCommand = AccountChange | AccountTick

Command = AssetCommand | Claim | AccountCommand


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish this asset's current snapshot (the shell renders it, possibly coalescing)."""

    asset_id: str


@dataclass(frozen=True, slots=True)
class PublishAccount:
    """Publish this account's current record (a tombstone when it has no assets left)."""

    account_id: str


@dataclass(frozen=True, slots=True)
class Retract:
    """This asset no longer exists: publish a tombstone for its key."""

    asset_id: str


Effect = Command | Publish | Retract | PublishAccount | DeadLetter
