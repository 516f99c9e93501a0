"""Operations (SPEC §4.2, §9.2): rules a mutation run of domain/operations.py showed untested."""

from __future__ import annotations

from dataclasses import replace

from domain.operations import target_terms
from tests.support.builders import created, d, swapped, transferred

SOURCE = created(product="SEAT", account_id="ACC", start="2025-01-01", end="2026-01-01").terms


def test_a_swap_target_sells_the_swap_s_product_on_the_source_s_account_and_terms() -> None:
    swap = replace(swapped("s", "2025-06-01", "3", product="SEAT-PRO"), product_name="Seat Pro")
    terms = target_terms(SOURCE, swap)
    assert (terms.product_code, terms.product_name) == ("SEAT-PRO", "Seat Pro")
    assert (terms.account_id, terms.lifecycle_start) == ("ACC", d("2025-06-01"))
    assert terms == replace(SOURCE, product_code="SEAT-PRO", product_name="Seat Pro",
                            lifecycle_start=d("2025-06-01"))  # fmt: skip


def test_a_transfer_target_keeps_the_product_on_the_target_account() -> None:
    terms = target_terms(SOURCE, transferred("t", "2025-06-01", "2", target_account="ACC-2"))
    assert terms == replace(SOURCE, account_id="ACC-2", lifecycle_start=d("2025-06-01"))
    assert (terms.product_code, terms.product_name) == (SOURCE.product_code, SOURCE.product_name)
