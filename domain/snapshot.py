"""Render a fold into the published snapshot (SPEC §4.3 publication, §4.5, §5)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from domain.events import Period
from domain.money import ZERO, format_quantity, format_rounded, round_money
from domain.snapshot_types import ActionView, AssetSnapshot, PendingView, PeriodView, Status
from domain.state import (
    AppliedAction,
    AssetTerms,
    EndedBy,
    FoldState,
    PendingEvent,
    period_amount,
    period_at,
    rounded_mrr,
)


def status_at(fold: FoldState, terms: AssetTerms, as_of: date) -> Status:
    """scheduled before start, active inside, then expired / cancelled / transferred."""
    end = fold.lifecycle_end
    if as_of < terms.lifecycle_start:
        return Status.SCHEDULED
    if end is not None and as_of < end:
        return Status.ACTIVE
    if fold.ended_by is EndedBy.CANCELLATION:
        return Status.CANCELLED
    if fold.ended_by is EndedBy.TRANSFER:
        return Status.TRANSFERRED
    return Status.EXPIRED


def head_at(fold: FoldState, as_of: date) -> tuple[str, str, str] | None:
    """The as_of-dependent fields (status, current quantity, current MRR), formatted."""
    terms = fold.terms
    if terms is None:
        return None
    current = period_at(fold.periods, as_of)
    quantity = current.quantity if current else ZERO
    return (
        status_at(fold, terms, as_of).value,
        format_quantity(quantity),
        format_rounded(rounded_mrr(current, terms), terms.currency),
    )


def period_view(
    period: Period, terms: AssetTerms, running: Fraction, published: Fraction
) -> tuple[PeriodView, Fraction, Fraction]:
    """One period's view; amounts are rounded cumulatively (SPEC §4.3).

    `running` is the exact sum of the periods before, `published` its rounded value; the
    period's amount is round(running + its amount) − published, so the amounts add up to
    the rounded total exactly. Returns the view and the two sums after this period.
    """
    running += period_amount(period, terms)
    rounded_running = round_money(running, terms.currency)
    view = PeriodView(
        start_date=period.start,
        end_date=period.end,
        quantity=format_quantity(period.quantity),
        mrr=format_rounded(rounded_mrr(period, terms), terms.currency),
        amount=format_rounded(rounded_running - published, terms.currency),
    )
    return view, running, rounded_running


def _period_views(fold: FoldState, terms: AssetTerms) -> tuple[PeriodView, ...]:
    views = []
    running = published = ZERO
    for period in fold.periods:
        view, running, published = period_view(period, terms, running, published)
        views.append(view)
    return tuple(views)


def action_view(action: AppliedAction, currency: str) -> ActionView:
    return ActionView(
        action_id=action.action_id,
        event_id=action.event_id,
        category=action.category.value,
        subtype=action.subtype.value if action.subtype else None,
        effective_date=action.effective_date,
        action_time=action.action_time,
        quantity_change=format_quantity(action.quantity_change),
        mrr_change=format_rounded(action.mrr_change, currency),
        amount_change=format_rounded(action.amount_change, currency),
        order_id=action.order_id,
    )


def pending_view(pending: PendingEvent) -> PendingView:
    return PendingView(
        event_id=pending.event_id,
        action_id=pending.action_id,
        event_type=pending.event_type,
        effective_date=pending.effective_date,
        reason_code=pending.reason_code.value,
        reason=pending.reason,
    )


def render(
    fold: FoldState,
    *,
    asset_id: str,
    version: int,
    as_of: date,
    updated_by_event_id: str | None,
    rows: bool = True,
) -> AssetSnapshot | None:
    """The snapshot of an asset, or None when no creation exists for it yet.

    `rows=False` leaves periods, actions and pending events empty: for a renderer that
    keeps those rows' encodings from one snapshot to the next.
    """
    terms = fold.terms
    head = head_at(fold, as_of)
    if terms is None or head is None:
        return None
    status, current_quantity, current_mrr = head
    currency = terms.currency
    actions = tuple(action_view(a, currency) for a in fold.actions) if rows else ()
    pending = tuple(pending_view(p) for p in fold.pending) if rows else ()
    return AssetSnapshot(
        asset_id=asset_id,
        account_id=terms.account_id,
        currency=currency,
        product_code=terms.product_code,
        product_name=terms.product_name,
        price_term_months=terms.price_term_months,
        renewal_term_months=terms.renewal_term_months,
        billing_anchor_date=terms.billing_anchor,
        version=version,
        as_of=as_of,
        status=Status(status),
        current_quantity=current_quantity,
        current_mrr=current_mrr,
        lifecycle_start_date=terms.lifecycle_start,
        lifecycle_end_date=fold.lifecycle_end or terms.lifecycle_start,
        total_lifecycle_amount=format_rounded(fold.rounded_total, currency),
        state_periods=_period_views(fold, terms) if rows else (),
        actions=actions,
        pending_events=pending,
        updated_by_event_id=updated_by_event_id,
    )
