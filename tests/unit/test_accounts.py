"""Account MRR rollups and movements (SPEC §10): domain/accounts.py with no fixtures."""

from __future__ import annotations

import importlib.util
import json
import math
from datetime import date
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from domain.accounts import (
    AccountBook,
    AccountRecord,
    AssetContribution,
    AssetRemoval,
    CurrencyRecord,
    MovementType,
    MrrSpan,
    apply,
    build_book,
    contribution_from_snapshot,
    contribution_of,
    empty_book,
    has_assets,
    record_to_dict,
    render,
    same_content,
)
from domain.errors import DomainError
from domain.money import ZERO

ACCOUNT = "ACC-1"
AS_OF = date(2025, 6, 15)

HERE = Path(__file__).resolve().parent
VENDORED = HERE.parent / "scenarios"
SHARED = HERE.parents[2] / "shared" / "scenarios"
# The public §10 scenarios; any other expected file with "accounts" is checked too.
ACCOUNT_SCENARIOS = ("account-movements", "auto-renewal", "upgrade-swap")


def d(text: str) -> date:
    return date.fromisoformat(text)


def span(start: str, end: str | None, mrr: str) -> MrrSpan:
    return MrrSpan(d(start), None if end is None else d(end), Fraction(mrr))


def asset(
    asset_id: str,
    *spans: MrrSpan,
    currency: str = "USD",
    active: bool = True,
    account_id: str = ACCOUNT,
) -> AssetContribution:
    return AssetContribution(asset_id, account_id, currency, spans, active)


def rendered(*changes: AssetContribution | AssetRemoval, as_of: date = AS_OF) -> AccountRecord:
    record = render(build_book(ACCOUNT, changes), as_of)
    if record is None:
        raise AssertionError("expected a record, got a tombstone")
    return record


def only_currency(record: AccountRecord) -> CurrencyRecord:
    (part,) = record.currencies
    return part


def timeline(part: CurrencyRecord) -> list[tuple[str, str | None, str]]:
    return [
        (
            s.start_date.isoformat(),
            None if s.end_date is None else s.end_date.isoformat(),
            str(s.mrr),
        )
        for s in part.mrr_timeline
    ]


def moves(part: CurrencyRecord) -> list[tuple[str, MovementType, str, bool]]:
    return [(m.date.isoformat(), m.type, str(m.mrr_change), m.scheduled) for m in part.movements]


# --- movement types ----------------------------------------------------------------------


def test_the_first_mrr_on_an_account_is_new_business() -> None:
    part = only_currency(rendered(asset("A", span("2025-01-01", "2025-12-01", "100"))))
    assert moves(part)[0] == ("2025-01-01", MovementType.NEW_BUSINESS, "100", False)


def test_growth_from_a_positive_mrr_is_expansion() -> None:
    part = only_currency(
        rendered(
            asset("A", span("2025-01-01", "2025-12-01", "100")),
            asset("B", span("2025-03-01", "2025-12-01", "50")),
        )
    )
    assert moves(part)[1] == ("2025-03-01", MovementType.EXPANSION, "50", False)


def test_a_decrease_that_stays_positive_is_contraction() -> None:
    part = only_currency(
        rendered(
            asset("A", span("2025-01-01", "2025-04-01", "100"), span("2025-04-01", None, "60"))
        )
    )
    assert moves(part)[1] == ("2025-04-01", MovementType.CONTRACTION, "-40", False)


def test_falling_to_zero_is_churn() -> None:
    part = only_currency(rendered(asset("A", span("2025-01-01", "2025-04-01", "100"))))
    assert moves(part)[-1] == ("2025-04-01", MovementType.CHURN, "-100", False)


def test_mrr_returning_after_a_churn_is_reactivation() -> None:
    part = only_currency(
        rendered(
            asset("A", span("2025-01-01", "2025-02-01", "100")),
            asset("B", span("2025-03-01", "2025-04-01", "70")),
        )
    )
    assert [m[1] for m in moves(part)] == [
        MovementType.NEW_BUSINESS,
        MovementType.CHURN,
        MovementType.REACTIVATION,
        MovementType.CHURN,
    ]


def test_movements_after_as_of_are_scheduled_and_those_on_it_are_not() -> None:
    part = only_currency(
        rendered(
            asset(
                "A", span("2025-01-01", "2025-06-15", "100"), span("2025-06-15", "2025-09-01", "80")
            )
        )
    )
    assert [(m.date.isoformat(), m.scheduled) for m in part.movements] == [
        ("2025-01-01", False),
        ("2025-06-15", False),
        ("2025-09-01", True),
    ]


def test_a_backdated_asset_turns_a_later_new_business_into_reactivation() -> None:
    late = asset("B", span("2025-05-01", "2025-06-01", "10"))
    before = only_currency(rendered(late))
    after = only_currency(rendered(late, asset("A", span("2025-01-01", "2025-02-01", "5"))))
    assert before.movements[0].type is MovementType.NEW_BUSINESS
    assert after.movements[2].type is MovementType.REACTIVATION


# --- timeline shape ----------------------------------------------------------------------


def test_the_timeline_starts_at_the_earliest_asset_start_even_at_zero_mrr() -> None:
    part = only_currency(
        rendered(
            asset(
                "A", span("2025-01-01", "2025-03-01", "0"), span("2025-03-01", "2025-05-01", "40")
            )
        )
    )
    assert timeline(part) == [
        ("2025-01-01", "2025-03-01", "0"),
        ("2025-03-01", "2025-05-01", "40"),
        ("2025-05-01", None, "0"),
    ]
    assert moves(part)[0] == ("2025-03-01", MovementType.NEW_BUSINESS, "40", False)


def test_one_asset_ending_as_another_starts_at_the_same_mrr_makes_no_movement() -> None:
    part = only_currency(
        rendered(
            asset("OLD", span("2025-01-01", "2025-04-01", "100")),
            asset("NEW", span("2025-04-01", "2025-08-01", "100")),
        )
    )
    assert timeline(part) == [("2025-01-01", "2025-08-01", "100"), ("2025-08-01", None, "0")]
    assert [m.date.isoformat() for m in part.movements] == ["2025-01-01", "2025-08-01"]


def test_an_account_whose_only_asset_is_in_the_future_starts_its_timeline_then() -> None:
    part = only_currency(
        rendered(asset("A", span("2025-09-01", "2026-09-01", "150"), active=False))
    )
    assert (part.current_mrr, part.current_arr, part.active_assets) == (ZERO, ZERO, 0)
    assert timeline(part) == [("2025-09-01", "2026-09-01", "150"), ("2026-09-01", None, "0")]
    assert moves(part)[0] == ("2025-09-01", MovementType.NEW_BUSINESS, "150", True)


def test_current_arr_is_twelve_times_the_rounded_current_mrr() -> None:
    part = only_currency(
        rendered(
            asset("A", span("2025-01-01", "2026-01-01", "20.83")),
            asset("B", span("2025-01-01", "2026-01-01", "83.33")),
        )
    )
    assert (part.current_mrr, part.current_arr) == (Fraction("104.16"), Fraction("1249.92"))


def test_currencies_are_rolled_up_separately_each_with_its_own_history() -> None:
    record = rendered(
        asset("U", span("2025-01-01", "2025-02-01", "50")),
        asset("E", span("2025-03-01", "2025-09-01", "99"), currency="EUR"),
        asset("J", span("2025-03-01", "2025-09-01", "25000"), currency="JPY"),
    )
    assert [p.currency for p in record.currencies] == ["EUR", "JPY", "USD"]
    eur, jpy, usd = record.currencies
    # EUR starting after the USD churn is new business in EUR, not a reactivation.
    assert eur.movements[0].type is MovementType.NEW_BUSINESS
    assert [eur.current_mrr, jpy.current_mrr, usd.current_mrr] == [99, 25000, 0]
    currencies = record_to_dict(record, 1)["currencies"]
    assert currencies[1]["current_mrr"] == "25000"
    assert currencies[0]["current_arr"] == "1188.00"


def test_expired_and_cancelled_assets_still_count_for_the_dates_they_served() -> None:
    part = only_currency(rendered(asset("A", span("2025-01-01", "2025-03-01", "10"), active=False)))
    assert timeline(part)[0] == ("2025-01-01", "2025-03-01", "10")
    assert part.active_assets == 0


# --- auto-renewal ------------------------------------------------------------------------


def snapshot(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "asset_id": "AST-1",
        "account_id": ACCOUNT,
        "currency": "USD",
        "status": "active",
        "next_renewal_date": None,
        "state_periods": [
            {"start_date": "2025-01-01", "end_date": "2025-04-01", "mrr": "0.00"},
            {"start_date": "2025-04-01", "end_date": "2026-01-01", "mrr": "50.00"},
        ],
    }
    base.update(overrides)
    return base


def test_a_snapshot_without_a_renewal_due_gives_its_periods_as_spans() -> None:
    contribution = contribution_from_snapshot(snapshot(status="expired"))
    assert contribution.spans == (
        span("2025-01-01", "2025-04-01", "0"),
        span("2025-04-01", "2026-01-01", "50"),
    )
    assert contribution.active is False


def test_an_auto_renewing_asset_counts_its_last_mrr_past_its_end() -> None:
    contribution = contribution_from_snapshot(snapshot(next_renewal_date="2026-01-01"))
    assert contribution.spans[-1] == span("2025-04-01", None, "50")
    part = only_currency(rendered(contribution, as_of=d("2026-03-01")))
    assert timeline(part)[-1] == ("2025-04-01", None, "50")
    assert part.current_mrr == 50
    assert [m.type for m in part.movements] == [MovementType.NEW_BUSINESS]


def test_a_next_renewal_date_other_than_the_lifecycle_end_is_refused() -> None:
    with pytest.raises(DomainError):
        contribution_from_snapshot(snapshot(next_renewal_date="2025-12-01"))


def test_a_float_mrr_in_a_snapshot_is_refused() -> None:
    periods = [{"start_date": "2025-01-01", "end_date": "2025-04-01", "mrr": 0.1}]
    with pytest.raises(DomainError):
        contribution_from_snapshot(snapshot(state_periods=periods))


# --- changes, removals, tombstones --------------------------------------------------------


def test_a_new_contribution_replaces_the_asset_s_old_spans() -> None:
    first = asset("A", span("2025-01-01", "2025-12-01", "100"))
    second = asset(
        "A", span("2025-01-01", "2025-06-01", "100"), span("2025-06-01", "2025-12-01", "130")
    )
    part = only_currency(rendered(first, second))
    assert timeline(part) == [
        ("2025-01-01", "2025-06-01", "100"),
        ("2025-06-01", "2025-12-01", "130"),
        ("2025-12-01", None, "0"),
    ]


def test_a_tombstone_removes_the_asset_from_the_account() -> None:
    kept = asset("A", span("2025-01-01", "2025-12-01", "100"))
    gone = asset("B", span("2024-06-01", "2025-12-01", "40"))
    assert rendered(kept, gone, AssetRemoval("B")) == rendered(kept)


def test_an_account_left_without_assets_renders_none() -> None:
    book = build_book(ACCOUNT, [asset("A", span("2025-01-01", "2025-12-01", "100"))])
    emptied = apply(book, AssetRemoval("A"))
    assert render(emptied, AS_OF) is None
    assert emptied == empty_book(ACCOUNT) and not has_assets(emptied)


def test_an_asset_changing_currency_leaves_the_old_currency() -> None:
    record = rendered(
        asset("A", span("2025-01-01", "2025-12-01", "100")),
        asset("A", span("2025-01-01", "2025-12-01", "90"), currency="EUR"),
    )
    assert [p.currency for p in record.currencies] == ["EUR"]


def test_an_asset_without_periods_lists_its_currency_with_an_empty_timeline() -> None:
    part = only_currency(rendered(asset("A", active=False)))
    assert part.current_mrr == 0
    assert part.mrr_timeline == () and part.movements == ()


def test_applying_the_same_contribution_again_returns_the_same_book() -> None:
    book = build_book(ACCOUNT, [asset("A", span("2025-01-01", "2025-12-01", "100"))])
    assert apply(book, asset("A", span("2025-01-01", "2025-12-01", "100"))) is book
    assert apply(book, AssetRemoval("unknown")) is book


def test_a_contribution_for_another_account_is_a_programmer_error() -> None:
    with pytest.raises(DomainError):
        apply(empty_book(ACCOUNT), asset("A", span("2025-01-01", None, "1"), account_id="OTHER"))


@pytest.mark.parametrize(
    "spans",
    [
        (span("2025-03-01", "2025-04-01", "1"), span("2025-01-01", "2025-02-01", "1")),
        (span("2025-01-01", "2025-04-01", "1"), span("2025-03-01", "2025-05-01", "1")),
        (span("2025-01-01", None, "1"), span("2025-03-01", "2025-05-01", "1")),
        (span("2025-01-01", "2025-01-01", "1"),),
        (span("2025-01-01", "2025-02-01", "0.005"),),
        (span("2025-01-01", "2025-02-01", "-1"),),
    ],
    ids=["unsorted", "overlapping", "open-before-another", "empty", "unrounded", "negative"],
)
def test_spans_that_cannot_come_from_a_published_snapshot_are_refused(
    spans: tuple[MrrSpan, ...],
) -> None:
    with pytest.raises(DomainError):
        asset("A", *spans)


def test_a_float_mrr_span_is_refused() -> None:
    with pytest.raises(DomainError):
        asset("A", MrrSpan(d("2025-01-01"), None, 0.5))  # type: ignore[arg-type]


def test_contribution_of_reads_what_the_asset_adds_now() -> None:
    a = asset("A", span("2025-01-01", "2025-12-01", "100"))
    assert contribution_of(build_book(ACCOUNT, [a]), "A") == a
    assert contribution_of(build_book(ACCOUNT, [a]), "B") is None


# --- record shape and rendering -----------------------------------------------------------


def test_record_to_dict_has_exactly_the_spec_shape() -> None:
    record = rendered(asset("A", span("2025-01-01", "2025-12-01", "20.8")))
    document = record_to_dict(record, 7)
    assert list(document) == ["account_id", "version", "as_of", "currencies"]
    assert (document["version"], document["as_of"]) == (7, "2025-06-15")
    (part,) = document["currencies"]
    assert list(part) == [
        "currency",
        "current_mrr",
        "current_arr",
        "active_assets",
        "mrr_timeline",
        "movements",
    ]
    assert (part["current_mrr"], part["current_arr"], part["active_assets"]) == (
        "20.80",
        "249.60",
        1,
    )
    assert part["mrr_timeline"][-1] == {"start_date": "2025-12-01", "end_date": None, "mrr": "0.00"}
    assert part["movements"][0] == {
        "date": "2025-01-01",
        "type": "new_business",
        "mrr_before": "0.00",
        "mrr_after": "20.80",
        "mrr_change": "20.80",
        "scheduled": False,
    }
    assert json.loads(json.dumps(document)) == document


def test_an_unchanged_currency_reuses_its_rendered_part() -> None:
    book = build_book(
        ACCOUNT,
        [
            asset("U", span("2025-01-01", "2025-12-01", "10")),
            asset("E", span("2025-01-01", "2025-12-01", "20"), currency="EUR"),
        ],
    )
    first = render(book, AS_OF)
    changed = apply(book, asset("U", span("2025-01-01", "2025-12-01", "11")))
    second = render(changed, AS_OF, previous=(book, first))
    assert first is not None and second is not None
    assert second.currencies[0] is first.currencies[0]  # EUR untouched: reused
    assert second.currencies[1] != first.currencies[1]
    assert second == render(changed, AS_OF)
    # Another as_of renders afresh.
    later = render(changed, d("2026-01-01"), previous=(changed, second))
    assert later is not None and later.currencies[0].current_mrr == 0


def test_records_differing_only_in_as_of_have_the_same_content() -> None:
    a = asset("A", span("2025-01-01", "2025-12-01", "10"))
    assert same_content(rendered(a, as_of=d("2025-06-01")), rendered(a, as_of=d("2025-07-01")))
    assert not same_content(rendered(a, as_of=d("2025-06-01")), rendered(a, as_of=d("2025-12-01")))
    assert same_content(None, None) and not same_content(None, rendered(a))


def fresh_nodes(new: object, old: object) -> int:
    """Nodes of tree `new` that are not shared with tree `old`."""
    seen: set[int] = set()
    stack = [old]
    while stack:
        node = stack.pop()
        if node is not None:
            seen.add(id(node))
            stack += [node.left, node.right]  # type: ignore[attr-defined]
    count, stack = 0, [new]
    while stack:
        node = stack.pop()
        if node is not None and id(node) not in seen:
            count += 1
            stack += [node.left, node.right]  # type: ignore[attr-defined]
    return count


@pytest.mark.parametrize("size", [100, 3000])
def test_one_asset_s_change_copies_only_a_logarithmic_path(size: int) -> None:
    book: AccountBook = empty_book(ACCOUNT)
    for i in range(size):
        start = date.fromordinal(d("2020-01-01").toordinal() + i)
        book = apply(book, asset(f"A{i:05d}", MrrSpan(start, None, Fraction(i + 1))))
    changed = apply(book, asset("A00050", span("2030-01-01", "2030-02-01", "7")))
    old_usd, new_usd = book.currencies[0], changed.currencies[0]
    # A few paths of depth ~ 2 ln n per touched date, far below n.
    budget = 12 * math.log2(size)
    assert fresh_nodes(new_usd.changes, old_usd.changes) <= budget
    assert fresh_nodes(new_usd.starts, old_usd.starts) <= budget
    assert fresh_nodes(changed.contributions, book.contributions) <= budget


def _treap_shape(node: Any) -> Any:
    return None if node is None else (node.key, node.value, _treap_shape(node.left),
                                      _treap_shape(node.right))  # fmt: skip


def _check_treap(node: Any, low: Any = None, high: Any = None) -> None:
    from domain.accounts import _outranks

    if node is None:
        return
    assert (low is None or low < node.key) and (high is None or node.key < high)
    for child in (node.left, node.right):
        assert child is None or _outranks(node, child)
    _check_treap(node.left, low, node.key)
    _check_treap(node.right, node.key, high)


def test_puts_and_deletes_keep_the_one_treap_of_the_keys() -> None:
    import random

    from domain.accounts import _put

    rnd = random.Random(3)
    tree: Any = None
    contents: dict[date, int] = {}
    for step in range(3000):
        key = date.fromordinal(d("2025-01-01").toordinal() + rnd.randint(0, 200))
        value = None if rnd.random() < 0.35 else step
        tree = _put(tree, key, value)
        if value is None:
            contents.pop(key, None)
        else:
            contents[key] = value
        if step % 100 == 0:
            _check_treap(tree)
            # The same content put in another order gives the very same tree.
            rebuilt: Any = None
            for k in sorted(contents, reverse=True):
                rebuilt = _put(rebuilt, k, contents[k])
            assert _treap_shape(rebuilt) == _treap_shape(tree)
    _check_treap(tree)


def test_a_change_within_one_currency_equals_withdrawing_then_adding() -> None:
    import random

    from domain.accounts import _shift

    rnd = random.Random(5)

    def drawn(asset_id: str) -> AssetContribution:
        day, spans = d("2025-01-01").toordinal() + rnd.randint(0, 90), []
        for _ in range(rnd.randint(0, 4)):
            end = day + rnd.randint(1, 60)
            spans.append(MrrSpan(date.fromordinal(day), date.fromordinal(end),
                                 Fraction(rnd.randint(0, 4) * 25, 100)))  # fmt: skip
            day = end + rnd.choice([0, 0, 3])
        return asset(asset_id, *spans, active=rnd.random() < 0.5)

    for _ in range(200):
        book = build_book(ACCOUNT, [drawn(f"A{i}") for i in range(6)])
        asset_id = f"A{rnd.randint(0, 5)}"
        old, new = contribution_of(book, asset_id), drawn(asset_id)
        assert old is not None
        changed = apply(book, new)
        by_steps = _shift(_shift(book.currencies[0], "USD", old, -1), "USD", new, 1)
        assert by_steps is not None and len(changed.currencies) == 1
        entry = changed.currencies[0]
        assert (entry.assets, entry.active_assets) == (by_steps.assets, by_steps.active_assets)
        assert _treap_shape(entry.changes) == _treap_shape(by_steps.changes)
        assert _treap_shape(entry.starts) == _treap_shape(by_steps.starts)


# --- the public scenarios ------------------------------------------------------------------


def _expected_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in (VENDORED, SHARED):
        if folder.is_dir():
            for path in sorted(folder.glob("*.expected.json")):
                name = path.name.removesuffix(".expected.json")
                if name not in found and "accounts" in json.loads(path.read_text()):
                    found[name] = path
    return found


EXPECTED = _expected_files()


def _compare_module(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "scenario_compare_accounts", folder / "compare.py"
    )
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {folder / 'compare.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _records_from_assets(expected: dict[str, Any]) -> list[dict[str, Any]]:
    as_of = d(expected["as_of"])
    books: dict[str, AccountBook] = {}
    for snap in expected["assets"]:
        contribution = contribution_from_snapshot(snap)
        account = contribution.account_id
        books[account] = apply(books.get(account, empty_book(account)), contribution)
    records = []
    for account in sorted(books):
        record = render(books[account], as_of)
        if record is not None:
            records.append(record_to_dict(record, 1))
    return records


def test_the_public_account_scenarios_are_all_found() -> None:
    missing = [name for name in ACCOUNT_SCENARIOS if name not in EXPECTED]
    assert not missing, f"scenario files not found in {VENDORED} or {SHARED}: {missing}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_scenario_s_account_records_follow_from_its_asset_snapshots(name: str) -> None:
    path = EXPECTED[name]
    expected = json.loads(path.read_text())
    got = _records_from_assets(expected)
    # Exactly the expected JSON, strings included (compare.py compares money by value)...
    assert [{k: v for k, v in r.items() if k != "version"} for r in got] == expected["accounts"]
    # ...and compare.py's own judgement agrees.
    problems: list[str] = []
    _compare_module(path.parent).compare_accounts(got, expected["accounts"], problems)
    assert problems == []
