"""The snapshot's JSON bytes, re-encoding only the rows that changed since the last render.

A snapshot lists every period and action, so encoding it from scratch costs
O(history) per event. A `SnapshotRenderer` (one per asset, kept by the shell)
remembers the action and period objects it last encoded with their bytes: an
event at the end of the history re-encodes its own action, the periods from its
date on and the header; the rest is joined as it is. The row encodings are the
same functions `snapshot_to_dict` uses (a test holds the two outputs equal).

Oversized snapshots (more than `limit` bytes) are published cut down rather
than failing to send: periods are kept first (billing needs them), then the
newest pending events, then the newest actions that still fit; the record says so with
`"truncated": true` and `actions_omitted` / `state_periods_omitted` /
`pending_events_omitted` counts. Money fields (totals, current MRR, every
period kept) stay exact, so billing keeps working; the full history stays in
the asset's state (and in `assetstream replay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import msgspec

from domain.events import AssetTerms, Period
from domain.ledger import AssetLedger
from domain.money import ZERO
from domain.snapshot import action_view, pending_view, period_view, render
from domain.state import AppliedAction
from schemas.outputs import action_record, pending_record, period_record, snapshot_header

_encode = msgspec.json.encode


@dataclass(slots=True)
class _PeriodRow:
    running: Fraction  # exact Σ amounts up to and including this period
    published: Fraction  # its rounded value
    encoded: bytes


class SnapshotRenderer:
    """Renders one asset's snapshots, keeping the encodings of unchanged rows."""

    __slots__ = ("_action_bytes", "_actions", "_period_rows", "_periods", "_terms")

    def __init__(self) -> None:
        self._actions: list[AppliedAction] = []
        self._action_bytes: list[bytes] = []
        self._periods: list[Period] = []
        self._period_rows: list[_PeriodRow] = []
        self._terms: AssetTerms | None = None

    def render(self, ledger: AssetLedger, *, limit: int | None = None) -> bytes | None:
        """The current snapshot as published (version and as_of of the last publication)."""
        fold, published = ledger.fold, ledger.published
        terms = fold.terms
        if terms is None or published is None:
            return None
        if terms != self._terms:  # a different winning creation: nothing carries over
            self._actions, self._action_bytes = [], []
            self._periods, self._period_rows = [], []
            self._terms = terms
        snapshot = render(fold, asset_id=ledger.asset_id, version=ledger.version,
                          as_of=published.as_of, updated_by_event_id=ledger.updated_by_event_id,
                          rows=False)  # fmt: skip
        if snapshot is None:  # pragma: no cover - terms exist
            return None
        actions = self._encoded_actions(fold.actions)
        periods = self._encoded_periods(fold.periods, terms)
        pending = [_encode(pending_record(pending_view(p))) for p in fold.pending]
        header = snapshot_header(snapshot)
        body = _assemble(header, periods, actions, pending)
        if limit is None or len(body) <= limit:
            return body
        return _cut_down(header, periods, actions, pending, limit)

    def _encoded_actions(self, actions: tuple[AppliedAction, ...]) -> list[bytes]:
        same = _common_prefix(self._actions, actions)
        old = dict(zip(self._actions[same:], self._action_bytes[same:], strict=True))
        encoded = self._action_bytes[:same]
        for action in actions[same:]:
            cached = old.get(action)  # equal actions re-used after a re-fold
            encoded.append(cached or _encode(action_record(action_view(action))))
        self._actions, self._action_bytes = list(actions), encoded
        return encoded

    def _encoded_periods(self, periods: tuple[Period, ...], terms: AssetTerms) -> list[bytes]:
        same = _common_prefix(self._periods, periods)
        kept = self._period_rows[:same]
        running = kept[-1].running if kept else ZERO
        published = kept[-1].published if kept else ZERO
        for period in periods[same:]:
            view, running, published = period_view(period, terms, running, published)
            kept.append(_PeriodRow(running, published, _encode(period_record(view))))
        self._periods, self._period_rows = list(periods), kept
        return [r.encoded for r in kept]


def _common_prefix(old: list[Any], new: tuple[Any, ...]) -> int:
    """How many leading items are the very same objects (a fold re-uses unchanged ones)."""
    limit = min(len(old), len(new))
    if limit and old[limit - 1] is new[limit - 1]:
        return limit  # the usual case: nothing before the end changed
    index = 0
    while index < limit and old[index] is new[index]:
        index += 1
    return index


def _assemble(
    header: dict[str, Any], periods: list[bytes], actions: list[bytes], pending: list[bytes]
) -> bytes:
    head = _encode(header)
    return b"".join((
        head[:-1], b',"state_periods":[', b",".join(periods), b'],"actions":[',
        b",".join(actions), b'],"pending_events":[', b",".join(pending), b"]}",
    ))  # fmt: skip


def _cut_down(
    header: dict[str, Any],
    periods: list[bytes],
    actions: list[bytes],
    pending: list[bytes],
    limit: int,
) -> bytes:
    """Leave out the oldest rows until the snapshot fits in `limit` bytes (see module doc)."""
    omitted = {"actions_omitted": 0, "state_periods_omitted": 0, "pending_events_omitted": 0}
    # Room for the marker and the counts' digits, whatever they turn out to be.
    overhead = len(_assemble({**header, "truncated": True, **omitted}, [], [], [])) + 64
    budget = limit - overhead
    kept: dict[str, list[bytes]] = {}
    for name, rows in (("state_periods", periods), ("pending_events", pending),
                       ("actions", actions)):  # fmt: skip
        count = used = 0
        for row in reversed(rows):  # newest first
            if used + len(row) + 1 > budget:
                break
            used += len(row) + 1
            count += 1
        budget -= used
        kept[name] = rows[len(rows) - count :]
        omitted[f"{name}_omitted"] = len(rows) - count
    return _assemble({**header, "truncated": True, **omitted}, kept["state_periods"],
                     kept["actions"], kept["pending_events"])  # fmt: skip
