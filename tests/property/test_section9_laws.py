"""The fold's laws with SPEC §9 in the mix: price changes, swaps, voids, automatic renewals.

Every path through `FoldLog` and the ledger — events in any arrival order, `as_of`
moving on between them, removals, a different `as_of` — must give the full fold's
result (`fold(events, as_of=...)`), and the §9 rules keep §4's invariants.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import AssetEvent, AssetSwapped, EventVoided, TargetRefusal, sort_key
from domain.fold import FoldLog, fold
from domain.ledger import AssetLedger, new_ledger, receive, refresh
from domain.snapshot import render
from domain.snapshot_types import AssetSnapshot
from domain.state import FoldState, VoidedEvent
from tests.property.strategies import (
    as_of_dates,
    event_sets,
    outgoing_sets,
    renewal_boundaries,
    with_refusals,
    with_voids,
)
from tests.property.test_fold_laws import amounts_add_up_to_total, periods_tile_the_lifecycle
from tests.support.builders import T0, delivery

EXAMPLES = 100


def view(state: FoldState, as_of: date) -> AssetSnapshot | None:
    return render(state, asset_id="A", version=1, as_of=as_of, updated_by_event_id=None)


@st.composite
def cases(draw: st.DrawFn, max_amendments: int = 8) -> tuple[list[AssetEvent], date]:
    events = draw(with_voids(draw(event_sets(max_amendments, section_9=True))))
    events = draw(with_refusals(events))
    return events, draw(as_of_dates(events))


@st.composite
def boundary_cases(draw: st.DrawFn) -> tuple[list[AssetEvent], date]:
    events = draw(renewal_boundaries())
    return events, draw(as_of_dates(events))


def renewals_are_up_to_date(state: FoldState, as_of: date) -> bool:
    """No automatic renewal is left due; the next one, if any, is at the lifecycle end."""
    nxt = state.next_renewal
    return nxt is None or (nxt > as_of and nxt == state.lifecycle_end)


def waiting_events_wait_for_a_renewal(state: FoldState, as_of: date) -> bool:
    return all(
        state.next_renewal is not None and p.effective_date is not None and p.effective_date > as_of
        for p in state.pending
        if p.waiting
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(cases())
def test_amounts_add_up_and_periods_tile_with_automatic_renewals(
    case: tuple[list[AssetEvent], date],
) -> None:
    events, as_of = case
    state = fold(events, as_of=as_of)
    snapshot = view(state, as_of)
    if snapshot is None:  # a voided creation: nothing to publish
        assert state.terms is None
        return
    assert amounts_add_up_to_total(snapshot)
    assert periods_tile_the_lifecycle(state)
    assert renewals_are_up_to_date(state, as_of)
    assert waiting_events_wait_for_a_renewal(state, as_of)


@settings(max_examples=EXAMPLES, deadline=None)
@given(cases(), st.randoms(use_true_random=False), st.data())
def test_the_ledger_in_any_order_with_the_clock_moving_equals_the_full_fold(
    case: tuple[list[AssetEvent], date], rnd: object, data: st.DataObject
) -> None:
    """Arrival order is irrelevant, and so is when the clock moved between arrivals."""
    events, as_of = case
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    start = as_of - timedelta(days=data.draw(st.integers(0, 400)))
    days = sorted(data.draw(st.lists(st.integers(0, (as_of - start).days),
                                     min_size=len(shuffled), max_size=len(shuffled))))  # fmt: skip
    ledger = new_ledger("A")
    for event, offset in zip(shuffled, days, strict=True):
        step = receive(ledger, delivery(event), as_of=start + timedelta(days=offset), now=T0)
        assert isinstance(step.ledger, AssetLedger)
        ledger = step.ledger
    ledger = refresh(ledger, as_of=as_of, now=T0).ledger
    assert ledger.fold == fold(events, as_of=as_of)


@settings(max_examples=EXAMPLES, deadline=None)
@given(boundary_cases(), st.randoms(use_true_random=False), st.data())
def test_events_on_renewal_boundaries_give_the_full_fold_in_any_order(
    case: tuple[list[AssetEvent], date], rnd: object, data: st.DataObject
) -> None:
    """Notices of non-renewal, explicit renewals and changes on the dates automatic
    renewals start: the cases where one event decides what sorts before it."""
    events, as_of = case
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    expected = fold(events, as_of=as_of)
    ordered = sorted(events, key=sort_key)  # type: ignore[arg-type]
    for arrival in (shuffled, ordered):  # sorted: every event takes the one-step path
        log = FoldLog.of((), as_of=as_of)
        for event in arrival:
            log = log.adding(event)
        assert log.state == expected
    removed = data.draw(st.sampled_from(events))
    assert log.changed(remove=[removed]).state == fold(
        [e for e in events if e is not removed], as_of=as_of
    )
    snapshot = view(expected, as_of)
    assert snapshot is not None and amounts_add_up_to_total(snapshot)
    assert periods_tile_the_lifecycle(expected) and renewals_are_up_to_date(expected, as_of)


@settings(max_examples=EXAMPLES, deadline=None)
@given(outgoing_sets(), st.randoms(use_true_random=False), st.data())
def test_targets_reports_in_any_order_give_the_full_fold(
    events: list[AssetEvent], rnd: object, data: st.DataObject
) -> None:
    """A target's refusal (SPEC §9.5) keeps the units on the source whenever it arrives."""
    as_of = data.draw(as_of_dates(events))
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    expected = fold(events, as_of=as_of)
    log = FoldLog.of((), as_of=as_of)
    for event in shuffled:
        log = log.adding(event)
    assert log.state == expected
    refused = {e.event_id for e in events if isinstance(e, TargetRefusal) and e.refused}
    applied = {a.action_id for a in expected.actions}
    assert not refused & applied  # a refused transfer or swap never applies
    ledger = new_ledger("A")
    for event in shuffled:
        ledger = receive(ledger, delivery(event), as_of=as_of, now=T0).ledger
    assert ledger.fold == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(cases(max_amendments=30), st.randoms(use_true_random=False))
def test_a_long_log_built_in_any_order_equals_the_full_fold(
    case: tuple[list[AssetEvent], date], rnd: object
) -> None:
    """Long enough to pass several checkpoints, so resuming from one is exercised."""
    events, as_of = case
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    log = FoldLog.of((), as_of=as_of)
    for event in shuffled:
        log = log.adding(event)
    assert log.state == fold(events, as_of=as_of)


@settings(max_examples=EXAMPLES, deadline=None)
@given(cases(max_amendments=30), st.data())
def test_moving_as_of_equals_folding_as_of_the_new_date(
    case: tuple[list[AssetEvent], date], data: st.DataObject
) -> None:
    events, as_of = case
    other = data.draw(as_of_dates(events))
    moved = FoldLog.of(events, as_of=other).at(as_of)
    assert moved.state == fold(events, as_of=as_of)
    # and back, from a log that moved
    assert moved.at(other).state == fold(events, as_of=other)


@settings(max_examples=EXAMPLES, deadline=None)
@given(cases(max_amendments=20), st.data())
def test_removing_any_member_equals_the_fold_without_it(
    case: tuple[list[AssetEvent], date], data: st.DataObject
) -> None:
    events, as_of = case
    log = FoldLog.of(events, as_of=as_of)
    removed = data.draw(st.sampled_from(list(log.members())))
    rest = [e for e in events if e is not removed]
    assert log.changed(remove=[removed]).state == fold(rest, as_of=as_of)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_a_void_of_x_gives_the_fold_without_x_plus_its_listing(data: st.DataObject) -> None:
    events = data.draw(event_sets(section_9=True))
    as_of = data.draw(as_of_dates(events))
    target = data.draw(st.sampled_from(events))
    void = EventVoided("v-x", "A", T0, target.event_id, "wrong", None)
    with_void = fold([*events, void], as_of=as_of)
    without = fold([e for e in events if e is not target], as_of=as_of)
    assert with_void.voided == (VoidedEvent(target.event_id, "v-x", "wrong"),)
    assert replace(with_void, voided=()) == without


@settings(max_examples=EXAMPLES, deadline=None)
@given(cases())
def test_swaps_conserve_units_between_source_and_target_in_every_period(
    case: tuple[list[AssetEvent], date],
) -> None:
    events, as_of = case
    reports = [e for e in events if isinstance(e, TargetRefusal)]
    ordered = sorted((e for e in events if not isinstance(e, EventVoided | TargetRefusal)),
                     key=sort_key)  # fmt: skip
    for index, event in enumerate(ordered):
        if not isinstance(event, AssetSwapped):
            continue
        before = fold([*ordered[:index], *reports], as_of=as_of)
        after = fold([*ordered[: index + 1], *reports], as_of=as_of)
        moved = {o.event.event_id: o for o in after.transfers_out}.get(event.event_id)
        if moved is None or moved.refused:  # pending: nothing may have moved
            assert not any(a.action_id == event.action_id for a in after.actions)
            continue
        for target in moved.periods:
            assert target.quantity == event.quantity
            assert [t.unit_price for t in target.tranches] == [event.unit_price]
            for day in (target.start, target.end - timedelta(days=1)):
                had = next(p.quantity for p in before.periods if p.start <= day < p.end)
                kept = next((p.quantity for p in after.periods if p.start <= day < p.end), 0)
                assert had == kept + target.quantity


def test_strategies_reach_every_section_9_outcome() -> None:
    """Guard against a strategy that silently stops exercising the rules."""
    seen: set[str] = set()

    def note(state: FoldState) -> None:
        seen.update(f"{a.category.value}/{a.subtype}" for a in state.actions)
        seen.update(p.reason_code.value for p in state.pending)
        seen.update("waiting" for p in state.pending if p.waiting)
        seen.update("voided" for _ in state.voided)
        seen.update(f"ended:{state.ended_by}" for _ in [0] if state.ended_by)

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(cases())
    def collect(case: tuple[list[AssetEvent], date]) -> None:
        events, as_of = case
        note(fold(events, as_of=as_of))

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(outgoing_sets(), st.data())
    def collect_outgoing(events: list[AssetEvent], data: st.DataObject) -> None:
        note(fold(events, as_of=data.draw(as_of_dates(events))))

    collect()
    collect_outgoing()
    expected = {"price_change/None", "renewal/auto_renewal", "swap/swap_out",
                "upgrade/upgrade_from", "downgrade/downgrade_from", "unknown_event",
                "invalid_void", "voided", "waiting", "ended:swap", "ended:cancellation",
                "insufficient_quantity", "outside_lifecycle", "asset_already_exists"}  # fmt: skip
    assert expected <= seen, expected - seen
