"""Exact money (SPEC §4.3): what a mutation run of domain/money.py showed untested."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from domain.errors import DomainError
from domain.money import exact


def test_exact_takes_integers_and_decimals_as_they_are() -> None:
    assert exact(7) == Fraction(7)
    assert exact(Decimal("49.99")) == Fraction(4999, 100)
    assert exact(Decimal("-0.125")) == Fraction(-1, 8)


@pytest.mark.parametrize("value", [True, False, None, [1], object()])
def test_exact_refuses_bools_and_other_non_numbers_with_a_domain_error(value: Any) -> None:
    with pytest.raises(DomainError):
        exact(value)
