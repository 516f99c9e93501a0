"""The operations of SPEC §4.2, one function each: `(position, event) -> Change | Refused`.

An operation reads the asset at its event's position in the fold and returns a
`Change` — which periods it replaces, by how much the exact total moves, the
states in effect on its date before and after — or a `Refused` value with a
reason code, never an exception. Only the periods from the effective date on
are read, and the total moves by a delta computed on those periods alone, so
an event at the end of a long history costs the same as on a short one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import NamedTuple, Protocol

from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetRenewed,
    AssetTransferred,
    Period,
    QuantityChanged,
    Tranche,
    TransferReceived,
)
from domain.money import ZERO
from domain.months import add_months
from domain.reasons import ReasonCode
from domain.state import AssetTerms, EndedBy, TransferOut, period_at, period_months

DEFAULT_RENEWAL_TERM_MONTHS = 12


class Refused(NamedTuple):
    """A business rejection at the event's position in the fold (beancount's error-as-value)."""

    reason_code: ReasonCode
    reason: str


class Position(Protocol):
    """What an operation may read of the asset at its event's position."""

    @property
    def terms(self) -> AssetTerms | None: ...
    @property
    def periods(self) -> Sequence[Period]: ...
    @property
    def lifecycle_end(self) -> date | None: ...
    @property
    def ended_by(self) -> EndedBy | None: ...


@dataclass(frozen=True, slots=True)
class Change:
    """An applied operation: `periods[index:]` become `tail`; the exact total moves by `delta`.

    `before`/`after` are the states in effect on the effective date (None = nothing).
    `end` and `ended_by` replace the lifecycle end / what ended it when set; `terms` is set
    by a creation; `transfer` records the units a transfer moved out.
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


def within_lifecycle(
    position: Position, terms: AssetTerms, day: date, *, end_allowed: bool = False
) -> Refused | None:
    """The lifecycle window of a change: start ≤ D < end (a cancellation: start ≤ D ≤ end)."""
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


def default_renewal_end(terms: AssetTerms, start: date) -> date:
    """A renewal without `end_date`: `renewal_term_months` (else 12) after its start."""
    return add_months(start, terms.renewal_term_months or DEFAULT_RENEWAL_TERM_MONTHS)


def create(position: Position, event: AssetCreated | TransferReceived) -> Change | Refused:
    """Creation: an order line, or the target side of a transfer."""
    if position.terms is not None:
        return Refused(
            ReasonCode.ASSET_ALREADY_EXISTS,
            f"asset {event.asset_id} was already created by another event",
        )
    if isinstance(event, AssetCreated):
        anchor = event.start_date
        tranche = (Tranche(event.quantity, event.unit_price),)
        periods: tuple[Period, ...] = (Period.of(event.start_date, event.end_date, tranche),)
    else:
        anchor = event.billing_anchor  # inherited: months count from the source's anchor
        periods = event.periods
    terms = AssetTerms(
        account_id=event.account_id,
        currency=event.currency,
        product_code=event.product_code,
        product_name=event.product_name,
        price_term_months=event.price_term_months,
        renewal_term_months=event.renewal_term_months,
        billing_anchor=anchor,
        lifecycle_start=event.effective_date,
    )
    value_months = sum((p.value * period_months(p, terms) for p in periods), ZERO)
    delta = value_months / terms.price_term_months
    return Change(0, periods, delta, None, periods[0], end=periods[-1].end, terms=terms)


def change_quantity(
    position: Position, event: QuantityChanged, terms: AssetTerms
) -> Change | Refused:
    """Upsell appends a tranche, downsell removes units LIFO, in every period from D on."""
    day = event.effective_date
    refused = within_lifecycle(position, terms, day)
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
        price = event.unit_price
        renewal = Period.of(event.start_date, end, (Tranche(last.quantity, price),))
    elif event.uplift_percent is not None:
        factor = 1 + event.uplift_percent / 100
        tranches = tuple(Tranche(t.quantity, t.unit_price * factor) for t in last.tranches)
        renewal = Period.of(event.start_date, end, tranches)
    else:
        renewal = last.spanning(event.start_date, end)
    delta = renewal.value * period_months(renewal, terms) / terms.price_term_months
    return Change(len(periods), (renewal,), delta, last, renewal, end=end)


def cancel(position: Position, event: AssetCancelled, terms: AssetTerms) -> Change | Refused:
    """Cut at D and drop everything from D on; D = end is a valid non-renewal."""
    day = event.effective_date
    refused = within_lifecycle(position, terms, day, end_allowed=True)
    if refused:
        return refused
    before = period_at(position.periods, day)
    index, head, tail = _cut_at(position.periods, day)
    value_months = sum((p.value * period_months(p, terms) for p in tail), ZERO)
    delta = -value_months / terms.price_term_months
    ended_by = position.ended_by or EndedBy.CANCELLATION
    return Change(index, tuple(head), delta, before, None, end=day, ended_by=ended_by)


def transfer(position: Position, event: AssetTransferred, terms: AssetTerms) -> Change | Refused:
    """Move q units LIFO from D on to the target; emptying every period is a full transfer."""
    day = event.effective_date
    refused = within_lifecycle(position, terms, day)
    if refused:
        return refused
    index, head, tail = _cut_at(position.periods, day)
    kept: list[Period] = []
    moved: list[Period] = []
    value_months = ZERO
    for p in tail:
        result = _remove_lifo(p, event.quantity)
        if result is None:
            return Refused(
                ReasonCode.INSUFFICIENT_QUANTITY,
                f"transfer of {event.quantity} exceeds the quantity {p.quantity} "
                f"in [{p.start}, {p.end})",
            )
        kept.append(result[0])
        moved.append(result[1])
        value_months += result[1].value * period_months(p, terms)
    emptied = sum(1 for p in kept if not p.tranches)
    if emptied and emptied != len(kept):
        return Refused(
            ReasonCode.INSUFFICIENT_QUANTITY,
            f"transfer of {event.quantity} would empty only some periods from {day} on; "
            "a full transfer must take every unit",
        )
    before = period_at(position.periods, day)
    full = emptied == len(kept)
    delta = -value_months / terms.price_term_months
    out = TransferOut(event, tuple(moved))
    if full:
        ended_by = position.ended_by or EndedBy.TRANSFER
        return Change(
            index, tuple(head), delta, before, None, end=day, ended_by=ended_by, transfer=out
        )
    return Change(index, (*head, *kept), delta, before, kept[0], transfer=out)
