"""Values exchanged between the per-asset ledger and the shell (worker or replay)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.events import AssetEvent, TransferReceived
from domain.reasons import ReasonCode
from domain.snapshot_types import AssetSnapshot


@dataclass(frozen=True, slots=True)
class Source:
    """Where an input message came from, kept so a late dead letter can carry it."""

    topic: str
    partition: int | None
    offset: int | None
    key: str | None
    payload: str  # the original bytes: text when valid UTF-8, else base64
    payload_encoding: str | None = None  # "base64" when `payload` is base64


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event arriving at one asset."""

    event: AssetEvent
    fingerprint: str  # digest of the whole input message's content (duplicate vs conflict)
    source: Source | None  # None for a TransferReceived (derived, not an input message)
    received_at: datetime  # wall clock (UTC) when it reached the asset; starts the grace period


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that ends in the dead-letter topic (SPEC §4.6)."""

    event_id: str | None
    reason_code: ReasonCode
    reason: str
    source: Source | None
    dead_lettered_at: datetime


class Outcome(StrEnum):
    """Where one delivered message ended (SPEC §4.6); counted by the metrics."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    PENDING = "pending"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one ledger transition: new state plus what to emit.

    `snapshot` is set when it must be published: its content changed (and so
    its version rose), or a duplicate asks for a re-publish. `transfers` go to
    the target assets (keyed by `event.asset_id`) through the keyed path.
    `retracted` means the asset no longer exists (a transfer target whose
    transfer stopped applying): publish a tombstone for its key.
    """

    ledger: object  # domain.ledger.AssetLedger (kept untyped here to avoid a cycle)
    outcome: Outcome | None
    snapshot: AssetSnapshot | None
    dead_letters: tuple[DeadLetter, ...]
    transfers: tuple[TransferReceived, ...]
    retracted: bool = False
