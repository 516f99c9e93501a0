"""The published view of an asset (SPEC §5, §9), already rounded and formatted.

Money is a string with exactly the currency's minor-unit digits ("20.83",
JPY "25000"); quantities are strings without trailing zeros ("5", "2.5").
`schemas/` maps these to the wire models; nothing here knows JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Status(StrEnum):
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"
    REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class PeriodView:
    start_date: date
    end_date: date
    quantity: str
    mrr: str
    amount: str


@dataclass(frozen=True, slots=True)
class ActionView:
    action_id: str
    event_id: str | None  # None for an automatic renewal
    category: str
    subtype: str | None
    effective_date: date
    action_time: datetime
    quantity_change: str
    mrr_change: str
    amount_change: str
    order_id: str | None
    related_asset_id: str | None = None  # the other side of a transfer or swap


@dataclass(frozen=True, slots=True)
class PendingView:
    event_id: str
    action_id: str
    event_type: str
    effective_date: date | None  # None for a void
    reason_code: str
    reason: str
    waiting: bool = False  # waits for an automatic renewal; its grace has not started


@dataclass(frozen=True, slots=True)
class VoidedView:
    event_id: str
    voided_by: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class AssetSnapshot:
    asset_id: str
    account_id: str
    currency: str
    product_code: str
    product_name: str | None
    price_term_months: int
    renewal_term_months: int | None
    billing_anchor_date: date
    version: int
    as_of: date
    status: Status
    current_quantity: str
    current_mrr: str
    lifecycle_start_date: date
    lifecycle_end_date: date
    total_lifecycle_amount: str
    state_periods: tuple[PeriodView, ...]
    actions: tuple[ActionView, ...]
    pending_events: tuple[PendingView, ...]
    updated_by_event_id: str | None
    auto_renew: bool = False
    renewal_uplift_percent: str = "0"
    next_renewal_date: date | None = None
    ended_by: str | None = None  # cancellation, transfer, swap, or None (the term ran out)
    voided_events: tuple[VoidedView, ...] = ()
