"""State of an asset on a date, computed from its published snapshot (SPEC §4.5)."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

from streams.web.state import format_money, state_at, total_mrr_by_currency
from tests.support.snapshots import CAPRICORN


def with_changes(**changes: Any) -> dict[str, Any]:
    snapshot = copy.deepcopy(CAPRICORN)
    snapshot.update(changes)
    return snapshot


def cancelled_on(day: str, status: str = "active") -> dict[str, Any]:
    """Capricorn cancelled at `day`: periods cut there, lifecycle end = `day`."""
    snapshot = with_changes(status=status, lifecycle_end_date=day)
    snapshot["state_periods"][1]["end_date"] = day
    snapshot["actions"].append({"category": "cancellation", "subtype": None, "effective_date": day})
    return snapshot


def test_a_date_before_the_start_is_scheduled_with_zero_quantity_and_mrr() -> None:
    state = state_at(CAPRICORN, date(2025, 8, 9))
    assert (state.status, state.quantity, state.mrr, state.period) == (
        "scheduled",
        "0",
        "0.00",
        None,
    )


def test_the_start_date_is_the_first_day_of_service() -> None:
    state = state_at(CAPRICORN, date(2025, 8, 10))
    assert (state.status, state.quantity, state.mrr) == ("active", "5", "20.83")
    assert state.period == CAPRICORN["state_periods"][0]


def test_a_period_boundary_belongs_to_the_later_period() -> None:
    assert state_at(CAPRICORN, date(2026, 1, 31)).quantity == "5"
    state = state_at(CAPRICORN, date(2026, 2, 1))
    assert (state.quantity, state.mrr) == ("8", "33.33")
    assert state.period == CAPRICORN["state_periods"][1]


def test_the_last_day_of_service_is_still_active() -> None:
    state = state_at(CAPRICORN, date(2026, 8, 9))
    assert (state.status, state.quantity) == ("active", "8")


def test_the_end_date_is_the_first_day_without_service_so_the_asset_has_expired() -> None:
    state = state_at(CAPRICORN, date(2026, 8, 10))
    assert (state.status, state.quantity, state.mrr, state.period) == ("expired", "0", "0.00", None)


def test_after_a_future_cancellation_the_asset_is_cancelled_not_expired() -> None:
    # The snapshot was taken before the cancellation took effect.
    snapshot = cancelled_on("2026-05-01", status="active")
    assert state_at(snapshot, date(2026, 4, 30)).status == "active"
    assert state_at(snapshot, date(2026, 5, 1)).status == "cancelled"
    assert state_at(snapshot, date(2030, 1, 1)).status == "cancelled"


def test_a_cancelled_snapshot_stays_cancelled_after_its_end() -> None:
    snapshot = cancelled_on("2026-05-01", status="cancelled")
    assert state_at(snapshot, date(2026, 6, 1)).status == "cancelled"


def test_a_cancellation_at_the_term_end_is_a_non_renewal_reported_as_cancelled() -> None:
    snapshot = cancelled_on("2026-08-10")
    assert state_at(snapshot, date(2026, 8, 10)).status == "cancelled"


def test_a_full_transfer_out_ends_the_source_as_transferred() -> None:
    snapshot = with_changes(lifecycle_end_date="2026-04-01")
    snapshot["state_periods"][1]["end_date"] = "2026-04-01"
    snapshot["actions"].append(
        {"category": "transfer", "subtype": "transfer_from", "effective_date": "2026-04-01"}
    )
    assert state_at(snapshot, date(2026, 4, 1)).status == "transferred"


def test_a_partial_transfer_does_not_change_how_the_lifecycle_ends() -> None:
    snapshot = with_changes()
    snapshot["actions"].append(
        {"category": "transfer", "subtype": "transfer_from", "effective_date": "2026-04-01"}
    )
    assert state_at(snapshot, date(2026, 8, 10)).status == "expired"


def test_a_transferred_snapshot_status_is_kept_after_the_end() -> None:
    snapshot = with_changes(status="transferred")
    assert state_at(snapshot, date(2027, 1, 1)).status == "transferred"


def test_zero_mrr_uses_the_currency_digits_of_the_snapshot() -> None:
    jpy = with_changes(currency="JPY", total_lifecycle_amount="300000")
    assert state_at(jpy, date(2020, 1, 1)).mrr == "0"
    bhd = with_changes(currency="BHD", total_lifecycle_amount="12.500")
    assert state_at(bhd, date(2020, 1, 1)).mrr == "0.000"


def test_money_strings_pass_through_unchanged() -> None:
    snapshot = with_changes()
    snapshot["state_periods"][0]["mrr"] = "0.10"
    assert state_at(snapshot, date(2025, 9, 1)).mrr == "0.10"


def test_the_state_names_the_snapshot_version_it_came_from() -> None:
    state = state_at(CAPRICORN, date(2026, 3, 1))
    assert state.to_dict() == {
        "asset_id": "AST-QBO-CAPRICORN",
        "as_of": "2026-03-01",
        "status": "active",
        "quantity": "8",
        "mrr": "33.33",
        "currency": "USD",
        "period": CAPRICORN["state_periods"][1],
        "version": 2,
    }


def test_account_total_mrr_is_an_exact_decimal_sum_per_currency() -> None:
    rows = [("USD", "0.10"), ("USD", "0.20"), ("JPY", "25000"), ("USD", "33.33"), ("JPY", "1")]
    # 0.1 + 0.2 in binary floating point is 0.30000000000000004; exact here.
    assert total_mrr_by_currency(rows) == {"JPY": "25001", "USD": "33.63"}


def test_account_total_of_no_rows_is_empty() -> None:
    assert total_mrr_by_currency([]) == {}


def test_formatted_zero_is_never_negative() -> None:
    assert format_money(Decimal("-0.00"), 2) == "0.00"
    assert format_money(Decimal("-1.005"), 2) == "-1.01"
