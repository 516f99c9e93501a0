"""The web layer's state on a date equals the domain's, for assets the engine computed.

`streams.web.state.state_at` reads a published snapshot (or its summary in the
read model); `domain.snapshot.head_at` computes status, quantity and MRR from
the fold. For generated assets (upsells, downsells, renewals, cancellations,
transfers) and every date where something can change — each period's start
and end, the day before the start, the end, long after — the two agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from domain.snapshot import head_at
from domain.state import FoldState
from streams.readmodel import asset_summary
from streams.replay import ReplayEngine
from streams.web.state import ended_by, state_at, zero_money
from tests.support.generate_events import generate
from tests.support.snapshots import CAPRICORN, FAB_PRIORITY, PHONE_SWAPPED

GENERATED_ASSETS = 120
# Past every generated lifecycle's end: each snapshot's status says how it ended.
LATE_AS_OF = date(2031, 1, 1)
# In the middle of the generated lifecycles: cancellations and transfers still ahead.
MID_AS_OF = date(2025, 9, 1)


def replayed(as_of: date, assets: int = GENERATED_ASSETS, seed: int = 11) -> ReplayEngine:
    engine = ReplayEngine(as_of=as_of, source_name="generated")
    for number, event in enumerate(generate(assets, seed), start=1):
        engine.feed(json.dumps(event).encode(), number)
    engine.finish()
    return engine


def published(engine: ReplayEngine) -> Iterator[tuple[dict[str, Any], FoldState]]:
    """Each asset's snapshot as the worker publishes it, with the fold it was rendered from."""
    for asset_id in engine.asset_ids():
        raw = engine.snapshot_json(asset_id)
        assert raw is not None
        yield json.loads(raw), engine.bus.records[asset_id].ledger.fold


def dates_to_check(snapshot: dict[str, Any]) -> list[date]:
    """Where the state can change: period bounds and the lifecycle's, each ±1 day."""
    days = {date.fromisoformat(snapshot["lifecycle_start_date"]),
            date.fromisoformat(snapshot["lifecycle_end_date"]),
            date.fromisoformat(snapshot["as_of"]), date(2040, 1, 1)}  # fmt: skip
    for period in snapshot["state_periods"]:
        days |= {date.fromisoformat(period["start_date"]), date.fromisoformat(period["end_date"])}
    return sorted(d + timedelta(days=k) for d in days for k in (-1, 0, 1))


def disagreements(engine: ReplayEngine) -> list[str]:
    """Every (asset, date) where the web's state differs from the domain's head."""
    found = []
    checked = 0
    for snapshot, fold in published(engine):
        for day in dates_to_check(snapshot):
            want = head_at(fold, day)
            assert want is not None
            for source in (snapshot, asset_summary(snapshot)):
                got = state_at(source, day)
                checked += 1
                if (got.status, got.quantity, got.mrr) != want:
                    found.append(f"{snapshot['asset_id']} on {day}: {got} != {want}")
    assert checked > 2000  # the generator made enough assets and dates to mean something
    return found


def test_state_on_any_date_equals_the_domain_once_every_lifecycle_has_ended() -> None:
    assert disagreements(replayed(LATE_AS_OF)) == []


def test_state_on_any_date_equals_the_domain_while_endings_are_still_ahead() -> None:
    """A cancellation or transfer after as_of is known only from the snapshot's `ended_by`."""
    engine = replayed(MID_AS_OF)
    endings = [
        s for s, _ in published(engine) if s["ended_by"] and s["as_of"] < s["lifecycle_end_date"]
    ]
    assert len(endings) >= 3  # the case this test is about does occur
    assert disagreements(engine) == []


def test_a_snapshot_without_ended_by_tells_the_ending_by_its_status() -> None:
    assert ended_by(CAPRICORN) is None
    assert ended_by({**CAPRICORN, "status": "cancelled"}) == "cancellation"
    assert ended_by({**CAPRICORN, "status": "transferred"}) == "transfer"
    assert ended_by({**CAPRICORN, "status": "replaced"}) == "swap"


def test_ended_by_decides_the_status_after_the_end_whatever_the_status_today() -> None:
    scheduled_cancel = {**CAPRICORN, "ended_by": "cancellation"}
    assert state_at(scheduled_cancel, date(2026, 3, 1)).status == "active"
    assert state_at(scheduled_cancel, date(2026, 8, 10)).status == "cancelled"
    assert state_at({**CAPRICORN, "ended_by": "transfer"}, date(2027, 1, 1)).status == (
        "transferred"
    )
    swapped = state_at(PHONE_SWAPPED, date(2025, 9, 15))
    assert (swapped.status, swapped.quantity, swapped.mrr) == ("replaced", "0", "0.00")
    # An auto-renewing asset not renewed yet reads as expired after its end, as the fold does.
    assert state_at(FAB_PRIORITY, date(2026, 1, 1)).status == "expired"


def test_zero_is_written_in_the_currency_digits() -> None:
    assert [zero_money(c) for c in ("USD", "JPY", "KWD")] == ["0.00", "0", "0.000"]
    jpy = {**CAPRICORN, "currency": "JPY"}
    assert state_at(jpy, date(2020, 1, 1)).mrr == "0"
