"""The operations of SPEC §4.2, one function each: `(state, event) -> Applied | Refused`.

Each returns the new state's periods and bookkeeping through `Applied`, or a
`Refused` value with a reason code — never an exception. Only the periods from
the effective date on are touched, so an event at the end of the history
costs the same whatever the history's length.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction
from typing import NamedTuple

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
from domain.state import AssetTerms, EndedBy, FoldState, TransferOut, period_amount, period_at

DEFAULT_RENEWAL_TERM_MONTHS = 12


class Refused(NamedTuple):
    """A business rejection at the event's position in the fold (beancount's error-as-value)."""

    reason_code: ReasonCode
    reason: str


@dataclass(frozen=True, slots=True)
class Applied:
    """An operation's effect: the new state, and the states in effect on its date before/after."""

    state: FoldState
    before: Period | None  # state in effect on D before (None = nothing, i.e. zero)
    after: Period | None  # state in effect on D after


def _tail_start(periods: tuple[Period, ...], day: date) -> int:
    """Index of the first period ending after `day` (the one containing it, or a later one)."""
    index = len(periods)
    while index > 0 and periods[index - 1].end > day:
        index -= 1
    return index


def _split_at(periods: tuple[Period, ...], day: date) -> tuple[tuple[Period, ...], int]:
    """Split the period containing `day` at `day`; return periods and the index of `day`."""
    index = _tail_start(periods, day)
    if index < len(periods) and periods[index].start < day:
        p = periods[index]
        periods = (
            *periods[:index],
            p.spanning(p.start, day),
            p.spanning(day, p.end),
            *periods[index + 1 :],
        )
        index += 1
    return periods, index


def _replace_tail(
    state: FoldState,
    terms: AssetTerms,
    old_tail: tuple[Period, ...],
    new_tail: tuple[Period, ...],
    head: tuple[Period, ...],
) -> tuple[tuple[Period, ...], Fraction]:
    """New periods and exact total when `old_tail` (from `index`) becomes `new_tail`."""
    removed = sum((period_amount(p, terms) for p in old_tail), ZERO)
    added = sum((period_amount(p, terms) for p in new_tail), ZERO)
    return (*head, *new_tail), state.exact_total - removed + added


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


def _within_term(state: FoldState, terms: AssetTerms, day: date) -> Refused | None:
    """A change needs start ≤ D < end."""
    if day < terms.lifecycle_start:
        return Refused(
            ReasonCode.BEFORE_LIFECYCLE_START,
            f"effective date {day} is before the asset's start {terms.lifecycle_start}",
        )
    end = state.lifecycle_end
    if end is None or day >= end:
        return Refused(
            ReasonCode.OUTSIDE_LIFECYCLE,
            f"effective date {day} is at or after the lifecycle end {end}",
        )
    return None


def create(state: FoldState, event: AssetCreated | TransferReceived) -> Applied | Refused:
    """Creation: an order line, or the target side of a transfer."""
    if state.terms is not None:
        return Refused(
            ReasonCode.ASSET_ALREADY_EXISTS,
            f"asset {event.asset_id} was already created by another event",
        )
    if isinstance(event, AssetCreated):
        anchor = event.start_date
        periods: tuple[Period, ...] = (
            Period.of(
                event.start_date, event.end_date, (Tranche(event.quantity, event.unit_price),)
            ),
        )
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
    total = sum((period_amount(p, terms) for p in periods), ZERO)
    new = FoldState(
        terms=terms,
        periods=periods,
        lifecycle_end=periods[-1].end,
        ended_by=None,
        actions=state.actions,
        pending=state.pending,
        exact_total=total,
        transfers_out=(),
        last_key=state.last_key,
    )
    return Applied(new, None, periods[0])


def change_quantity(
    state: FoldState, event: QuantityChanged, terms: AssetTerms
) -> Applied | Refused:
    """Upsell appends a tranche, downsell removes units LIFO, in every period from D on."""
    day = event.effective_date
    refused = _within_term(state, terms, day)
    if refused:
        return refused
    periods, index = _split_at(state.periods, day)
    head, old_tail = periods[:index], periods[index:]
    new_tail: list[Period] = []
    for p in old_tail:
        if event.quantity_change > 0:
            price = event.unit_price if event.unit_price is not None else p.tranches[-1].unit_price
            new_tail.append(p.appended(Tranche(event.quantity_change, price)))
        else:
            result = _remove_lifo(p, -event.quantity_change)
            if result is None or not result[0].tranches:
                return Refused(
                    ReasonCode.INSUFFICIENT_QUANTITY,
                    f"downsell of {-event.quantity_change} would leave no units in "
                    f"[{p.start}, {p.end}) (quantity {p.quantity}); use a cancellation",
                )
            new_tail.append(result[0])
    before = period_at(state.periods, day)
    new_periods, total = _replace_tail(state, terms, old_tail, tuple(new_tail), head)
    new = _evolve(state, periods=new_periods, exact_total=total)
    return Applied(new, before, new_tail[0])


def renew(state: FoldState, event: AssetRenewed, terms: AssetTerms) -> Applied | Refused:
    """Append [start, end) with the last period's tranches, repriced if asked."""
    if state.ended_by is not None:
        return Refused(
            ReasonCode.RENEWAL_NOT_CONTIGUOUS,
            f"asset ended by {state.ended_by.value} on {state.lifecycle_end}; it cannot be renewed",
        )
    if event.start_date != state.lifecycle_end or not state.periods:
        return Refused(
            ReasonCode.RENEWAL_NOT_CONTIGUOUS,
            f"renewal start_date {event.start_date} must equal the lifecycle end "
            f"{state.lifecycle_end}",
        )
    last = state.periods[-1]
    term = terms.renewal_term_months or DEFAULT_RENEWAL_TERM_MONTHS
    end = event.end_date if event.end_date is not None else add_months(event.start_date, term)
    if event.unit_price is not None:
        price = event.unit_price
        tranches = tuple(Tranche(t.quantity, price) for t in last.tranches)
    elif event.uplift_percent is not None:
        factor = 1 + event.uplift_percent / 100
        tranches = tuple(Tranche(t.quantity, t.unit_price * factor) for t in last.tranches)
    else:
        tranches = last.tranches
    renewal = (
        last.spanning(event.start_date, end)
        if tranches is last.tranches
        else Period.of(event.start_date, end, tranches)
    )
    new = _evolve(
        state,
        periods=(*state.periods, renewal),
        lifecycle_end=end,
        exact_total=state.exact_total + period_amount(renewal, terms),
    )
    return Applied(new, last, renewal)


def cancel(state: FoldState, event: AssetCancelled, terms: AssetTerms) -> Applied | Refused:
    """Cut at D and drop everything from D on; D = end is a valid non-renewal."""
    day = event.effective_date
    if day < terms.lifecycle_start:
        return Refused(
            ReasonCode.BEFORE_LIFECYCLE_START,
            f"effective date {day} is before the asset's start {terms.lifecycle_start}",
        )
    end = state.lifecycle_end
    if end is None or day > end:
        return Refused(
            ReasonCode.OUTSIDE_LIFECYCLE,
            f"cancellation date {day} is after the lifecycle end {end}",
        )
    before = period_at(state.periods, day)
    periods, index = _split_at(state.periods, day)
    new_periods, total = _replace_tail(state, terms, periods[index:], (), periods[:index])
    new = _evolve(
        state,
        periods=new_periods,
        lifecycle_end=day,
        ended_by=state.ended_by or EndedBy.CANCELLATION,
        exact_total=total,
    )
    return Applied(new, before, None)


def transfer(state: FoldState, event: AssetTransferred, terms: AssetTerms) -> Applied | Refused:
    """Move q units LIFO from D on to the target; emptying every period is a full transfer."""
    day = event.effective_date
    refused = _within_term(state, terms, day)
    if refused:
        return refused
    periods, index = _split_at(state.periods, day)
    head, old_tail = periods[:index], periods[index:]
    kept: list[Period] = []
    moved: list[Period] = []
    for p in old_tail:
        result = _remove_lifo(p, event.quantity)
        if result is None:
            return Refused(
                ReasonCode.INSUFFICIENT_QUANTITY,
                f"transfer of {event.quantity} exceeds the quantity {p.quantity} "
                f"in [{p.start}, {p.end})",
            )
        kept.append(result[0])
        moved.append(result[1])
    emptied = sum(1 for p in kept if not p.tranches)
    if emptied and emptied != len(kept):
        return Refused(
            ReasonCode.INSUFFICIENT_QUANTITY,
            f"transfer of {event.quantity} would empty only some periods from {day} on; "
            "a full transfer must take every unit",
        )
    before = period_at(state.periods, day)
    full = emptied == len(kept)
    new_tail = () if full else tuple(kept)
    new_periods, total = _replace_tail(state, terms, old_tail, new_tail, head)
    new = _evolve(
        state,
        periods=new_periods,
        lifecycle_end=day if full else state.lifecycle_end,
        ended_by=(state.ended_by or EndedBy.TRANSFER) if full else state.ended_by,
        exact_total=total,
        transfers_out=(*state.transfers_out, TransferOut(event, tuple(moved))),
    )
    return Applied(new, before, None if full else new_tail[0])


def _evolve(state: FoldState, **changes: object) -> FoldState:
    return replace(state, **changes)  # type: ignore[arg-type]
