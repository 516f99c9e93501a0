"""Anchored month counting and publication rounding (SPEC §4.3)."""

from fractions import Fraction

import pytest

from domain.errors import DomainError, FloatRefusedError
from domain.money import Money, exact, format_money, format_quantity, round_half_up
from domain.months import add_months, month_position, months_between
from tests.support.builders import d


def test_adding_months_clamps_to_month_end_and_always_counts_from_the_anchor() -> None:
    anchor = d("2024-01-31")
    assert [add_months(anchor, k) for k in range(1, 4)] == [
        d("2024-02-29"), d("2024-03-31"), d("2024-04-30"),
    ]  # fmt: skip


def test_a_whole_anchored_month_counts_exactly_one_from_a_31st() -> None:
    anchor = d("2025-01-31")
    assert months_between(anchor, d("2025-01-31"), d("2025-02-28")) == 1
    assert months_between(anchor, d("2025-02-28"), d("2025-03-31")) == 1


def test_leap_day_anchor_counts_february_28_as_a_whole_month_in_a_common_year() -> None:
    anchor = d("2024-02-29")
    assert months_between(anchor, anchor, d("2025-02-28")) == 12
    assert months_between(anchor, anchor, d("2028-02-29")) == 48


def test_anchor_on_the_30th_splits_february_by_its_own_days() -> None:
    anchor = d("2025-01-30")
    # A+1 = Feb 28, A+2 = Mar 30: 30 days in that anchored month.
    assert month_position(anchor, d("2025-03-15")) == 1 + Fraction(15, 30)


def test_months_between_is_additive_across_any_split_point() -> None:
    anchor = d("2025-08-10")
    whole = months_between(anchor, anchor, d("2026-08-10"))
    split = months_between(anchor, anchor, d("2026-02-01")) + months_between(
        anchor, d("2026-02-01"), d("2026-08-10")
    )
    assert whole == split == 12


def test_capricorn_mrr_rounds_half_up_to_cents() -> None:
    assert format_money(Money(5 * exact("49.99") / 12, "USD")) == "20.83"


def test_rounding_is_half_up_away_from_zero_on_ties() -> None:
    assert round_half_up(Fraction(5, 1000), 2) == Fraction(1, 100)
    assert round_half_up(Fraction(-5, 1000), 2) == Fraction(-1, 100)
    assert round_half_up(Fraction(4999, 1000000), 2) == 0


@pytest.mark.parametrize(
    ("currency", "value", "text"),
    [("USD", "1200", "1200.00"), ("JPY", "25000.4", "25000"), ("JPY", "2.5", "3"),
     ("KWD", "1.23456", "1.235"), ("CLF", "0.00005", "0.0001")],
)  # fmt: skip
def test_money_is_published_with_exactly_the_minor_unit_digits(
    currency: str, value: str, text: str
) -> None:
    assert format_money(Money.of(value, currency)) == text


def test_quantities_are_published_without_trailing_zeros() -> None:
    assert [format_quantity(exact(v)) for v in ("5.000", "2.50", "-3", "0.125", "0")] == [
        "5", "2.5", "-3", "0.125", "0",
    ]  # fmt: skip


def test_floats_are_refused_with_a_named_error() -> None:
    with pytest.raises(FloatRefusedError):
        exact(49.99)  # type: ignore[arg-type]


def test_money_refuses_a_float_amount_with_a_named_error() -> None:
    with pytest.raises(FloatRefusedError):
        Money(49.99, "USD")  # type: ignore[arg-type]
    with pytest.raises(FloatRefusedError):
        Money.of(49.99, "USD")  # type: ignore[arg-type]


def test_money_refuses_an_unknown_currency_and_mixing_two() -> None:
    with pytest.raises(DomainError):
        Money.of("1", "XYZ")
    with pytest.raises(DomainError, match="cannot mix"):
        _ = Money.of("1", "USD") + Money.of("1", "EUR")


def test_money_arithmetic_is_exact_and_rounds_only_when_asked() -> None:
    third = Money(Fraction(1, 3), "USD")
    assert (third + third + third).amount == 1
    assert (third - third).amount == 0 and (-third).amount == Fraction(-1, 3)
    assert third.rounded() == Money(Fraction(33, 100), "USD")
    assert format_money(Money(Fraction(-1, 1000), "USD")) == "0.00"  # never "-0.00"
