"""The fold and its operations (SPEC §4.1, §4.2, §4.4, §4.5), one rule per test."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from domain.events import AssetEvent, Category
from domain.fold import fold
from domain.snapshot import render
from domain.snapshot_types import AssetSnapshot
from tests.support.builders import at, cancelled, changed, created, d, renewed, transferred


def snap(
    events: Iterable[AssetEvent], as_of: str = "2025-09-01", asset_id: str = "A"
) -> AssetSnapshot:
    result = render(
        fold(events), asset_id=asset_id, version=1, as_of=d(as_of), updated_by_event_id=None
    )
    assert result is not None
    return result


def periods(s: AssetSnapshot) -> list[tuple[str, str, str, str, str]]:
    return [
        (str(p.start_date), str(p.end_date), p.quantity, p.mrr, p.amount) for p in s.state_periods
    ]


def actions(s: AssetSnapshot) -> list[tuple[str, str, str, str]]:
    return [(a.category, a.quantity_change, a.mrr_change, a.amount_change) for a in s.actions]


def pending(s: AssetSnapshot) -> list[tuple[str, str]]:
    return [(p.event_id, p.reason_code) for p in s.pending_events]


def test_capricorn_reference_example_comes_out_exactly() -> None:
    s = snap([created()])
    assert (s.current_quantity, s.current_mrr, s.total_lifecycle_amount) == ("5", "20.83", "249.95")
    assert s.status == "active"


def test_upsell_splits_the_period_and_rounds_period_amounts_cumulatively() -> None:
    s = snap([created(), changed("up", "2026-02-01", "3", price="49.99")], as_of="2026-03-01")
    assert periods(s) == [
        ("2025-08-10", "2026-02-01", "5", "20.83", "118.93"),
        ("2026-02-01", "2026-08-10", "8", "33.33", "209.63"),
    ]
    assert actions(s)[1] == ("upsell", "3", "12.50", "78.61")
    assert s.total_lifecycle_amount == "328.56"


def test_upsell_without_price_uses_each_periods_newest_tranche_price() -> None:
    events = [created(quantity="1", price="120", start="2025-01-01", end="2026-01-01"),
              changed("up1", "2025-04-01", "1", price="240"),
              changed("up2", "2025-07-01", "1")]  # fmt: skip
    s = snap(events, as_of="2025-08-01")
    # Newest tranche at July is the 240 one: 1×120 + 1×240 + 1×240 per year = 50/month.
    assert s.current_mrr == "50.00"


def test_change_on_the_start_date_creates_no_empty_period() -> None:
    s = snap([created(), changed("up", "2025-08-10", "1")])
    # 6 × 49.99 / 12 = 24.995 rounds half-up to 25.00.
    assert periods(s) == [("2025-08-10", "2026-08-10", "6", "25.00", "299.94")]
    assert actions(s)[1][:3] == ("upsell", "1", "4.17")


def test_downsell_removes_newest_tranche_first() -> None:
    events = [created(quantity="2", price="100", start="2025-01-01", end="2026-01-01"),
              changed("up", "2025-01-01", "2", price="200"),
              changed("down", "2025-07-01", "-3")]  # fmt: skip
    s = snap(events, as_of="2025-08-01")
    # LIFO: both 200-units go, then one 100-unit: one 100-unit remains.
    assert (s.current_quantity, s.current_mrr) == ("1", "8.33")


def test_downsell_to_zero_is_pending_insufficient_quantity() -> None:
    s = snap([created(), changed("down", "2026-01-01", "-5")])
    assert pending(s) == [("down", "insufficient_quantity")]
    assert len(s.actions) == 1


def test_cancellation_cuts_without_a_zero_quantity_period() -> None:
    s = snap([created(), cancelled("c", "2026-02-10")], as_of="2026-03-01")
    assert [p[:3] for p in periods(s)] == [("2025-08-10", "2026-02-10", "5")]
    assert s.lifecycle_end_date == d("2026-02-10")
    assert s.status == "cancelled"
    assert (s.current_quantity, s.current_mrr) == ("0", "0.00")
    assert actions(s)[1] == ("cancellation", "-5", "-20.83", "-124.97")


def test_cancellation_at_the_start_removes_every_period() -> None:
    s = snap([created(), cancelled("c", "2025-08-10")], as_of="2025-09-01")
    assert s.state_periods == ()
    assert s.total_lifecycle_amount == "0.00"
    assert actions(s)[1] == ("cancellation", "-5", "-20.83", "-249.95")
    assert s.status == "cancelled"


def test_cancellation_at_the_end_is_a_non_renewal_with_zero_deltas() -> None:
    s = snap([created(), cancelled("c", "2026-08-10")], as_of="2026-09-01")
    assert actions(s)[1] == ("cancellation", "0", "0.00", "0.00")
    assert s.total_lifecycle_amount == "249.95"
    assert s.status == "cancelled"


def test_renewal_after_a_cancellation_is_not_contiguous() -> None:
    s = snap([created(), cancelled("c", "2026-05-01"), renewed("r", "2026-08-10")])
    assert pending(s) == [("r", "renewal_not_contiguous")]


def test_same_day_renewal_and_cancellation_cancel_the_new_term_by_rank() -> None:
    # Renewals rank before cancellations: the renewal applies, then the cut at its start.
    s = snap([created(), cancelled("c", "2026-08-10"), renewed("r", "2026-08-10")], "2026-09-01")
    assert actions(s)[1:] == [("renewal", "0", "0.00", "249.95"),
                              ("cancellation", "-5", "-20.83", "-249.95")]  # fmt: skip
    assert (s.lifecycle_end_date, s.status) == (d("2026-08-10"), "cancelled")


def test_renewal_appends_a_term_with_zero_quantity_change() -> None:
    s = snap([created(), renewed("r", "2026-08-10")], as_of="2026-09-01")
    assert periods(s)[-1] == ("2026-08-10", "2027-08-10", "5", "20.83", "249.95")
    assert actions(s)[1] == ("renewal", "0", "0.00", "249.95")


def test_renewal_after_a_month_end_term_clamps_its_default_end() -> None:
    events = [created(start="2024-01-31", end="2025-01-31", renewal=1),
              renewed("r", "2025-01-31")]  # fmt: skip
    s = snap(events, as_of="2025-02-01")
    assert s.lifecycle_end_date == d("2025-02-28")
    # Anchored on Jan 31: Jan 31 → Feb 28 is exactly one month.
    assert s.state_periods[-1].amount == "20.83"


def test_renewal_without_renewal_term_defaults_to_twelve_months() -> None:
    s = snap([created(renewal=None), renewed("r", "2026-08-10")])
    assert s.lifecycle_end_date == d("2027-08-10")


def test_renewal_with_unit_price_reprices_every_unit() -> None:
    events = [created(price="120", start="2025-01-01", end="2026-01-01"),
              renewed("r", "2026-01-01", price="144")]  # fmt: skip
    s = snap(events, as_of="2026-02-01")
    assert s.current_mrr == "60.00"
    assert actions(s)[1][:3] == ("renewal", "0", "10.00")


def test_renewal_with_uplift_multiplies_every_tranche() -> None:
    events = [created(quantity="1", price="100", start="2025-01-01", end="2026-01-01"),
              changed("up", "2025-06-01", "1", price="200"),
              renewed("r", "2026-01-01", uplift="10")]  # fmt: skip
    s = snap(events, as_of="2026-02-01")
    assert s.state_periods[-1].amount == "330.00"


def test_renewal_that_does_not_start_at_the_lifecycle_end_is_pending() -> None:
    s = snap([created(), renewed("r", "2026-09-01")])
    assert pending(s) == [("r", "renewal_not_contiguous")]


def test_event_before_the_start_is_pending_before_lifecycle_start() -> None:
    s = snap([created(), changed("early", "2025-01-01", "1")])
    assert pending(s) == [("early", "before_lifecycle_start")]


def test_change_at_or_after_the_end_is_pending_outside_lifecycle() -> None:
    s = snap([created(), changed("late", "2026-08-10", "1")])
    assert pending(s) == [("late", "outside_lifecycle")]


def test_events_without_any_creation_yield_no_snapshot() -> None:
    state = fold([changed("up", "2026-01-01", "1")])
    assert (
        render(state, asset_id="A", version=1, as_of=d("2026-01-01"), updated_by_event_id=None)
        is None
    )
    assert [p.reason_code for p in state.pending] == ["unknown_asset"]


def test_a_second_creation_is_pending_asset_already_exists() -> None:
    s = snap([created(), created("e2", start="2025-09-01")])
    assert pending(s) == [("e2", "asset_already_exists")]


def test_the_earlier_starting_creation_wins_whatever_arrives_first() -> None:
    later, earlier = created("e2", start="2025-09-01"), created("e1")
    assert snap([later, earlier]) == snap([earlier, later])
    assert pending(snap([later, earlier])) == [("e2", "asset_already_exists")]


def test_backdated_upsell_changes_a_later_actions_deltas() -> None:
    late_first = [created(), changed("up2", "2026-03-01", "2")]
    s = snap([*late_first, changed("up1", "2026-01-01", "1")], as_of="2026-04-01")
    assert [a.action_id for a in s.actions] == ["e1/1", "up1", "up2"]
    assert s.actions[2].mrr_change == "8.33"


def test_same_day_events_sort_by_rank_then_time_then_id() -> None:
    events = [created(), cancelled("c", "2026-02-01"),
              changed("u2", "2026-02-01", "1", time=at("2026-01-02T00:00:00Z")),
              changed("u1", "2026-02-01", "1", time=at("2026-01-03T00:00:00Z"))]  # fmt: skip
    s = snap(events, as_of="2026-01-15")
    assert [a.action_id for a in s.actions] == ["e1/1", "u2", "u1", "c"]
    assert actions(s)[3][:2] == ("cancellation", "-7")


def test_full_transfer_moves_everything_and_marks_the_source_transferred() -> None:
    state = fold([created(), transferred("t", "2026-02-01", "5")])
    s = render(state, asset_id="A", version=1, as_of=d("2026-03-01"), updated_by_event_id=None)
    assert s is not None and s.status == "transferred"
    assert s.lifecycle_end_date == d("2026-02-01")
    assert (s.actions[1].category, s.actions[1].subtype, s.actions[1].quantity_change) == (
        "transfer", "transfer_from", "-5",
    )  # fmt: skip
    (out,) = state.transfers_out
    assert [(str(p.start), str(p.end), str(p.quantity)) for p in out.periods] == [
        ("2026-02-01", "2026-08-10", "5")
    ]


def test_transfer_after_an_upsell_at_another_price_moves_the_newest_units() -> None:
    events = [created(quantity="5", price="100", start="2025-01-01", end="2026-01-01"),
              changed("up", "2025-03-01", "2", price="160"),
              transferred("t", "2025-06-01", "3")]  # fmt: skip
    state = fold(events)
    (out,) = state.transfers_out
    (moved,) = out.periods
    assert [(t.quantity, t.unit_price) for t in moved.tranches] == [(1, 100), (2, 160)]
    s = render(state, asset_id="A", version=1, as_of=d("2025-07-01"), updated_by_event_id=None)
    assert s is not None and (s.current_quantity, s.status) == ("4", "active")


def test_changes_after_a_full_transfer_are_outside_the_lifecycle() -> None:
    events = [created(quantity="2", price="120", start="2025-01-01", end="2026-01-01"),
              changed("up", "2025-09-01", "3"), transferred("t", "2025-06-01", "2")]  # fmt: skip
    s = snap(events, as_of="2025-07-01")
    assert pending(s) == [("up", "outside_lifecycle")]
    assert s.status == "transferred"


def test_transfer_of_more_than_there_is_is_pending_insufficient_quantity() -> None:
    s = snap([created(), transferred("t", "2026-02-01", "6")])
    assert pending(s) == [("t", "insufficient_quantity")]


def test_action_amount_changes_add_up_to_the_total() -> None:
    events = [created(), changed("u", "2025-11-17", "3"), changed("dn", "2026-03-03", "-4"),
              renewed("r", "2026-08-10", uplift="7.5"), cancelled("c", "2027-01-19")]  # fmt: skip
    s = snap(events, as_of="2026-12-01")
    assert sum(Decimal(a.amount_change) for a in s.actions) == Decimal(s.total_lifecycle_amount)
    assert sum(Decimal(p.amount) for p in s.state_periods) == Decimal(s.total_lifecycle_amount)


def test_status_follows_as_of_from_scheduled_to_expired() -> None:
    events = [created()]
    days = ("2025-08-09", "2025-08-10", "2026-08-10")
    assert [snap(events, as_of=day).status for day in days] == [
        "scheduled", "active", "expired",
    ]  # fmt: skip
    assert snap(events, as_of="2025-08-09").current_quantity == "0"


def test_jpy_amounts_have_no_minor_digits() -> None:
    s = snap([created(price="10000", currency="JPY", quantity="3")])
    assert (s.current_mrr, s.total_lifecycle_amount) == ("2500", "30000")


def test_cross_sell_is_a_creation_with_its_own_category() -> None:
    s = snap([created(category=Category.CROSS_SELL)])
    assert s.actions[0].category == "cross_sell"
