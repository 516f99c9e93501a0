"""Render a fold into the published snapshot (SPEC §4.3 publication, §4.5, §5)."""

from __future__ import annotations

from datetime import date

from domain.money import ZERO, format_quantity, format_rounded, round_money
from domain.snapshot_types import ActionView, AssetSnapshot, PendingView, PeriodView, Status
from domain.state import AssetTerms, EndedBy, FoldState, period_amount, period_at, rounded_mrr


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


def _period_views(fold: FoldState, terms: AssetTerms) -> tuple[PeriodView, ...]:
    """Period amounts are rounded cumulatively so they add up to the rounded total exactly."""
    views = []
    running = ZERO
    published = ZERO
    for period in fold.periods:
        running += period_amount(period, terms)
        rounded_running = round_money(running, terms.currency)
        views.append(
            PeriodView(
                start_date=period.start,
                end_date=period.end,
                quantity=format_quantity(period.quantity),
                mrr=format_rounded(rounded_mrr(period, terms), terms.currency),
                amount=format_rounded(rounded_running - published, terms.currency),
            )
        )
        published = rounded_running
    return tuple(views)


def render(
    fold: FoldState,
    *,
    asset_id: str,
    version: int,
    as_of: date,
    updated_by_event_id: str | None,
) -> AssetSnapshot | None:
    """The snapshot of an asset, or None when no creation exists for it yet."""
    terms = fold.terms
    head = head_at(fold, as_of)
    if terms is None or head is None:
        return None
    status, current_quantity, current_mrr = head
    currency = terms.currency
    actions = tuple(
        ActionView(
            action_id=a.action_id,
            event_id=a.event_id,
            category=a.category.value,
            subtype=a.subtype.value if a.subtype else None,
            effective_date=a.effective_date,
            action_time=a.action_time,
            quantity_change=format_quantity(a.quantity_change),
            mrr_change=format_rounded(a.mrr_change, currency),
            amount_change=format_rounded(a.amount_change, currency),
            order_id=a.order_id,
        )
        for a in fold.actions
    )
    pending = tuple(
        PendingView(
            event_id=p.event_id,
            action_id=p.action_id,
            event_type=p.event_type,
            effective_date=p.effective_date,
            reason_code=p.reason_code.value,
            reason=p.reason,
        )
        for p in fold.pending
    )
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
        total_lifecycle_amount=format_rounded(round_money(fold.exact_total, currency), currency),
        state_periods=_period_views(fold, terms),
        actions=actions,
        pending_events=pending,
        updated_by_event_id=updated_by_event_id,
    )
