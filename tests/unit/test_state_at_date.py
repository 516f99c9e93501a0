"""An asset's state on any date, read off a snapshot the engine published (SPEC §4.5, §9).

The web layer (`streams.web.state.state_at`) reads status, quantity, MRR and the period
off a published snapshot; these tests hold it to the domain's own answer
(`domain.snapshot.head_at`) on the same fold, for snapshots the engine really writes:
the golden scenarios' and generated ones, with §9's endings (replaced) and renewals.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import AssetEvent, Movement
from domain.fold import fold
from domain.snapshot import head_at, render
from domain.state import FoldState
from schemas.outputs import snapshot_to_dict
from streams.replay import ReplayEngine
from streams.web.state import state_at
from tests.property.strategies import as_of_dates, event_sets, with_voids
from tests.support.builders import cancelled, changed, created, d, swapped, transferred

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def published(state: FoldState, as_of: date) -> dict[str, Any] | None:
    snapshot = render(state, asset_id="A", version=3, as_of=as_of, updated_by_event_id=None)
    return None if snapshot is None else snapshot_to_dict(snapshot)


def agrees_with_the_domain(state: FoldState, record: dict[str, Any], day: date) -> bool:
    got = state_at(record, day)
    return (got.status, got.quantity, got.mrr) == head_at(state, day)


def days_around(state: FoldState) -> list[date]:
    """Every boundary of the asset, the day before each, and far before and after."""
    terms = state.terms
    assert terms is not None
    edges = {
        terms.lifecycle_start,
        *(p.start for p in state.periods),
        *(p.end for p in state.periods),
    }
    if state.lifecycle_end is not None:
        edges.add(state.lifecycle_end)
    days = {day + timedelta(days=shift) for day in edges for shift in (-1, 0)}
    return sorted(days | {date(1950, 1, 1), date(2090, 1, 1)})


def test_the_golden_scenarios_snapshots_give_the_domains_state_on_every_boundary() -> None:
    checked = 0
    for events in sorted(SCENARIOS.glob("*.events.jsonl")):
        expected = json.loads(
            events.with_name(events.name.replace(".events.jsonl", ".expected.json")).read_text()
        )
        engine = ReplayEngine(as_of=date.fromisoformat(expected["as_of"]), source_name="x")
        for number, raw in enumerate(events.read_bytes().splitlines(), start=1):
            if raw.strip():
                engine.feed(raw, number)
        engine.finish()
        for asset_id in engine.asset_ids():
            state = engine.bus.records[asset_id].ledger.fold
            record = snapshot_to_dict(engine.snapshots[asset_id])
            for day in days_around(state):
                assert agrees_with_the_domain(state, record, day), (asset_id, day)
                checked += 1
    assert checked > 100


def test_a_future_cancellation_is_active_before_and_cancelled_from_its_date() -> None:
    state = fold([created(), cancelled("c", "2026-05-01")])
    record = published(state, d("2026-03-01"))
    assert record is not None and record["status"] == "active"
    days = ("2026-04-30", "2026-05-01", "2030-01-01")
    assert [state_at(record, d(day)).status for day in days] == ["active", "cancelled", "cancelled"]


def test_a_full_transfer_or_swap_names_how_the_lifecycle_ended() -> None:
    endings: list[tuple[AssetEvent, str]] = [
        (transferred("t", "2026-04-01", "5"), "transferred"),
        (swapped("s", "2026-04-01", "5", kind=Movement.SWAP), "replaced"),
    ]
    for ending, status in endings:
        state = fold([created(), ending])
        record = published(state, d("2026-03-01"))
        assert record is not None
        assert state_at(record, d("2026-04-01")).status == status
        assert agrees_with_the_domain(state, record, d("2026-04-01"))


def test_a_partial_transfer_ends_the_term_as_expired() -> None:
    state = fold([created(), transferred("t", "2026-04-01", "2")])
    record = published(state, d("2026-03-01"))
    assert record is not None and state_at(record, d("2026-08-10")).status == "expired"


def test_zero_mrr_has_the_currencys_digits() -> None:
    for currency, zero in (("JPY", "0"), ("KWD", "0.000"), ("USD", "0.00")):
        state = fold([created(currency=currency, price="10000")])
        record = published(state, d("2025-09-01"))
        assert record is not None and state_at(record, d("2020-01-01")).mrr == zero


def test_a_period_boundary_belongs_to_the_later_period() -> None:
    state = fold([created(), changed("up", "2026-02-01", "3", price="49.99")])
    record = published(state, d("2026-03-01"))
    assert record is not None
    before, on = state_at(record, d("2026-01-31")), state_at(record, d("2026-02-01"))
    assert (before.quantity, on.quantity) == ("5", "8")
    assert state_at(record, d("2026-02-01")).period == record["state_periods"][1]


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_generated_assets_state_on_any_date_is_the_domains(data: st.DataObject) -> None:
    events: list[AssetEvent] = data.draw(with_voids(data.draw(event_sets(section_9=True))))
    as_of = data.draw(as_of_dates(events))
    state = fold(events, as_of=as_of)
    record = published(state, as_of)
    if record is None:
        return
    for day in [*days_around(state), data.draw(as_of_dates(events))]:
        assert agrees_with_the_domain(state, record, day), day
