"""Values exchanged between the per-asset ledger and the shell (worker or replay)."""

from __future__ import annotations

import base64
from collections.abc import Callable
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


class Step:
    """The result of one ledger transition: new state plus what to emit.

    `snapshot` is set when it must be published: its content changed (and so
    its version rose), or a duplicate asks for a re-publish. It is rendered on
    first access: a snapshot lists the whole history, so rendering costs
    O(history) while the transition itself does not. `transfers` go to the
    target assets (keyed by `event.asset_id`) through the keyed path.
    `retracted` means the asset no longer exists (a transfer target whose
    transfer stopped applying): publish a tombstone for its key.
    """

    __slots__ = (
        "_render",
        "_snapshot",
        "dead_letters",
        "ledger",
        "outcome",
        "retracted",
        "transfers",
    )

    def __init__(
        self,
        ledger: object,  # domain.ledger.AssetLedger (untyped here to avoid an import cycle)
        outcome: Outcome | None,
        snapshot: AssetSnapshot | None = None,
        dead_letters: tuple[DeadLetter, ...] = (),
        transfers: tuple[TransferReceived, ...] = (),
        retracted: bool = False,
        *,
        render: Callable[[], AssetSnapshot | None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.outcome = outcome
        self._snapshot = snapshot
        self._render = render
        self.dead_letters = dead_letters
        self.transfers = transfers
        self.retracted = retracted

    @property
    def snapshot(self) -> AssetSnapshot | None:
        if self._render is not None:
            self._snapshot, self._render = self._render(), None
        return self._snapshot

    def with_dead_letters(self, dead_letters: tuple[DeadLetter, ...]) -> Step:
        step = Step(self.ledger, self.outcome, self._snapshot, dead_letters, self.transfers,
                    self.retracted, render=self._render)  # fmt: skip
        return step

    def __repr__(self) -> str:
        return (
            f"Step(outcome={self.outcome}, snapshot={self.snapshot!r}, "
            f"dead_letters={self.dead_letters!r}, transfers={self.transfers!r}, "
            f"retracted={self.retracted})"
        )
