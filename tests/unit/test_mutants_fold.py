"""The fold (SPEC §4.1, §9.4): rules a mutation run of domain/fold.py showed untested."""

from __future__ import annotations

import itertools

import pytest

from domain.events import AssetEvent, TargetRefusal
from domain.fold import FoldLog, fold
from domain.snapshot import render
from tests.support.builders import cancelled, changed, created, d, renewed, transferred, voided

MONTHLY = created(quantity="10", price="19.99", term=1, start="2025-01-01", end="2025-04-01",
                  renewal=3, auto_renew=True, uplift="3")  # fmt: skip


def test_only_lifecycle_reasons_dated_after_as_of_wait_for_the_automatic_renewal() -> None:
    """SPEC §9.4: waiting means pending outside_lifecycle / renewal_not_contiguous AND dated
    strictly after as_of; on as_of itself, before it, or for another reason, the grace runs."""
    as_of = d("2025-03-15")
    events = [
        MONTHLY,
        renewed("before", "2025-03-10"),
        renewed("on", "2025-03-15"),
        renewed("after", "2025-03-20"),
        changed("too-many", "2025-03-20", "-50"),
    ]
    snapshot = render(fold(events, as_of=as_of), asset_id="A", version=1, as_of=as_of,
                      updated_by_event_id=None)  # fmt: skip
    assert snapshot is not None and snapshot.next_renewal_date == d("2025-04-01")
    assert [(p.event_id, p.reason_code, p.waiting) for p in snapshot.pending_events] == [
        ("before", "renewal_not_contiguous", False),
        ("on", "renewal_not_contiguous", False),
        ("after", "renewal_not_contiguous", True),
        ("too-many", "insufficient_quantity", False),
    ]
    assert [p.effective_date for p in snapshot.pending_events] == [
        d("2025-03-10"), d("2025-03-15"), d("2025-03-20"), d("2025-03-20"),
    ]  # fmt: skip


def _history(months: int) -> list[AssetEvent]:
    """An auto-renewing asset (quarterly renewals) with an upsell on the 5th of each month."""
    events: list[AssetEvent] = [MONTHLY]
    for month in range(months):
        year, month0 = divmod(month, 12)
        events.append(changed(f"u{month}", f"{2025 + year}-{month0 + 1:02d}-05", "1"))
    if months:
        events.append(voided("v", "u0"))  # a correction: u0 never counts
        # A transfer its target refused (SPEC §9.5): pending on the source, units kept.
        events.append(transferred("t", "2025-02-10", "1"))
        events.append(TargetRefusal(event_id="t", asset_id="A", target_asset_id="B",
                                    refused=True, revision=1, reason="taken"))  # fmt: skip
    return events


@pytest.mark.parametrize("months", [0, 3, 40])
def test_moving_the_clock_either_way_folds_as_if_from_scratch(months: int) -> None:
    """FoldLog.at (the worker's clock moving, replay's state on a date) reuses checkpoints
    and the automatic renewals already applied after the last event; forward or back, it
    must give the fresh fold's state (renewals past the new date undone)."""
    events = _history(months)
    days = [d(f"{year}-{month:02d}-{day:02d}") for year in (2025, 2026, 2027, 2028)
            for month in (1, 4, 7, 10) for day in (1, 5, 6)]  # fmt: skip
    fresh = {day: fold(events, as_of=day) for day in days}
    if months:
        assert ("t", "asset_already_exists") in [
            (p.event_id, p.reason_code.value) for p in fresh[days[-1]].pending
        ]
    ids = sorted(e.event_id for e in events)
    for start in (days[0], days[len(days) // 2], days[-1]):
        log = FoldLog.of(events, as_of=start)
        for day in days:
            assert log.at(day).state == fresh[day], (start, day)
        # A log that moved on and then back again, step by step, still holds every event
        # (the voided one and its void too) and folds one more like a fresh log.
        moved = log
        for day in reversed(days):
            moved = moved.at(day)
            assert moved.state == fresh[day], (start, day)
            assert sorted(e.event_id for e in moved.members()) == ids
        late = changed("late", "2025-02-01", "1")
        assert moved.adding(late).state == fold([*events, late], as_of=days[0])


ARRIVALS = {
    "upsell-at-the-end": [
        MONTHLY,
        changed("at-end", "2025-04-01", "2"),  # waits for the automatic renewal at E
        changed("early", "2024-12-01", "1"),  # before the lifecycle start
        changed("mid", "2025-02-10", "-3"),
        cancelled("notice", "2025-07-01"),  # notice of non-renewal at a later end
    ],
    "void-and-creation-last": [
        changed("before-creation", "2025-02-01", "4"),
        cancelled("c", "2025-03-01"),
        voided("v", "c"),
        renewed("r", "2025-04-01"),
        MONTHLY,
    ],
}


@pytest.mark.parametrize("name", sorted(ARRIVALS))
def test_events_folded_one_by_one_in_any_order_give_the_fold_of_the_set(name: str) -> None:
    """FoldLog.adding takes a fast path when an event sorts last; in every arrival order
    (and with the clock moving past E afterwards) it must agree with folding the set."""
    events = ARRIVALS[name]
    early, late = d("2025-03-15"), d("2025-05-15")
    expected = {day: fold(events, as_of=day) for day in (early, late)}
    for order in itertools.permutations(events):
        log = FoldLog.of((), as_of=early)
        for event in order:
            log = log.adding(event)
        assert log.state == expected[early], [e.event_id for e in order]
        assert log.at(late).state == expected[late], [e.event_id for e in order]
