"""The account rollup's laws (SPEC §10) over generated asset contributions."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.accounts import (
    AccountBook,
    AccountRecord,
    AssetContribution,
    AssetRemoval,
    CurrencyRecord,
    MrrSpan,
    apply,
    build_book,
    render,
)
from domain.money import ZERO, minor_unit_digits

ACCOUNT = "ACC-A"
OTHER = "ACC-B"
T0 = date(2025, 1, 1)
DAYS = 40  # a narrow window, so dates collide and changes net out
AS_OF = T0 + timedelta(days=DAYS // 2)
CURRENCIES = ("USD", "EUR", "JPY")
ASSET_IDS = tuple(f"AST-{i}" for i in range(6))
OTHER_IDS = tuple(f"AST-B{i}" for i in range(4))  # asset ids are unique across accounts
EXAMPLES = 300


@st.composite
def spans(draw: st.DrawFn, currency: str) -> tuple[MrrSpan, ...]:
    """Sorted, non-overlapping spans, some adjacent, some apart, maybe open-ended at the end."""
    points = sorted(draw(st.sets(st.integers(0, DAYS), max_size=7)))
    unit = Fraction(1, 10 ** minor_unit_digits(currency))
    result: list[MrrSpan] = []
    for start, end in itertools.pairwise(points):
        if draw(st.integers(0, 3)) == 0:
            continue  # a gap (or an omitted zero-MRR period)
        mrr = unit * draw(st.sampled_from([0, 1, 5, 100, 2083, 2083, 99999]))
        result.append(MrrSpan(T0 + timedelta(days=start), T0 + timedelta(days=end), mrr))
    open_ended: bool = draw(st.booleans())
    if result and open_ended:
        last = result[-1]
        result[-1] = MrrSpan(last.start, None, last.mrr)  # auto-renewing
    return tuple(result)


@st.composite
def contributions(
    draw: st.DrawFn,
    account_id: str = ACCOUNT,
    asset_id: str | None = None,
    pool: tuple[str, ...] = ASSET_IDS,
) -> AssetContribution:
    currency = draw(st.sampled_from(CURRENCIES))
    return AssetContribution(
        asset_id=asset_id if asset_id is not None else draw(st.sampled_from(pool)),
        account_id=account_id,
        currency=currency,
        spans=draw(spans(currency)),
        active=draw(st.booleans()),
    )


def distinct_assets(
    account_id: str = ACCOUNT, pool: tuple[str, ...] = ASSET_IDS, min_size: int = 0
) -> st.SearchStrategy[list[AssetContribution]]:
    return st.lists(
        contributions(account_id, pool=pool),
        min_size=min_size,
        max_size=len(pool),
        unique_by=lambda c: c.asset_id,
    )


def changes_of(
    account_id: str = ACCOUNT,
) -> st.SearchStrategy[list[AssetContribution | AssetRemoval]]:
    removal = st.builds(AssetRemoval, st.sampled_from(ASSET_IDS))
    return st.lists(st.one_of(contributions(account_id), removal), max_size=12)


def view(book: AccountBook) -> AccountRecord | None:
    return render(book, AS_OF)


def mrr_on(part: CurrencyRecord, day: date) -> Fraction:
    """The rendered timeline at `day` (0 before it starts)."""
    for span in part.mrr_timeline:
        if span.start_date <= day and (span.end_date is None or day < span.end_date):
            return span.mrr
    return ZERO


def asset_mrr_on(contribution: AssetContribution, day: date) -> Fraction:
    for span in contribution.spans:
        if span.start <= day and (span.end is None or day < span.end):
            return span.mrr
    return ZERO


def probe_days() -> Iterable[date]:
    return (T0 + timedelta(days=k) for k in range(-2, DAYS + 3))


def currency_parts(record: AccountRecord | None) -> dict[str, CurrencyRecord]:
    return {} if record is None else {part.currency: part for part in record.currencies}


def final_contributions(changes: list[AssetContribution | AssetRemoval]) -> list[AssetContribution]:
    """What is left once every change is applied: the last word on each asset."""
    last: dict[str, AssetContribution | None] = {}
    for change in changes:
        last[change.asset_id] = change if isinstance(change, AssetContribution) else None
    return [c for c in last.values() if c is not None]


# --- the laws, as named predicates ----------------------------------------------------------


def movements_add_up_to_the_timeline(record: AccountRecord | None) -> bool:
    for part in currency_parts(record).values():
        for day in probe_days():
            moved = sum((m.mrr_change for m in part.movements if m.date <= day), ZERO)
            if moved != mrr_on(part, day):
                return False
    return True


def timeline_is_the_sum_of_its_assets(
    record: AccountRecord | None, assets: list[AssetContribution]
) -> bool:
    parts = currency_parts(record)
    if set(parts) != {c.currency for c in assets}:
        return False
    for currency, part in parts.items():
        mine = [c for c in assets if c.currency == currency]
        for day in probe_days():
            if mrr_on(part, day) != sum((asset_mrr_on(c, day) for c in mine), ZERO):
                return False
    return True


def timeline_spans_are_maximal_and_tiled(record: AccountRecord | None) -> bool:
    for part in currency_parts(record).values():
        spans = part.mrr_timeline
        if not spans:
            continue
        tiled = all(a.end_date == b.start_date for a, b in itertools.pairwise(spans))
        maximal = all(a.mrr != b.mrr for a, b in itertools.pairwise(spans))
        if not (tiled and maximal and spans[-1].end_date is None):
            return False
    return True


def arrival_order_is_irrelevant(a: AccountBook, b: AccountBook) -> bool:
    return a == b and view(a) == view(b)


def total_mrr_is_conserved(
    before: tuple[AccountBook, AccountBook], after: tuple[AccountBook, AccountBook]
) -> bool:
    def totals(books: tuple[AccountBook, AccountBook]) -> dict[tuple[str, date], Fraction]:
        parts = [part for book in books for part in currency_parts(view(book)).values()]
        return {
            (currency, day): sum((mrr_on(p, day) for p in parts if p.currency == currency), ZERO)
            for currency in CURRENCIES
            for day in probe_days()
        }

    return totals(before) == totals(after)


# --- the tests -----------------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None)
@given(changes_of())
def test_movements_up_to_any_date_add_up_to_the_mrr_on_that_date(
    changes: list[AssetContribution | AssetRemoval],
) -> None:
    record = view(build_book(ACCOUNT, changes))
    assert movements_add_up_to_the_timeline(record)
    assert timeline_spans_are_maximal_and_tiled(record)


@settings(max_examples=EXAMPLES, deadline=None)
@given(changes_of())
def test_the_timeline_is_the_sum_of_the_assets_contributions_at_every_date(
    changes: list[AssetContribution | AssetRemoval],
) -> None:
    record = view(build_book(ACCOUNT, changes))
    assert timeline_is_the_sum_of_its_assets(record, final_contributions(changes))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), distinct_assets())
def test_the_order_in_which_asset_changes_are_applied_does_not_change_the_record(
    data: st.DataObject, assets: list[AssetContribution]
) -> None:
    shuffled = data.draw(st.permutations(assets))
    assert arrival_order_is_irrelevant(build_book(ACCOUNT, assets), build_book(ACCOUNT, shuffled))


@settings(max_examples=EXAMPLES, deadline=None)
@given(changes_of())
def test_a_book_depends_only_on_each_asset_s_last_change_not_on_the_history(
    changes: list[AssetContribution | AssetRemoval],
) -> None:
    direct = build_book(ACCOUNT, final_contributions(changes))
    assert arrival_order_is_irrelevant(build_book(ACCOUNT, changes), direct)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), distinct_assets())
def test_replacing_an_asset_s_contribution_then_restoring_it_gives_the_original_book(
    data: st.DataObject, assets: list[AssetContribution]
) -> None:
    book = build_book(ACCOUNT, assets)
    asset_id = data.draw(st.sampled_from(ASSET_IDS))
    original = next((c for c in assets if c.asset_id == asset_id), None)
    replacement = data.draw(st.one_of(contributions(asset_id=asset_id), st.just(None)))
    step = apply(book, replacement or AssetRemoval(asset_id))
    restored = apply(step, original or AssetRemoval(asset_id))
    assert arrival_order_is_irrelevant(restored, book)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data(), distinct_assets(min_size=1), distinct_assets(OTHER, pool=OTHER_IDS))
def test_moving_an_asset_between_two_accounts_conserves_their_total_mrr_at_every_date(
    data: st.DataObject, mine: list[AssetContribution], theirs: list[AssetContribution]
) -> None:
    source, target = build_book(ACCOUNT, mine), build_book(OTHER, theirs)
    moved = data.draw(st.sampled_from(mine))
    after = (
        apply(source, AssetRemoval(moved.asset_id)),
        apply(target, replace(moved, account_id=OTHER)),
    )
    assert total_mrr_is_conserved((source, target), after)
