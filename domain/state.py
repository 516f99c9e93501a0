"""The folded state of one asset: terms, periods, applied actions, pending events."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from fractions import Fraction

from domain.events import AssetTerms, Category, Outgoing, Period, Subtype
from domain.money import ZERO, Money, minor_unit_digits, round_half_up
from domain.months import months_between
from domain.reasons import ReasonCode

SortKey = tuple[date, int, datetime, str, str]

__all__ = [
    "EMPTY_FOLD",
    "AppliedAction",
    "AssetTerms",
    "EndedBy",
    "FoldState",
    "PendingEvent",
    "SortKey",
    "TransferOut",
    "VoidedEvent",
    "period_amount",
    "period_at",
    "period_months",
    "period_mrr",
    "rounded_mrr",
]


class EndedBy(StrEnum):
    """What ended the lifecycle before its term ran out (published as `ended_by`)."""

    CANCELLATION = "cancellation"
    TRANSFER = "transfer"
    SWAP = "swap"  # a full swap, upgrade or downgrade (status `replaced`)


@dataclass(frozen=True, slots=True)
class AppliedAction:
    """An Asset Action with its deltas (SPEC §4.4); money deltas are already rounded.

    `event_id` is None for an automatic renewal (no input event); `related_asset_id` is the
    other side of a transfer or swap (the target on the source's action and vice versa).
    """

    action_id: str
    event_id: str | None
    category: Category
    subtype: Subtype | None
    effective_date: date
    action_time: datetime
    order_id: str | None
    quantity_change: Fraction
    mrr_change: Money
    amount_change: Money
    related_asset_id: str | None = None


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event whose precondition failed at its position in the fold.

    `effective_date` is None for a void (it is not sorted). `waiting` (SPEC §9.4): an
    automatic renewal may still make room for it, so its grace has not started.
    """

    action_id: str
    event_id: str
    event_type: str
    effective_date: date | None
    reason_code: ReasonCode
    reason: str
    waiting: bool = False


@dataclass(frozen=True, slots=True)
class VoidedEvent:
    """An applied void (SPEC §9.3): `event_id` was taken out of the set by `voided_by`."""

    event_id: str
    voided_by: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class TransferOut:
    """What an outgoing transfer or swap sends its target, period by period from its date on.

    For a transfer, the tranches it removed; for a swap, one tranche of its quantity at its
    price in each period. `refused`: the target refused its creation (SPEC §9.5), so the
    source kept the units and the event is pending; the target still gets these periods,
    pending on its side, so it can accept them when its own id becomes free.
    """

    event: Outgoing
    periods: tuple[Period, ...]
    refused: bool = False


@dataclass(frozen=True, slots=True)
class FoldState:
    terms: AssetTerms | None
    periods: tuple[Period, ...]
    lifecycle_end: date | None
    ended_by: EndedBy | None
    actions: tuple[AppliedAction, ...]
    pending: tuple[PendingEvent, ...]
    exact_total: Fraction
    # round_half_up(exact_total): every action needs the rounded total before and after it.
    rounded_total: Fraction
    transfers_out: tuple[TransferOut, ...]
    # Sort key of the last event the fold looked at (applied or pending).
    last_key: SortKey | None
    # SPEC §9.3, §9.4: applied voids, sorted by (event_id, voided_by); and the lifecycle end
    # while an automatic renewal can still happen there.
    voided: tuple[VoidedEvent, ...] = ()
    next_renewal: date | None = None

    @property
    def total(self) -> Money | None:
        """The published (rounded) total lifecycle amount; None before a creation."""
        return None if self.terms is None else Money(self.rounded_total, self.terms.currency)


EMPTY_FOLD = FoldState(
    terms=None,
    periods=(),
    lifecycle_end=None,
    ended_by=None,
    actions=(),
    pending=(),
    exact_total=ZERO,
    rounded_total=ZERO,
    transfers_out=(),
    last_key=None,
)


def period_mrr(period: Period, terms: AssetTerms) -> Fraction:
    """MRR = Σ quantity × unit price ÷ price term months (exact)."""
    return period.value / terms.price_term_months


def period_months(period: Period, terms: AssetTerms) -> Fraction:
    """Anchored months in [start, end) (SPEC §4.3)."""
    return months_between(terms.billing_anchor, period.start, period.end)


def period_amount(period: Period, terms: AssetTerms) -> Fraction:
    """Exact amount = MRR × anchored months in [start, end)."""
    return period.value * period_months(period, terms) / terms.price_term_months


# Rounded MRR per (value, price term, currency): the same few values recur in every period
# and every action of an asset. A pure memo, cleared when full.
_ROUNDED_MRR: dict[tuple[int, int, int, str], Money] = {}
_ROUNDED_MRR_LIMIT = 100_000


def rounded_mrr(period: Period | None, terms: AssetTerms) -> Money:
    """The published MRR of a period (0 for none), rounded half-up to the minor unit."""
    if period is None:
        return Money(ZERO, terms.currency)
    # Keyed by the value's integers: a Fraction's own hash costs a modular inverse.
    value = period.value
    key = (value.numerator, value.denominator, terms.price_term_months, terms.currency)
    cached = _ROUNDED_MRR.get(key)
    if cached is None:
        if len(_ROUNDED_MRR) >= _ROUNDED_MRR_LIMIT:
            _ROUNDED_MRR.clear()
        digits = minor_unit_digits(terms.currency)
        cached = Money(round_half_up(period_mrr(period, terms), digits), terms.currency)
        _ROUNDED_MRR[key] = cached
    return cached


def period_at(periods: Sequence[Period], day: date) -> Period | None:
    """The period containing `day` (half-open spans, sorted and non-overlapping)."""
    index = bisect.bisect_right(periods, day, key=lambda p: p.end)
    if index < len(periods) and periods[index].start <= day:
        return periods[index]
    return None
