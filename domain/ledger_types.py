"""Values exchanged between the per-asset ledger and the shell (worker or replay)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.events import AssetEvent, TargetRefusal, TransferReceived
from domain.reasons import ReasonCode

if TYPE_CHECKING:  # the ledger imports these types; Step only refers back to it
    from domain.ledger import AssetLedger


@dataclass(frozen=True, slots=True)
class Source:
    """Where an input message came from, kept so a late dead letter can carry it."""

    topic: str
    partition: int | None
    offset: int | None
    key: str | None
    payload: str  # the original bytes: text when valid UTF-8, else base64
    payload_encoding: str | None = None  # "base64" when `payload` is base64

    @classmethod
    def from_bytes(
        cls, topic: str, partition: int | None, offset: int | None, key: str | None, raw: bytes
    ) -> Source:
        """Keep the original bytes losslessly: as text when they are UTF-8, else as base64."""
        try:
            return cls(topic, partition, offset, key, raw.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(
                topic, partition, offset, key, base64.b64encode(raw).decode("ascii"), "base64"
            )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event arriving at one asset."""

    event: AssetEvent
    fingerprint: str  # digest of the whole input message's content (duplicate vs conflict)
    source: Source | None  # None for a derived event (a target's revision, a target's report)
    received_at: datetime  # wall clock (UTC) when it reached the asset


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that ends in the dead-letter topic (SPEC §4.6)."""

    event_id: str | None
    reason_code: ReasonCode
    reason: str
    source: Source | None
    dead_lettered_at: datetime


class Outcome(StrEnum):
    """Where one delivered message ended (SPEC §4.6); counted by the metrics.

    HELD is not an end: the message has the id of another message this asset holds, with
    other content. The event-id registry decides which one is the conflict and dead-letters
    it (SPEC §3: the first to reach the registry wins), so the asset never does.
    """

    APPLIED = "applied"
    VOIDED = "voided"  # it arrived after a void of it: listed in `voided_events` (SPEC §9.3)
    DUPLICATE = "duplicate"
    PENDING = "pending"
    DEAD_LETTERED = "dead_lettered"
    HELD = "held"


class EntryStatus(StrEnum):
    LIVE = "live"  # in the fold: applied or pending
    HELD = "held"  # another copy of a live/dead action id, other content: the registry decides
    DEAD = "dead"  # dead-lettered after its grace; its fingerprint is still remembered
    REVOKED = "revoked"  # the registry ruled it a duplicate_conflict and dead-lettered it


@dataclass(frozen=True, slots=True)
class Entry:
    """One delivery an asset received, under a sequence number that never changes."""

    seq: int
    delivery: Delivery
    status: EntryStatus

    @property
    def action_id(self) -> str:
        return self.delivery.event.action_id


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one ledger transition: the new ledger and what the shell must emit.

    `publish`: the snapshot must be (re)published — its content changed, or a duplicate
    asks for the current one again. `retracted`: the asset no longer exists (a transfer
    target whose transfer stopped applying, a voided creation): publish a tombstone. `transfers`
    go to the target assets (keyed by `event.asset_id`); `refusals` go back to the sources
    of transfers this asset (a target) refused or accepted (keyed by `asset_id`, the
    source). `written`: the entries that are new or changed, for a store that keeps one
    row per entry.
    """

    ledger: AssetLedger
    outcome: Outcome | None
    publish: bool = False
    dead_letters: tuple[DeadLetter, ...] = ()
    transfers: tuple[TransferReceived, ...] = ()
    retracted: bool = False
    written: tuple[Entry, ...] = ()
    refusals: tuple[TargetRefusal, ...] = ()
