"""SPEC §9 in the fold, one rule per test: price changes, swaps, voids, automatic renewals."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from domain.events import AssetEvent, Movement
from domain.fold import FoldLog, fold
from domain.operations import default_renewal_end
from domain.snapshot import render
from domain.snapshot_types import AssetSnapshot
from tests.support.builders import (
    cancelled,
    changed,
    created,
    d,
    q,
    renewed,
    repriced,
    swapped,
    transferred,
    voided,
)


def snap(events: Iterable[AssetEvent], as_of: str = "2025-09-01") -> AssetSnapshot:
    day = d(as_of)
    result = render(fold(events, as_of=day), asset_id="A", version=1, as_of=day,
                    updated_by_event_id=None)  # fmt: skip
    assert result is not None
    return result


def periods(s: AssetSnapshot) -> list[tuple[str, str, str, str, str]]:
    return [(str(p.start_date), str(p.end_date), p.quantity, p.mrr, p.amount)
            for p in s.state_periods]  # fmt: skip


def actions(s: AssetSnapshot) -> list[tuple[str, str | None, str, str, str, str]]:
    return [(a.action_id, a.subtype, str(a.effective_date), a.quantity_change, a.mrr_change,
             a.amount_change) for a in s.actions]  # fmt: skip


def pending(s: AssetSnapshot) -> list[tuple[str, str]]:
    return [(p.event_id, p.reason_code) for p in s.pending_events]


def adds_up(s: AssetSnapshot) -> bool:
    total = Decimal(s.total_lifecycle_amount)
    return (
        total
        == sum(Decimal(a.amount_change) for a in s.actions)
        == sum(Decimal(p.amount) for p in s.state_periods)
    )


TEN_SEATS = created(quantity="10", price="120", start="2025-01-01", end="2026-01-01")

# --- §9.1 price change ------------------------------------------------------------------


def test_price_change_by_uplift_splits_the_period_and_keeps_quantities() -> None:
    s = snap([TEN_SEATS, repriced("p", "2025-07-01", uplift="10")])
    assert periods(s) == [("2025-01-01", "2025-07-01", "10", "100.00", "600.00"),
                          ("2025-07-01", "2026-01-01", "10", "110.00", "660.00")]  # fmt: skip
    (_, change) = s.actions
    assert (change.category, change.subtype, change.quantity_change) == ("price_change", None, "0")
    assert (change.mrr_change, change.amount_change) == ("10.00", "60.00")


def test_price_change_to_a_unit_price_reprices_every_tranche_from_its_date_on() -> None:
    events: list[AssetEvent] = [
        TEN_SEATS, changed("u", "2025-03-01", "5", price="60"),
        repriced("p", "2025-09-01", price="240"), changed("u2", "2025-11-01", "1"),
    ]  # fmt: skip
    s = snap(events, as_of="2025-12-01")
    # From Sep 1: 15 × 240 / 12 = 300; the upsell after takes the new newest price, 240.
    assert [p[3] for p in periods(s)] == ["100.00", "125.00", "300.00", "320.00"]
    assert adds_up(s)


def test_price_change_outside_the_lifecycle_is_pending_with_the_window_reasons() -> None:
    s = snap([TEN_SEATS, repriced("early", "2024-12-31", uplift="5"),
              repriced("late", "2026-01-01", uplift="5")])  # fmt: skip
    assert pending(s) == [("early", "before_lifecycle_start"), ("late", "outside_lifecycle")]


# --- §9.2 swaps, upgrades, downgrades ----------------------------------------------------


def test_partial_upgrade_moves_units_like_a_transfer_and_names_the_target() -> None:
    state = fold([TEN_SEATS, swapped("s", "2025-04-01", "4", price="240", target="B")])
    s = render(state, asset_id="A", version=1, as_of=d("2025-05-01"), updated_by_event_id=None)
    assert s is not None and (s.status, s.current_quantity, s.current_mrr) == (
        "active",
        "6",
        "60.00",
    )
    upgrade = s.actions[1]
    assert (upgrade.category, upgrade.subtype, upgrade.related_asset_id) == (
        "upgrade", "upgrade_from", "B",
    )  # fmt: skip
    (out,) = state.transfers_out
    (moved,) = out.periods
    assert [(t.quantity, t.unit_price) for t in moved.tranches] == [(q("4"), q("240"))]
    assert (moved.start, moved.end) == (d("2025-04-01"), d("2026-01-01"))


def test_full_swap_ends_the_source_as_replaced() -> None:
    events: list[AssetEvent] = [TEN_SEATS, swapped("s", "2025-04-01", "10", kind=Movement.SWAP)]
    s = snap(events, as_of="2025-05-01")
    assert (s.status, s.ended_by, s.lifecycle_end_date) == ("replaced", "swap", d("2025-04-01"))
    assert s.actions[1].subtype == "swap_out"
    assert snap(events, as_of="2025-03-01").status == "active"


def test_downgrade_of_more_than_there_is_is_pending_insufficient_quantity() -> None:
    s = snap([TEN_SEATS, swapped("s", "2025-04-01", "11", kind=Movement.DOWNGRADE)])
    assert pending(s) == [("s", "insufficient_quantity")]


def test_a_full_transfer_says_it_ended_the_lifecycle() -> None:
    s = snap([TEN_SEATS, transferred("t", "2025-04-01", "10")], as_of="2025-02-01")
    assert (s.status, s.ended_by) == ("active", "transfer")  # known before the date comes


# --- §9.3 voids ---------------------------------------------------------------------------


def test_a_void_takes_its_event_out_wherever_it_sorts() -> None:
    kept: list[AssetEvent] = [TEN_SEATS, changed("u2", "2025-09-01", "1")]
    s = snap([*kept, changed("u1", "2025-03-01", "5"), voided("v", "u1", reason="typo")])
    assert actions(s) == actions(snap(kept))
    assert [(v.event_id, v.voided_by, v.reason) for v in s.voided_events] == [("u1", "v", "typo")]


def test_a_void_of_a_pending_event_removes_it_from_pending() -> None:
    s = snap([TEN_SEATS, changed("bad", "2027-01-01", "1"), voided("v", "bad")])
    assert pending(s) == []
    assert [v.event_id for v in s.voided_events] == ["bad"]


def test_two_voids_of_one_event_both_apply_and_are_listed_sorted() -> None:
    s = snap([TEN_SEATS, changed("u", "2025-03-01", "5"), voided("v2", "u"), voided("v1", "u"),
              changed("w", "2025-04-01", "1"), voided("v0", "w")])  # fmt: skip
    assert [(v.event_id, v.voided_by) for v in s.voided_events] == [
        ("u", "v1"), ("u", "v2"), ("w", "v0"),
    ]  # fmt: skip


def test_a_void_of_an_unknown_event_or_of_a_void_is_pending() -> None:
    s = snap([TEN_SEATS, voided("v1", "never"), voided("v2", "v1")])
    assert pending(s) == [("v1", "unknown_event"), ("v2", "invalid_void")]
    assert all(p.effective_date is None for p in s.pending_events)


def test_a_voided_creation_leaves_the_asset_without_one() -> None:
    state = fold([TEN_SEATS, changed("u", "2025-03-01", "5"), voided("v", "e1")])
    assert state.terms is None
    assert [(p.event_id, p.reason_code.value) for p in state.pending] == [("u", "unknown_asset")]
    assert [v.event_id for v in state.voided] == ["e1"]


def test_a_voided_transfer_no_longer_moves_anything() -> None:
    state = fold([TEN_SEATS, transferred("t", "2025-04-01", "4"), voided("v", "t")])
    assert state.transfers_out == ()
    assert state.periods[-1].quantity == 10


def test_the_earlier_creation_voided_lets_the_later_one_win() -> None:
    later = created("e2", quantity="3", start="2025-02-01", end="2026-02-01")
    s = snap([TEN_SEATS, later, voided("v", "e1")])
    assert (s.lifecycle_start_date, s.current_quantity) == (d("2025-02-01"), "3")
    assert pending(s) == []


# --- §9.4 automatic renewals --------------------------------------------------------------

MONTHLY = created(quantity="10", price="19.99", term=1, start="2025-01-01", end="2025-04-01",
                  renewal=3, auto_renew=True, uplift="3")  # fmt: skip


def test_automatic_renewals_apply_up_to_as_of_with_the_uplift_compounding() -> None:
    s = snap([MONTHLY], as_of="2025-07-01")
    assert [p[3] for p in periods(s)] == ["199.90", "205.90", "212.07"]
    assert [a[0] for a in actions(s)] == [
        "e1/1", "A/auto-renewal/2025-04-01", "A/auto-renewal/2025-07-01",
    ]  # fmt: skip
    renewal = s.actions[1]
    assert (renewal.category, renewal.subtype, renewal.event_id, renewal.order_id) == (
        "renewal", "auto_renewal", None, None,
    )  # fmt: skip
    assert renewal.action_time.isoformat() == "2025-04-01T00:00:00+00:00"
    assert (s.auto_renew, s.next_renewal_date) == (True, d("2025-10-01"))
    assert adds_up(s)


def test_no_automatic_renewal_before_its_date() -> None:
    s = snap([MONTHLY], as_of="2025-03-31")
    assert (len(s.actions), s.lifecycle_end_date, s.next_renewal_date) == (
        1, d("2025-04-01"), d("2025-04-01"),
    )  # fmt: skip


def test_an_explicit_renewal_at_the_end_takes_the_automatic_ones_place() -> None:
    s = snap([MONTHLY, renewed("r", "2025-04-01", end="2025-05-01", uplift="10")], "2025-05-15")
    assert [a[0] for a in actions(s)] == ["e1/1", "r", "A/auto-renewal/2025-05-01"]
    assert [p[3] for p in periods(s)] == ["199.90", "219.89", "226.49"]


def test_a_notice_of_non_renewal_stops_it_with_zero_deltas() -> None:
    s = snap([MONTHLY, cancelled("n", "2025-07-01")], as_of="2025-09-01")
    assert actions(s)[-1] == ("n", None, "2025-07-01", "0", "0.00", "0.00")
    assert (s.status, s.next_renewal_date, s.lifecycle_end_date) == (
        "cancelled", None, d("2025-07-01"),
    )  # fmt: skip


def test_an_automatic_renewal_comes_before_a_change_on_its_first_day() -> None:
    s = snap([MONTHLY, changed("u", "2025-04-01", "2")], as_of="2025-04-15")
    assert [a[0] for a in actions(s)] == ["e1/1", "A/auto-renewal/2025-04-01", "u"]


def test_a_change_after_the_end_waits_for_the_renewal_then_applies() -> None:
    upsell = changed("u", "2025-05-01", "2")
    early = snap([MONTHLY, upsell], as_of="2025-03-15")
    (waiting,) = early.pending_events
    assert (waiting.reason_code, waiting.waiting) == ("outside_lifecycle", True)
    later = snap([MONTHLY, upsell], as_of="2025-04-01")
    assert pending(later) == [] and later.current_quantity == "10"
    assert snap([MONTHLY, upsell], as_of="2025-05-01").current_quantity == "12"


def test_a_pending_event_does_not_wait_once_no_renewal_can_come() -> None:
    s = snap([MONTHLY, cancelled("n", "2025-04-01"), changed("u", "2025-05-01", "2")], "2025-03-15")
    (stuck,) = s.pending_events
    assert (stuck.event_id, stuck.waiting) == ("u", False)


def test_a_cancelled_or_replaced_asset_does_not_renew() -> None:
    for ending in (cancelled("c", "2025-03-01"), swapped("s", "2025-03-01", "10")):
        s = snap([MONTHLY, ending], as_of="2025-09-01")
        assert (len(s.actions), s.next_renewal_date) == (2, None)


def test_the_default_renewal_end_counts_on_the_anchors_grid() -> None:
    terms = created(start="2025-01-31", end="2025-02-28", renewal=1).terms
    assert default_renewal_end(terms, d("2025-02-28")) == d("2025-03-31")  # SPEC §3
    assert default_renewal_end(terms, d("2025-03-15")) == d("2025-04-15")  # off the grid
    s = snap([created(start="2025-01-31", end="2025-02-28", renewal=1, term=1),
              renewed("r", "2025-02-28")], as_of="2025-03-01")  # fmt: skip
    assert s.lifecycle_end_date == d("2025-03-31")


def test_a_notice_arriving_after_the_renewal_it_stops_was_applied_undoes_it() -> None:
    """The clock renewed at E; a cancellation dated E then arrives: no renewal at E after all."""
    notice = cancelled("n", "2025-04-01")
    log = FoldLog.of((), as_of=d("2025-04-15")).adding(MONTHLY)
    assert log.state.actions[-1].action_id == "A/auto-renewal/2025-04-01"
    late = log.adding(notice)
    assert late.state == fold([MONTHLY, notice], as_of=d("2025-04-15"))
    assert [a.action_id for a in late.state.actions] == ["e1/1", "n"]
