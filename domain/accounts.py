"""Account MRR rollups and movements (SPEC §10), kept as differences.

Each asset change reaches its account as an `AssetContribution` (built from the
published snapshot by `contribution_from_snapshot`) or an `AssetRemoval`
(tombstone, or the asset moved to another account). `apply` swaps the asset's
old contribution for the new one in an `AccountBook`; `render` turns a book
into an `AccountRecord` as of a date; `record_to_dict` gives SPEC §10's shape.

Why a persistent tree. SPEC §10 asks that one asset's change cost the same
whatever the number of assets on the account, so a book holds, per currency,
the timeline as date → ΔMRR (never re-summed) and the per-asset contributions
(so a change can subtract exactly what the asset added before). Both live in
persistent treaps: `apply` copies only the O(log n) nodes on the paths it
touches and shares the rest, so a book stays an immutable value like the rest
of the domain (safe to keep in a table, to share between renders, and an
`apply` that raises leaves the old book intact), at
O(spans of the asset × log n) per change. A node's priority is a fixed hash of
its key, so a tree's shape depends only on its keys: two books with the same
content are `==`, whatever order their changes came in.

Decisions where SPEC §10 is silent (checked against the public scenarios):

1. The timeline of a currency starts at the earliest first-span start among
   its assets, even when that span's MRR is 0 (a free first period still makes
   the account a customer from that day); `contribution_from_snapshot` keeps
   zero-MRR periods for that reason. Nothing is listed before it, even when
   `as_of` is earlier (an account whose only asset is in the future has a
   timeline from that start, `current_mrr` 0 and a scheduled `new_business`).
2. Spans are maximal: a date where the assets' changes net to zero (one asset
   ends the day another starts at the same MRR, two rounded periods with the
   same MRR) is neither a span boundary nor a movement.
3. After the last change the MRR is whatever remains (0.00 once every term has
   ended, or an auto-renewing asset's last MRR), in a span with `end_date` null.
4. "Never had MRR > 0 before" is judged on the timeline as it is now, per
   currency: a backdated asset can turn a later `new_business` into a
   `reactivation`.
5. `current_mrr` is the timeline at `as_of` (0 before its start); it is a sum of
   rounded MRRs, so already rounded; `current_arr` = 12 × it, no further rounding.
6. `active_assets` counts assets whose snapshot says `active` (as of the
   snapshot's own `as_of`: the worker republishes snapshots when a boundary is
   crossed, which refreshes it).
7. A currency is listed while the account has an asset in it; if none of those
   assets has a state period (e.g. cancelled on its start day) its timeline and
   movements are empty and its MRR is 0.
8. Only the snapshot's status is read for `active`; the timeline uses the
   periods alone, so `expired`, `cancelled`, `replaced` and `transferred`
   assets still count for the dates they served.
9. Removing an asset the book does not hold, or applying the contribution it
   already holds, returns the book unchanged (at-least-once delivery).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import Any, Generic, TypeVar

from domain.errors import DomainError
from domain.money import ZERO, Money, format_money, minor_unit_digits
from domain.snapshot import status_at
from domain.snapshot_types import Status
from domain.state import FoldState, rounded_mrr

# ---------------------------------------------------------------------------
# Inputs: one record per asset change


@dataclass(frozen=True, slots=True)
class MrrSpan:
    """A span of constant published MRR of one asset; `end` None = open-ended (auto-renewing)."""

    start: date
    end: date | None
    mrr: Fraction


@dataclass(frozen=True, slots=True)
class AssetContribution:
    """What one asset adds to its account, from its published (already rounded) snapshot."""

    asset_id: str
    account_id: str
    currency: str
    spans: tuple[MrrSpan, ...]  # sorted, non-overlapping; zero-MRR spans may be omitted
    active: bool  # status == "active" as of the snapshot's as_of

    def __post_init__(self) -> None:
        # Published values only: a float, an unrounded or a negative MRR is a bug upstream.
        scale = 10 ** minor_unit_digits(self.currency)  # raises DomainError for an unknown code
        if not isinstance(self.active, bool):
            raise DomainError(f"{self.asset_id}: active {self.active!r} is not a bool")
        previous_end: date | None = None
        for index, span in enumerate(self.spans):
            if not isinstance(span.mrr, Fraction):
                raise DomainError(f"{self.asset_id}: mrr {span.mrr!r} is not a Fraction")
            # Rounding to the minor unit keeps it exactly when its denominator divides 10^digits.
            if span.mrr < 0 or scale % span.mrr.denominator:
                raise DomainError(f"{self.asset_id}: mrr {span.mrr} is not a published amount")
            if span.end is not None and span.end <= span.start:
                raise DomainError(f"{self.asset_id}: span {span.start}..{span.end} is empty")
            if index and (previous_end is None or span.start < previous_end):
                raise DomainError(f"{self.asset_id}: spans overlap or are not sorted")
            previous_end = span.end


@dataclass(frozen=True, slots=True)
class AssetRemoval:
    """The asset no longer counts on this account (tombstone, or moved to another account)."""

    asset_id: str


def _parse_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise DomainError(f"date {value!r} is not an ISO date string")
    return date.fromisoformat(value)


def _parse_money(value: Any) -> Fraction:
    # Floats (and bools, which are ints) cannot be published money (SPEC §4.3).
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise DomainError(f"money {value!r} is not a decimal string")
    try:
        exact = Decimal(value)
    except InvalidOperation:
        raise DomainError(f"money {value!r} is not a decimal") from None
    if not exact.is_finite():
        raise DomainError(f"money {value!r} is not finite")
    return Fraction(exact)


def contribution_from_snapshot(snapshot: Mapping[str, Any]) -> AssetContribution:
    """The asset's contribution from its snapshot as published (SPEC §5, §9.4).

    While `next_renewal_date` is set the asset is expected to renew, so its last
    period's MRR continues from the lifecycle end on (SPEC §10): that span is
    open-ended. Zero-MRR periods are kept: they can start the account's timeline.
    """
    periods = snapshot["state_periods"]
    spans = [
        MrrSpan(_parse_date(p["start_date"]), _parse_date(p["end_date"]), _parse_money(p["mrr"]))
        for p in periods
    ]
    renewal = snapshot.get("next_renewal_date")
    if renewal is not None:
        if not spans or spans[-1].end != _parse_date(renewal):
            raise DomainError(
                f"{snapshot['asset_id']}: next_renewal_date {renewal} is not the lifecycle end"
            )
        last = spans[-1]
        spans[-1] = MrrSpan(last.start, None, last.mrr)
    return AssetContribution(
        asset_id=snapshot["asset_id"],
        account_id=snapshot["account_id"],
        currency=snapshot["currency"],
        spans=tuple(spans),
        active=snapshot["status"] == "active",
    )


def contribution_from_fold(asset_id: str, fold: FoldState, as_of: date) -> AssetContribution | None:
    """The same contribution as `contribution_from_snapshot` of the asset's published snapshot,
    straight from its fold (what the worker sends its account on every change): None when
    the asset does not exist."""
    terms = fold.terms
    if terms is None:
        return None
    spans = [MrrSpan(p.start, p.end, rounded_mrr(p, terms).amount) for p in fold.periods]
    if fold.next_renewal is not None and spans:
        last = spans[-1]
        spans[-1] = MrrSpan(last.start, None, last.mrr)
    return AssetContribution(
        asset_id=asset_id,
        account_id=terms.account_id,
        currency=terms.currency,
        spans=tuple(spans),
        active=status_at(fold, terms, as_of) is Status.ACTIVE,
    )


# ---------------------------------------------------------------------------
# A persistent treap: immutable nodes, path copying, shape fixed by the keys

K = TypeVar("K", date, str)
V = TypeVar("V")

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class _AccountTreeNode(Generic[K, V]):
    key: K
    value: V
    left: _AccountTreeNode[K, V] | None = None
    right: _AccountTreeNode[K, V] | None = None


@lru_cache(maxsize=1 << 16)
def _priority(key: date | str) -> int:
    """A fixed pseudo-random priority (splitmix64): the same in every process, unlike hash().

    Memoised (a pure function of the key, asked for again on every path through the tree)."""
    seed = key.toordinal() if isinstance(key, date) else zlib.crc32(key.encode("utf-8"))
    z = (seed + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _outranks(a: K, b: K) -> bool:
    """Heap order of the treap; ties broken by key so the shape is unique for a key set."""
    pa, pb = _priority(a), _priority(b)
    return pa > pb or (pa == pb and a < b)


def _split(
    node: _AccountTreeNode[K, V] | None, key: K
) -> tuple[_AccountTreeNode[K, V] | None, _AccountTreeNode[K, V] | None]:
    """(keys < key, keys > key); the node at `key`, if any, is dropped."""
    if node is None:
        return None, None
    if key < node.key:
        lower, upper = _split(node.left, key)
        return lower, _AccountTreeNode(node.key, node.value, upper, node.right)
    if node.key < key:
        lower, upper = _split(node.right, key)
        return _AccountTreeNode(node.key, node.value, node.left, lower), upper
    return node.left, node.right


def _merge(
    a: _AccountTreeNode[K, V] | None, b: _AccountTreeNode[K, V] | None
) -> _AccountTreeNode[K, V] | None:
    """Join two treaps where every key of `a` is below every key of `b`."""
    if a is None:
        return b
    if b is None:
        return a
    if _outranks(a.key, b.key):
        return _AccountTreeNode(a.key, a.value, a.left, _merge(a.right, b))
    return _AccountTreeNode(b.key, b.value, _merge(a, b.left), b.right)


def _put(
    node: _AccountTreeNode[K, V] | None, key: K, value: V | None
) -> _AccountTreeNode[K, V] | None:
    """The tree with `key` set to `value`, or removed when `value` is None.

    A treap is unique for its keys (priorities are a strict order, `_outranks`), so this is
    the same tree as split-then-merge would build; it only copies the path to `key` (and,
    for a new key, splits the one subtree it takes the place of).
    """
    if value is None:
        return _delete(node, key)
    return _insert(node, key, value)


def _insert(node: _AccountTreeNode[K, V] | None, key: K, value: V) -> _AccountTreeNode[K, V]:
    if node is None:
        return _AccountTreeNode(key, value)
    if key == node.key:
        return _AccountTreeNode(key, value, node.left, node.right)
    if _outranks(key, node.key):
        # `key` is not in this subtree (it would be above it): it becomes its root.
        lower, upper = _split(node, key)
        return _AccountTreeNode(key, value, lower, upper)
    if key < node.key:
        return _AccountTreeNode(node.key, node.value, _insert(node.left, key, value), node.right)
    return _AccountTreeNode(node.key, node.value, node.left, _insert(node.right, key, value))


def _delete(node: _AccountTreeNode[K, V] | None, key: K) -> _AccountTreeNode[K, V] | None:
    if node is None:
        return None
    if key < node.key:
        left = _delete(node.left, key)
        if left is node.left:  # `key` was not there
            return node
        return _AccountTreeNode(node.key, node.value, left, node.right)
    if node.key < key:
        right = _delete(node.right, key)
        if right is node.right:
            return node
        return _AccountTreeNode(node.key, node.value, node.left, right)
    return _merge(node.left, node.right)


def _get(node: _AccountTreeNode[K, V] | None, key: K) -> V | None:
    while node is not None:
        if key < node.key:
            node = node.left
        elif node.key < key:
            node = node.right
        else:
            return node.value
    return None


def _first_key(node: _AccountTreeNode[K, V] | None) -> K | None:
    if node is None:
        return None
    while node.left is not None:
        node = node.left
    return node.key


def _items(node: _AccountTreeNode[K, V] | None) -> Iterator[tuple[K, V]]:
    """In key order, iteratively (no recursion limit, O(n) for the whole tree)."""
    stack: list[_AccountTreeNode[K, V]] = []
    while stack or node is not None:
        while node is not None:
            stack.append(node)
            node = node.left
        top = stack.pop()
        yield top.key, top.value
        node = top.right


def _first_key_after(node: _AccountTreeNode[K, V] | None, key: K) -> K | None:
    """The smallest key greater than `key` (O(log n))."""
    best: K | None = None
    while node is not None:
        if key < node.key:
            best = node.key
            node = node.left
        else:
            node = node.right
    return best


@dataclass(frozen=True, slots=True)
class AssetVersions:
    """Per asset, the version of the last change applied to its account (persistent map).

    A change carries its asset's version; one no newer than the stored one is an echo
    (a crash replay, a late copy) and changes nothing, so each change counts once.
    """

    root: _AccountTreeNode[str, int] | None = None

    def get(self, asset_id: str) -> int | None:
        return _get(self.root, asset_id)

    def with_version(self, asset_id: str, version: int) -> AssetVersions:
        return AssetVersions(_put(self.root, asset_id, version))

    def items(self) -> Iterator[tuple[str, int]]:
        return _items(self.root)


def next_change_after(book: AccountBook, day: date) -> date | None:
    """The first date after `day` where any currency's MRR changes (a clock boundary)."""
    dates = [d for entry in book.currencies if (d := _first_key_after(entry.changes, day))]
    return min(dates, default=None)


def _add_fraction(
    node: _AccountTreeNode[date, Fraction] | None, key: date, delta: Fraction
) -> _AccountTreeNode[date, Fraction] | None:
    total = (_get(node, key) or ZERO) + delta
    return _put(node, key, total if total else None)  # zeros are dropped: no boundary there


def _add_count(
    node: _AccountTreeNode[date, int] | None, key: date, delta: int
) -> _AccountTreeNode[date, int] | None:
    total = (_get(node, key) or 0) + delta
    if total < 0:
        raise DomainError(f"start count at {key} would fall below zero")
    return _put(node, key, total or None)


# ---------------------------------------------------------------------------
# The book


@dataclass(frozen=True, slots=True)
class CurrencyBook:
    """One currency of an account: the timeline as differences, plus what `render` needs."""

    currency: str
    assets: int  # assets of the account in this currency (> 0, else the entry is dropped)
    active_assets: int
    changes: _AccountTreeNode[date, Fraction] | None  # date → ΔMRR, never 0
    starts: _AccountTreeNode[date, int] | None  # first-span start → number of assets


@dataclass(frozen=True, slots=True)
class AccountBook:
    """An account's rollup state; `contributions` lets a change replace what an asset added."""

    account_id: str
    contributions: _AccountTreeNode[str, AssetContribution] | None  # asset_id → contribution
    currencies: tuple[CurrencyBook, ...]  # sorted by currency


def empty_book(account_id: str) -> AccountBook:
    return AccountBook(account_id, None, ())


def build_book(account_id: str, changes: Iterable[AssetContribution | AssetRemoval]) -> AccountBook:
    """`apply` each change in turn to an empty book."""
    book = empty_book(account_id)
    for change in changes:
        book = apply(book, change)
    return book


def contribution_of(book: AccountBook, asset_id: str) -> AssetContribution | None:
    """What the asset adds to the account now, if it is on it (O(log n))."""
    return _get(book.contributions, asset_id)


def has_assets(book: AccountBook) -> bool:
    return book.contributions is not None


def _asset_units(contribution: AssetContribution) -> tuple[dict[date, int], int]:
    """The asset's own ΔMRR by date in minor units, netted (adjacent spans share a date),
    with the scale (10^digits). Published MRRs are whole minor units (`__post_init__`), so
    integers add them exactly, at a fraction of the cost of Fractions."""
    scale = 10 ** minor_unit_digits(contribution.currency)
    changes: dict[date, int] = {}
    for span in contribution.spans:
        mrr = span.mrr
        if not mrr:
            continue
        units = mrr.numerator * (scale // mrr.denominator)
        changes[span.start] = changes.get(span.start, 0) + units
        if span.end is not None:
            changes[span.end] = changes.get(span.end, 0) - units
    return changes, scale


def _asset_changes(contribution: AssetContribution) -> dict[date, Fraction]:
    """The asset's own ΔMRR by date, netted (adjacent spans share a date)."""
    units, scale = _asset_units(contribution)
    return {day: Fraction(delta, scale) for day, delta in units.items() if delta}


def _shift(
    entry: CurrencyBook | None, currency: str, contribution: AssetContribution, sign: int
) -> CurrencyBook | None:
    """Add (sign 1) or subtract (sign -1) one contribution; None when no asset is left."""
    if entry is None:
        if sign < 0:
            raise DomainError(f"no {currency} entry to withdraw {contribution.asset_id} from")
        entry = CurrencyBook(currency, 0, 0, None, None)
    changes = entry.changes
    for day, delta in _asset_changes(contribution).items():
        changes = _add_fraction(changes, day, sign * delta)
    starts = entry.starts
    if contribution.spans:
        starts = _add_count(starts, contribution.spans[0].start, sign)
    assets = entry.assets + sign
    active = entry.active_assets + (sign if contribution.active else 0)
    if assets < 0 or active < 0:
        raise DomainError(f"{currency} asset counts would fall below zero")
    if assets == 0:
        if changes is not None or starts is not None:
            raise DomainError(f"{currency} has no assets left but a non-empty timeline")
        return None
    return CurrencyBook(currency, assets, active, changes, starts)


def _replace(entry: CurrencyBook, old: AssetContribution, new: AssetContribution) -> CurrencyBook:
    """`_shift(_shift(entry, old, -1), new, 1)` for two contributions in the entry's currency:
    the differences are sums, so adding the asset's net change per date gives the same
    values, and a treap's shape depends only on its keys, so the same trees."""
    net, scale = _asset_units(new)
    for day, units in _asset_units(old)[0].items():
        net[day] = net.get(day, 0) - units
    changes = entry.changes
    for day, units in net.items():
        if units:
            changes = _add_fraction(changes, day, Fraction(units, scale))
    starts = entry.starts
    old_start = old.spans[0].start if old.spans else None
    new_start = new.spans[0].start if new.spans else None
    if old_start != new_start:
        if old_start is not None:
            starts = _add_count(starts, old_start, -1)
        if new_start is not None:
            starts = _add_count(starts, new_start, 1)
    active = entry.active_assets + (1 if new.active else 0) - (1 if old.active else 0)
    if active < 0:
        raise DomainError(f"{entry.currency} asset counts would fall below zero")
    return CurrencyBook(entry.currency, entry.assets, active, changes, starts)


def apply(book: AccountBook, change: AssetContribution | AssetRemoval) -> AccountBook:
    """The book with the asset's old contribution (if any) replaced by the new one (if any).

    Costs O((old spans + new spans) × log n): only the asset's own dates are touched.
    """
    # Step 1: what the asset added before, and what it adds now.
    old = _get(book.contributions, change.asset_id)
    new = change if isinstance(change, AssetContribution) else None
    if new is not None and new.account_id != book.account_id:
        raise DomainError(
            f"{new.asset_id} belongs to {new.account_id}, not to book {book.account_id}"
        )
    if old == new:
        return book
    # Step 2: subtract the old contribution and add the new one, per currency.
    entries = {entry.currency: entry for entry in book.currencies}
    if old is not None and new is not None and old.currency == new.currency:
        # The same as subtracting then adding, touching only the dates whose sum moves.
        entry = entries.get(new.currency)
        if entry is None:
            raise DomainError(f"no {new.currency} entry to withdraw {old.asset_id} from")
        entries[new.currency] = _replace(entry, old, new)
    elif old is not None:
        shifted = _shift(entries.get(old.currency), old.currency, old, -1)
        if shifted is None:
            del entries[old.currency]
        else:
            entries[old.currency] = shifted
    if new is not None and (old is None or old.currency != new.currency):
        added = _shift(entries.get(new.currency), new.currency, new, 1)
        if added is None:  # adding never empties a currency
            raise DomainError(f"adding {new.asset_id} left {new.currency} empty")
        entries[new.currency] = added
    # Step 3: remember the new contribution, so the next change can replace it.
    contributions = _put(book.contributions, change.asset_id, new)
    return AccountBook(
        book.account_id, contributions, tuple(entries[code] for code in sorted(entries))
    )


# ---------------------------------------------------------------------------
# The record


class MovementType(StrEnum):
    NEW_BUSINESS = "new_business"
    REACTIVATION = "reactivation"
    EXPANSION = "expansion"
    CONTRACTION = "contraction"
    CHURN = "churn"


@dataclass(frozen=True, slots=True)
class TimelineSpan:
    start_date: date
    end_date: date | None  # None on the last span only
    mrr: Fraction


@dataclass(frozen=True, slots=True)
class Movement:
    date: date
    type: MovementType
    mrr_before: Fraction
    mrr_after: Fraction
    scheduled: bool  # the date is after as_of

    @property
    def mrr_change(self) -> Fraction:
        return self.mrr_after - self.mrr_before


@dataclass(frozen=True, slots=True)
class CurrencyRecord:
    currency: str
    current_mrr: Fraction
    current_arr: Fraction
    active_assets: int
    mrr_timeline: tuple[TimelineSpan, ...]
    movements: tuple[Movement, ...]


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account_id: str
    as_of: date
    currencies: tuple[CurrencyRecord, ...]  # sorted by currency


def _movement_type(before: Fraction, after: Fraction, had_mrr: bool) -> MovementType:
    if before < 0 or after < 0:
        raise DomainError(f"account MRR went negative ({before} → {after})")
    if before == 0:
        return MovementType.REACTIVATION if had_mrr else MovementType.NEW_BUSINESS
    if after == 0:
        return MovementType.CHURN
    return MovementType.EXPANSION if after > before else MovementType.CONTRACTION


def _render_currency(entry: CurrencyBook, as_of: date) -> CurrencyRecord:
    """One pass over the differences: O(spans + movements), no asset is re-summed."""
    first = _first_key(entry.starts)
    if first is None:  # decision 7: no asset of this currency has a period
        if entry.changes is not None:
            raise DomainError(f"{entry.currency} has changes but no start")
        return CurrencyRecord(entry.currency, ZERO, ZERO, entry.active_assets, (), ())
    spans: list[TimelineSpan] = []
    movements: list[Movement] = []
    level, since, current, had_mrr = ZERO, first, ZERO, False
    for day, delta in _items(entry.changes):
        if day < first:
            raise DomainError(f"{entry.currency} changes at {day}, before its first start")
        after = level + delta
        if day > since:
            spans.append(TimelineSpan(since, day, level))
        movements.append(
            Movement(day, _movement_type(level, after, had_mrr), level, after, day > as_of)
        )
        had_mrr = had_mrr or after > 0
        if day <= as_of:
            current = after
        level, since = after, day
    spans.append(TimelineSpan(since, None, level))
    return CurrencyRecord(
        entry.currency, current, 12 * current, entry.active_assets, tuple(spans), tuple(movements)
    )


def render(
    book: AccountBook,
    as_of: date,
    previous: tuple[AccountBook, AccountRecord | None] | None = None,
) -> AccountRecord | None:
    """The account record as of `as_of`, or None when no asset is left (publish a tombstone).

    `previous` is an earlier book and the record `render` gave for it: a
    currency whose entry is the very same object (untouched by the `apply`s
    since) at the same `as_of` reuses its rendered part instead of walking it.
    """
    if book.contributions is None:
        return None
    reusable: dict[str, tuple[CurrencyBook, CurrencyRecord]] = {}
    if previous is not None:
        previous_book, previous_record = previous
        if (
            previous_record is not None
            and previous_record.as_of == as_of
            and previous_book.account_id == book.account_id
        ):
            rendered = {part.currency: part for part in previous_record.currencies}
            for entry in previous_book.currencies:
                if entry.currency in rendered:
                    reusable[entry.currency] = (entry, rendered[entry.currency])
    parts = []
    for entry in book.currencies:
        cached = reusable.get(entry.currency)
        parts.append(
            cached[1]
            if cached is not None and cached[0] is entry
            else _render_currency(entry, as_of)
        )
    return AccountRecord(book.account_id, as_of, tuple(parts))


def same_content(a: AccountRecord | None, b: AccountRecord | None) -> bool:
    """Equal but for `as_of`: SPEC §10 publishes a new version only when this is False."""
    if a is None or b is None:
        return a is b
    return a.account_id == b.account_id and a.currencies == b.currencies


def record_to_dict(record: AccountRecord, version: int) -> dict[str, Any]:
    """SPEC §10's record: money with the currency's minor-unit digits, the last end null."""

    def money(value: Fraction, currency: str) -> str:
        return format_money(Money(value, currency))

    return {
        "account_id": record.account_id,
        "version": version,
        "as_of": record.as_of.isoformat(),
        "currencies": [
            {
                "currency": part.currency,
                "current_mrr": money(part.current_mrr, part.currency),
                "current_arr": money(part.current_arr, part.currency),
                "active_assets": part.active_assets,
                "mrr_timeline": [
                    {
                        "start_date": span.start_date.isoformat(),
                        "end_date": None if span.end_date is None else span.end_date.isoformat(),
                        "mrr": money(span.mrr, part.currency),
                    }
                    for span in part.mrr_timeline
                ],
                "movements": [
                    {
                        "date": move.date.isoformat(),
                        "type": move.type.value,
                        "mrr_before": money(move.mrr_before, part.currency),
                        "mrr_after": money(move.mrr_after, part.currency),
                        "mrr_change": money(move.mrr_change, part.currency),
                        "scheduled": move.scheduled,
                    }
                    for move in part.movements
                ],
            }
            for part in record.currencies
        ],
    }
