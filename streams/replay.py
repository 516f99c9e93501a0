"""The engine with no Kafka: the worker's handlers on an in-memory bus, in file order.

`assetstream replay` drives this; tests use it as the oracle the Kafka path
must match. The end of the input ends every grace period (SPEC §7) — but for
events waiting for an automatic renewal, whose grace has not begun (SPEC §9.4):
they stay in their asset's `pending_events`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from domain.ledger_types import DeadLetter, Source
from domain.snapshot import render
from domain.snapshot_types import AssetSnapshot
from schemas.snapshot_render import SnapshotRenderer
from service.bus import Bus


@dataclass
class ReplayEngine:
    """One replay of one input file."""

    as_of: date
    source_name: str
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))
    bus: Bus = field(init=False)
    _views: dict[str, AssetSnapshot] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.bus = Bus(as_of=self.as_of, now=self.clock)

    def feed(self, raw: bytes, line_number: int) -> None:
        """One input line; its source is the file and its line number."""
        self._views = None
        self.bus.feed(raw, Source.from_bytes(self.source_name, None, line_number, None, raw))

    def finish(self) -> None:
        self._views = None
        self.bus.finish()

    @property
    def messages(self) -> int:
        return self.bus.messages

    @property
    def outcomes(self) -> Counter[str]:
        return self.bus.outcomes

    @property
    def rejected(self) -> list[DeadLetter]:
        return self.bus.rejected

    def asset_ids(self) -> list[str]:
        """Assets with a published snapshot, sorted."""
        return sorted(self.bus.published)

    def account_records(self) -> list[dict[str, Any]]:
        """SPEC §10's account records, sorted by account id (`DIR/accounts.jsonl`)."""
        return self.bus.account_records()

    def snapshot_json(self, asset_id: str) -> bytes | None:
        """The asset's snapshot exactly as the worker would publish it."""
        return SnapshotRenderer().render(self.bus.records[asset_id].ledger)

    @property
    def snapshots(self) -> dict[str, AssetSnapshot]:
        """Every published asset's snapshot as domain views (for tests)."""
        if self._views is None:
            self._views = self._render_all(rows=True)
        return self._views

    def headers(self) -> dict[str, AssetSnapshot]:
        """The same views without their rows (periods, actions, pending events are empty):
        the same assets and head fields, for the summary, at a fraction of the cost."""
        return self._render_all(rows=False)

    def _render_all(self, *, rows: bool) -> dict[str, AssetSnapshot]:
        views = {}
        for asset_id in self.asset_ids():
            ledger = self.bus.records[asset_id].ledger
            if ledger.published is None:
                continue
            snapshot = render(ledger.fold, asset_id=asset_id, version=ledger.version,
                              as_of=ledger.published.as_of,
                              updated_by_event_id=ledger.updated_by_event_id,
                              rows=rows)  # fmt: skip
            if snapshot is not None:
                views[asset_id] = snapshot
        return views
