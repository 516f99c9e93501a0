"""The operations of SPEC §4.2 and §9, one function each: `(position, event) -> Change | Refused`.

An operation reads the asset at its event's position in the fold and returns a
`Change` — which periods it replaces, by how much the exact total moves, the
states in effect on its date before and after — or a `Refused` value with a
reason code, never an exception. Only the periods from the effective date on
are read, and the total moves by a delta computed on those periods alone, so
an event at the end of a long history costs the same as on a short one.

One place per rule: the lifecycle window (`within_lifecycle`), a renewal's
default end on the anchor's grid (`default_renewal_end`), when an automatic
renewal is due (`renewal_due`), and a transfer or swap target's terms
(`target_terms`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction
from typing import NamedTuple, Protocol

from domain.errors import DomainError
from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetRenewed,
    AssetRepriced,
    AssetSwapped,
    AssetTerms,
    FoldEvent,
    Movement,
    Outgoing,
    Period,
    QuantityChanged,
    Tranche,
    TransferReceived,
)
from domain.money import ZERO
from domain.months import add_months
from domain.reasons import ReasonCode
from domain.state import EndedBy, TransferOut, period_at, period_months

DEFAULT_RENEWAL_TERM_MONTHS = 12


class Refused(NamedTuple):
    """A business rejection at the event's position in the fold (beancount's error-as-value)."""

    reason_code: ReasonCode
    reason: str


class Ends(Protocol):
    """The asset's shape at a point of the fold: its terms, periods and how its lifecycle ends."""

    @property
    def terms(self) -> AssetTerms | None: ...
    @property
    def periods(self) -> Sequence[Period]: ...
    @property
    def lifecycle_end(self) -> date | None: ...
    @property
    def ended_by(self) -> EndedBy | None: ...


class Position(Ends, Protocol):
    """What an operation may read of the asset at its event's position."""

    @property
    def creation_exists(self) -> bool:
        """Whether the asset's set of events holds a creation at all (anywhere in the fold)."""
        ...


@dataclass(frozen=True, slots=True)
class Change:
    """An applied operation: `periods[index:]` become `tail`; the exact total moves by `delta`.

    `before`/`after` are the states in effect on the effective date (None = nothing).
    `end` and `ended_by` replace the lifecycle end / what ended it when set; `terms` is set
    by a creation; `transfer` records what an outgoing transfer or swap sends its target.
    """

    index: int
    tail: tuple[Period, ...]
    delta: Fraction
    before: Period | None
    after: Period | None
    end: date | None = None
    ended_by: EndedBy | None = None
    terms: AssetTerms | None = None
    transfer: TransferOut | None = None


def _tail_start(periods: Sequence[Period], day: date) -> int:
    """Index of the first period ending after `day` (the one containing it, or a later one)."""
    index = len(periods)
    while index > 0 and periods[index - 1].end > day:
        index -= 1
    return index


def _cut_at(periods: Sequence[Period], day: date) -> tuple[int, list[Period], list[Period]]:
    """(index, head, tail): `periods[index:]` == head + tail, tail being the periods from `day`.

    The period containing `day` is split there (head = its part before `day`). Splitting
    never changes a total (SPEC §4.3), so callers compute their deltas on the tail alone.
    """
    index = _tail_start(periods, day)
    tail = list(periods[index:])
    if tail and tail[0].start < day:
        first = tail[0]
        return (
            index,
            [first.spanning(first.start, day)],
            [first.spanning(day, first.end), *tail[1:]],
        )
    return index, [], tail


def _remove_lifo(period: Period, quantity: Fraction) -> tuple[Period, Period] | None:
    """Remove `quantity` units newest-first: (what remains, what was removed), or None if short.

    Both keep the period's span; removed tranches stay oldest-first.
    """
    if quantity > period.quantity:
        return None
    remaining = list(period.tranches)
    removed: list[Tranche] = []
    left = quantity
    while left > 0:
        if not remaining:
            return None
        newest = remaining.pop()
        if newest.quantity <= left:
            removed.append(newest)
            left -= newest.quantity
        else:
            remaining.append(Tranche(newest.quantity - left, newest.unit_price))
            removed.append(Tranche(left, newest.unit_price))
            left = ZERO
    removed.reverse()
    taken = Period.of(period.start, period.end, tuple(removed))
    kept = Period(
        period.start,
        period.end,
        tuple(remaining),
        period.quantity - taken.quantity,
        period.value - taken.value,
    )
    return kept, taken


def _repriced(period: Period, price: Callable[[Fraction], Fraction]) -> Period:
    """The period with every tranche's unit price replaced by `price(unit price)`."""
    return Period.of(
        period.start,
        period.end,
        tuple(Tranche(t.quantity, price(t.unit_price)) for t in period.tranches),
    )


def _uplifted(percent: Fraction) -> Callable[[Fraction], Fraction]:
    factor = 1 + percent / 100
    return lambda price: price * factor


def within_lifecycle(position: Position, day: date, *, end_allowed: bool = False) -> Refused | None:
    """The lifecycle window of a change: start ≤ D < end (a cancellation: start ≤ D ≤ end).

    With nothing created at this position: `unknown_asset` when the asset has no creation
    at all, else `before_lifecycle_start` (the event sorts before the creation).
    """
    terms = position.terms
    if terms is None:
        if not position.creation_exists:
            return Refused(ReasonCode.UNKNOWN_ASSET, "no creation for this asset")
        return Refused(
            ReasonCode.BEFORE_LIFECYCLE_START,
            f"effective date {day} is before the asset's start",
        )
    if day < terms.lifecycle_start:
        return Refused(
            ReasonCode.BEFORE_LIFECYCLE_START,
            f"effective date {day} is before the asset's start {terms.lifecycle_start}",
        )
    end = position.lifecycle_end
    if end is None or day > end or (day == end and not end_allowed):
        rule = "after" if end_allowed else "at or after"
        return Refused(
            ReasonCode.OUTSIDE_LIFECYCLE,
            f"effective date {day} is {rule} the lifecycle end {end}",
        )
    return None


def refuse_without_creation(position: Position, event: FoldEvent) -> Refused:
    """Why an amendment cannot apply where nothing has been created yet."""
    if isinstance(event, AssetRenewed) and position.creation_exists:
        return Refused(
            ReasonCode.RENEWAL_NOT_CONTIGUOUS,
            f"renewal start_date {event.start_date} is before the asset's start",
        )
    refused = within_lifecycle(position, event.effective_date)
    if refused is None:  # pragma: no cover - within_lifecycle refuses when nothing exists
        raise DomainError("refuse_without_creation called on a created asset")
    return refused


def default_renewal_end(terms: AssetTerms, start: date) -> date:
    """A renewal without `end_date` (explicit or automatic): `renewal_term_months` (else 12)
    after its start, on the billing anchor's grid when the start is on it (SPEC §3).

    The grid is A+k (the anchor plus k months, day clamped, always from the anchor): anchor
    Jan 31, start Feb 28 (= A+1) → end Mar 31 (= A+2), not Mar 28. A start off the grid
    counts from itself.
    """
    months = terms.renewal_term_months or DEFAULT_RENEWAL_TERM_MONTHS
    anchor = terms.billing_anchor
    k = (start.year - anchor.year) * 12 + (start.month - anchor.month)
    if k >= 0 and add_months(anchor, k) == start:
        return add_months(anchor, k + months)
    return add_months(start, months)


def renewal_due(position: Ends, notices: frozenset[date]) -> date | None:
    """The date E an automatic renewal would start at, whatever `as_of` is (SPEC §9.4).

    E is the lifecycle end of an auto-renewing asset not ended by a cancellation, full
    transfer or full swap, when no cancellation of the asset's events is dated E (a notice
    of non-renewal). The fold applies it when E ≤ as_of.
    """
    terms, end = position.terms, position.lifecycle_end
    if terms is None or not terms.auto_renew or position.ended_by is not None or end is None:
        return None
    if not position.periods or end in notices:
        return None
    return end


def target_terms(terms: AssetTerms, event: Outgoing) -> AssetTerms:
    """A target's terms: the source's (currency, price and renewal terms, auto-renewal, billing
    anchor), with the target's account (a swap: the same) and product (a swap: its own)."""
    if isinstance(event, AssetSwapped):
        return replace(terms, product_code=event.product_code, product_name=event.product_name,
                       lifecycle_start=event.effective_date)  # fmt: skip
    return replace(terms, account_id=event.target_account_id, lifecycle_start=event.effective_date)


def create(position: Position, event: AssetCreated | TransferReceived) -> Change | Refused:
    """Creation: an order line, or the target side of a transfer or swap."""
    if position.terms is not None:
        return Refused(
            ReasonCode.ASSET_ALREADY_EXISTS,
            f"asset {event.asset_id} was already created by another event",
        )
    terms = event.terms
    if isinstance(event, AssetCreated):
        tranche = (Tranche(event.quantity, event.unit_price),)
        periods: tuple[Period, ...] = (Period.of(event.start_date, event.end_date, tranche),)
    else:
        periods = event.periods
    value_months = sum((p.value * period_months(p, terms) for p in periods), ZERO)
    delta = value_months / terms.price_term_months
    return Change(0, periods, delta, None, periods[0], end=periods[-1].end, terms=terms)


def change_quantity(
    position: Position, event: QuantityChanged, terms: AssetTerms
) -> Change | Refused:
    """Upsell appends a tranche, downsell removes units LIFO, in every period from D on."""
    day = event.effective_date
    refused = within_lifecycle(position, day)
    if refused:
        return refused
    index, head, tail = _cut_at(position.periods, day)
    change = event.quantity_change
    new_tail: list[Period] = []
    value_months = ZERO  # Σ over the tail of (value added or removed) × months
    for p in tail:
        if change > 0:
            price = event.unit_price if event.unit_price is not None else p.tranches[-1].unit_price
            added = change * price
            new_tail.append(p.appended(Tranche(change, price), added))
            value_months += added * period_months(p, terms)
        else:
            result = _remove_lifo(p, -change)
            if result is None or not result[0].tranches:
                return Refused(
                    ReasonCode.INSUFFICIENT_QUANTITY,
                    f"downsell of {-change} would leave no units in "
                    f"[{p.start}, {p.end}) (quantity {p.quantity}); use a cancellation",
                )
            new_tail.append(result[0])
            value_months -= result[1].value * period_months(p, terms)
    before = period_at(position.periods, day)
    delta = value_months / terms.price_term_months
    return Change(index, (*head, *new_tail), delta, before, new_tail[0])


def reprice(position: Position, event: AssetRepriced, terms: AssetTerms) -> Change | Refused:
    """SPEC §9.1: from D on, every tranche gets the new price (or × (1 + uplift/100))."""
    day = event.effective_date
    refused = within_lifecycle(position, day)
    if refused:
        return refused
    index, head, tail = _cut_at(position.periods, day)
    fixed, uplift = event.unit_price, event.uplift_percent
    if fixed is not None:
        price: Callable[[Fraction], Fraction] = lambda _: fixed  # noqa: E731
    elif uplift is not None:
        price = _uplifted(uplift)
    else:
        raise DomainError(f"price change {event.event_id} has neither unit_price nor uplift")
    new_tail = [_repriced(p, price) for p in tail]
    value_months = sum(
        (
            (new.value - old.value) * period_months(old, terms)
            for old, new in zip(tail, new_tail, strict=True)
        ),
        ZERO,
    )
    before = period_at(position.periods, day)
    delta = value_months / terms.price_term_months
    return Change(index, (*head, *new_tail), delta, before, new_tail[0])


def _renewal(position: Position, terms: AssetTerms, term: Period) -> Change:
    """Append `term` (a renewal's new period) at the lifecycle end."""
    periods = position.periods
    delta = term.value * period_months(term, terms) / terms.price_term_months
    return Change(len(periods), (term,), delta, periods[-1], term, end=term.end)


def renew(position: Position, event: AssetRenewed, terms: AssetTerms) -> Change | Refused:
    """Append [start, end) with the last period's tranches, repriced if asked."""
    periods = position.periods
    if position.ended_by is not None:
        return Refused(
            ReasonCode.RENEWAL_NOT_CONTIGUOUS,
            f"asset ended by {position.ended_by.value} on {position.lifecycle_end}; "
            "it cannot be renewed",
        )
    if event.start_date != position.lifecycle_end or not periods:
        return Refused(
            ReasonCode.RENEWAL_NOT_CONTIGUOUS,
            f"renewal start_date {event.start_date} must equal the lifecycle end "
            f"{position.lifecycle_end}",
        )
    last = periods[-1]
    end = (
        event.end_date
        if event.end_date is not None
        else default_renewal_end(terms, event.start_date)
    )
    if event.unit_price is not None:
        term = Period.of(event.start_date, end, (Tranche(last.quantity, event.unit_price),))
    elif event.uplift_percent is not None:
        term = _repriced(last.spanning(event.start_date, end), _uplifted(event.uplift_percent))
    else:
        term = last.spanning(event.start_date, end)
    return _renewal(position, terms, term)


def auto_renew(position: Position, terms: AssetTerms, start: date) -> Change:
    """SPEC §9.4: the automatic renewal at E = `start` (see `renewal_due` for when).

    The last period's tranches, each price × (1 + renewal_uplift_percent/100), for the
    default renewal term on the anchor's grid.
    """
    last = position.periods[-1].spanning(start, default_renewal_end(terms, start))
    if terms.renewal_uplift_percent:
        last = _repriced(last, _uplifted(terms.renewal_uplift_percent))
    return _renewal(position, terms, last)


def cancel(position: Position, event: AssetCancelled, terms: AssetTerms) -> Change | Refused:
    """Cut at D and drop everything from D on; D = end is a valid non-renewal."""
    day = event.effective_date
    refused = within_lifecycle(position, day, end_allowed=True)
    if refused:
        return refused
    before = period_at(position.periods, day)
    index, head, tail = _cut_at(position.periods, day)
    value_months = sum((p.value * period_months(p, terms) for p in tail), ZERO)
    delta = -value_months / terms.price_term_months
    ended_by = position.ended_by or EndedBy.CANCELLATION
    return Change(index, tuple(head), delta, before, None, end=day, ended_by=ended_by)


def move_out(position: Position, event: Outgoing, terms: AssetTerms) -> Change | Refused:
    """A transfer (§4.2) or a swap, upgrade or downgrade (§9.2) on its source.

    q units leave LIFO in every period from D on; emptying every period is full (cut at D,
    ended by a transfer or a swap); leaving a period short, or only some empty, is
    `insufficient_quantity`. A transfer's target gets the removed tranches; a swap's one
    tranche of q at its own price, in each of those periods.
    """
    day = event.effective_date
    refused = within_lifecycle(position, day)
    if refused:
        return refused
    index, head, tail = _cut_at(position.periods, day)
    kept: list[Period] = []
    moved: list[Period] = []
    value_months = ZERO
    verb = event.movement.value
    for p in tail:
        result = _remove_lifo(p, event.quantity)
        if result is None:
            return Refused(
                ReasonCode.INSUFFICIENT_QUANTITY,
                f"{verb} of {event.quantity} exceeds the quantity {p.quantity} "
                f"in [{p.start}, {p.end})",
            )
        kept.append(result[0])
        moved.append(result[1])
        value_months += result[1].value * period_months(p, terms)
    emptied = sum(1 for p in kept if not p.tranches)
    if emptied and emptied != len(kept):
        return Refused(
            ReasonCode.INSUFFICIENT_QUANTITY,
            f"{verb} of {event.quantity} would empty only some periods from {day} on; "
            f"a full {verb} must take every unit",
        )
    if isinstance(event, AssetSwapped):
        new = (Tranche(event.quantity, event.unit_price),)
        moved = [Period.of(p.start, p.end, new) for p in moved]
    before = period_at(position.periods, day)
    delta = -value_months / terms.price_term_months
    out = TransferOut(event, tuple(moved))
    if emptied == len(kept):
        reason = EndedBy.TRANSFER if event.movement is Movement.TRANSFER else EndedBy.SWAP
        ended_by = position.ended_by or reason
        return Change(
            index, tuple(head), delta, before, None, end=day, ended_by=ended_by, transfer=out
        )
    return Change(index, (*head, *kept), delta, before, kept[0], transfer=out)
