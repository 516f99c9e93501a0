"""The folded state of one asset: terms, periods, applied actions, pending events."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from fractions import Fraction

from domain.events import AssetTransferred, Category, Period, Subtype
from domain.money import ZERO, round_money
from domain.months import months_between
from domain.reasons import ReasonCode

SortKey = tuple[date, int, datetime, str, str]


class EndedBy(StrEnum):
    CANCELLATION = "cancellation"
    TRANSFER = "transfer"


@dataclass(frozen=True, slots=True)
class AssetTerms:
    """What a creation fixes for the asset's whole life."""

    account_id: str
    currency: str
    product_code: str
    product_name: str | None
    price_term_months: int
    renewal_term_months: int | None
    billing_anchor: date
    lifecycle_start: date


@dataclass(frozen=True, slots=True)
class AppliedAction:
    """An Asset Action with its deltas (SPEC §4.4); money deltas are already rounded."""

    action_id: str
    event_id: str
    category: Category
    subtype: Subtype | None
    effective_date: date
    action_time: datetime
    order_id: str | None
    quantity_change: Fraction
    mrr_change: Fraction
    amount_change: Fraction


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event whose precondition failed at its position in the fold."""

    action_id: str
    event_id: str
    event_type: str
    effective_date: date
    reason_code: ReasonCode
    reason: str


@dataclass(frozen=True, slots=True)
class TransferOut:
    """The tranches an applied transfer removed, period by period from its date on."""

    event: AssetTransferred
    periods: tuple[Period, ...]


@dataclass(frozen=True, slots=True)
class FoldState:
    terms: AssetTerms | None
    periods: tuple[Period, ...]
    lifecycle_end: date | None
    ended_by: EndedBy | None
    actions: tuple[AppliedAction, ...]
    pending: tuple[PendingEvent, ...]
    exact_total: Fraction
    # round_money(exact_total): every action needs the rounded total before and after it.
    rounded_total: Fraction
    transfers_out: tuple[TransferOut, ...]
    # Sort key of the last event the fold looked at (applied or pending).
    last_key: SortKey | None


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
_ROUNDED_MRR: dict[tuple[Fraction, int, str], Fraction] = {}
_ROUNDED_MRR_LIMIT = 100_000


def rounded_mrr(period: Period | None, terms: AssetTerms) -> Fraction:
    if period is None:
        return ZERO
    key = (period.value, terms.price_term_months, terms.currency)
    cached = _ROUNDED_MRR.get(key)
    if cached is None:
        if len(_ROUNDED_MRR) >= _ROUNDED_MRR_LIMIT:
            _ROUNDED_MRR.clear()
        cached = _ROUNDED_MRR[key] = round_money(period_mrr(period, terms), terms.currency)
    return cached


def period_at(periods: Sequence[Period], day: date) -> Period | None:
    """The period containing `day` (half-open spans, sorted and non-overlapping)."""
    index = bisect.bisect_right(periods, day, key=lambda p: p.end)
    if index < len(periods) and periods[index].start <= day:
        return periods[index]
    return None
