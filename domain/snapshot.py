"""Render a fold into the published snapshot (SPEC §4.3 publication, §4.5, §5, §9)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from domain.events import Period
from domain.money import (
    ZERO,
    Money,
    format_money,
    format_quantity,
    minor_unit_digits,
    round_half_up,
)
from domain.snapshot_types import (
    ActionView,
    AssetSnapshot,
    PendingView,
    PeriodView,
    Status,
    VoidedView,
)
from domain.state import (
    AppliedAction,
    AssetTerms,
    EndedBy,
    FoldState,
    PendingEvent,
    VoidedEvent,
    period_amount,
    period_at,
    rounded_mrr,
)

# SPEC §4.5/§9.2: the status from the lifecycle end on names what ended it (the one
# table of it: the read side looks statuses up here too).
STATUS_AFTER_END: dict[EndedBy | None, Status] = {
    None: Status.EXPIRED,
    EndedBy.CANCELLATION: Status.CANCELLED,
    EndedBy.TRANSFER: Status.TRANSFERRED,
    EndedBy.SWAP: Status.REPLACED,
}


def status_at(fold: FoldState, terms: AssetTerms, as_of: date) -> Status:
    """scheduled before start, active inside, then what ended it (SPEC §4.5, §9.2)."""
    end = fold.lifecycle_end
    if as_of < terms.lifecycle_start:
        return Status.SCHEDULED
    if end is not None and as_of < end:
        return Status.ACTIVE
    return STATUS_AFTER_END[fold.ended_by]


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
        format_money(rounded_mrr(current, terms)),
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
    rounded_running = round_half_up(running, minor_unit_digits(terms.currency))
    view = PeriodView(
        start_date=period.start,
        end_date=period.end,
        quantity=format_quantity(period.quantity),
        mrr=format_money(rounded_mrr(period, terms)),
        amount=format_money(Money(rounded_running - published, terms.currency)),
    )
    return view, running, rounded_running


def _period_views(fold: FoldState, terms: AssetTerms) -> tuple[PeriodView, ...]:
    views = []
    running = published = ZERO
    for period in fold.periods:
        view, running, published = period_view(period, terms, running, published)
        views.append(view)
    return tuple(views)


def action_view(action: AppliedAction) -> ActionView:
    return ActionView(
        action_id=action.action_id,
        event_id=action.event_id,
        category=action.category.value,
        subtype=action.subtype.value if action.subtype else None,
        effective_date=action.effective_date,
        action_time=action.action_time,
        quantity_change=format_quantity(action.quantity_change),
        mrr_change=format_money(action.mrr_change),
        amount_change=format_money(action.amount_change),
        order_id=action.order_id,
        related_asset_id=action.related_asset_id,
    )


def pending_view(pending: PendingEvent) -> PendingView:
    return PendingView(
        event_id=pending.event_id,
        action_id=pending.action_id,
        event_type=pending.event_type,
        effective_date=pending.effective_date,
        reason_code=pending.reason_code.value,
        reason=pending.reason,
        waiting=pending.waiting,
    )


def voided_view(voided: VoidedEvent) -> VoidedView:
    return VoidedView(event_id=voided.event_id, voided_by=voided.voided_by, reason=voided.reason)


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
    keeps those rows' encodings from one snapshot to the next (voided events, few and
    small, are always rendered).
    """
    terms = fold.terms
    head = head_at(fold, as_of)
    if terms is None or head is None:
        return None
    status, current_quantity, current_mrr = head
    currency = terms.currency
    actions = tuple(action_view(a) for a in fold.actions) if rows else ()
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
        total_lifecycle_amount=format_money(Money(fold.rounded_total, currency)),
        state_periods=_period_views(fold, terms) if rows else (),
        actions=actions,
        pending_events=pending,
        updated_by_event_id=updated_by_event_id,
        auto_renew=terms.auto_renew,
        renewal_uplift_percent=format_quantity(terms.renewal_uplift_percent),
        next_renewal_date=fold.next_renewal,
        ended_by=fold.ended_by.value if fold.ended_by else None,
        voided_events=tuple(voided_view(v) for v in fold.voided),
    )
