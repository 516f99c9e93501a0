"""Account rollups (SPEC §10): rules a mutation run of domain/accounts.py showed untested."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

import pytest

from domain.accounts import (
    AccountRecord,
    AssetContribution,
    AssetVersions,
    CurrencyRecord,
    MovementType,
    MrrSpan,
    build_book,
    contribution_from_snapshot,
    next_change_after,
    render,
)
from domain.errors import DomainError

ACCOUNT = "ACC-1"


def d(text: str) -> date:
    return date.fromisoformat(text)


def span(start: str, end: str | None, mrr: str) -> MrrSpan:
    return MrrSpan(d(start), None if end is None else d(end), Fraction(mrr))


def asset(asset_id: str, *spans: MrrSpan, active: bool = True) -> AssetContribution:
    return AssetContribution(asset_id, ACCOUNT, "USD", spans, active)


def only_currency(*assets: AssetContribution, as_of: str) -> CurrencyRecord:
    record = render(build_book(ACCOUNT, assets), d(as_of))
    assert isinstance(record, AccountRecord)
    (part,) = record.currencies
    return part


def test_a_currency_with_no_period_yet_is_listed_with_zero_mrr_arr_and_its_assets() -> None:
    part = only_currency(asset("A", active=True), asset("B", active=True), as_of="2025-06-15")
    assert part == CurrencyRecord("USD", Fraction(0), Fraction(0), 2, (), ())


def test_a_change_on_the_as_of_date_is_already_the_current_mrr() -> None:
    assets = [asset("A", span("2025-01-01", "2025-06-15", "100"), span("2025-06-15", None, "80"))]
    assert only_currency(*assets, as_of="2025-06-15").current_mrr == 80
    assert only_currency(*assets, as_of="2025-06-14").current_mrr == 100
    assert only_currency(*assets, as_of="2025-06-15").current_arr == 960


def test_mrr_below_one_unit_still_counts_as_having_had_mrr() -> None:
    """A 0.50 USD/month account that churns and comes back is a reactivation."""
    part = only_currency(
        asset("A", span("2025-01-01", "2025-02-01", "0.50")),
        asset("B", span("2025-03-01", "2025-04-01", "0.50")),
        as_of="2025-06-15",
    )
    assert [m.type for m in part.movements] == [
        MovementType.NEW_BUSINESS,
        MovementType.CHURN,
        MovementType.REACTIVATION,
        MovementType.CHURN,
    ]


def snapshot_with_mrr(mrr: Any) -> dict[str, Any]:
    return {
        "asset_id": "AST-1",
        "account_id": ACCOUNT,
        "currency": "USD",
        "status": "active",
        "next_renewal_date": None,
        "state_periods": [{"start_date": "2025-01-01", "end_date": "2025-04-01", "mrr": mrr}],
    }


@pytest.mark.parametrize("mrr", [True, None, ["1.00"], "NaN", "Infinity", "lots"])
def test_a_snapshot_mrr_that_is_not_a_finite_decimal_is_refused_as_bad_data(mrr: Any) -> None:
    with pytest.raises(DomainError):
        contribution_from_snapshot(snapshot_with_mrr(mrr))


def test_snapshot_mrrs_may_be_decimal_strings_or_integers() -> None:
    for mrr in ("12.50", 12):
        (only,) = contribution_from_snapshot(snapshot_with_mrr(mrr)).spans
        assert only.mrr == Fraction(mrr if isinstance(mrr, int) else "12.50")


def test_asset_versions_remember_each_asset_s_last_applied_version_persistently() -> None:
    empty = AssetVersions()
    versions = empty.with_version("A", 3).with_version("B", 1).with_version("A", 4)
    assert (versions.get("A"), versions.get("B"), versions.get("C")) == (4, 1, None)
    assert dict(versions.items()) == {"A": 4, "B": 1}
    assert empty.get("A") is None and list(empty.items()) == []  # the old map is untouched


def test_the_next_clock_boundary_is_the_first_mrr_change_after_the_day() -> None:
    book = build_book(
        ACCOUNT,
        [
            asset("A", span("2025-01-01", "2025-04-01", "100"), span("2025-04-01", None, "80")),
            AssetContribution("E", ACCOUNT, "EUR", (span("2025-03-01", "2025-05-01", "9"),), True),
        ],
    )
    assert next_change_after(book, d("2024-12-31")) == d("2025-01-01")
    assert next_change_after(book, d("2025-01-01")) == d("2025-03-01")  # strictly after
    assert next_change_after(book, d("2025-03-15")) == d("2025-04-01")
    assert next_change_after(book, d("2025-04-01")) == d("2025-05-01")
    assert next_change_after(book, d("2025-05-01")) is None
