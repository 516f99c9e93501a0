"""The fold of SPEC §4.1: an asset's state is a pure function of its set of events.

1. Sort by (effective date, rank, time, id).
2. Apply in that order to an empty asset; an event whose precondition fails at
   its position is pending, with a reason code.
3. Applied events become actions; their deltas are computed here, during the
   fold, so a backdated event can change later actions' deltas.

`extend` is the incremental path for an event that sorts after every applied
action; it gives exactly `fold`'s result (a property test holds it to that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetEvent,
    AssetRenewed,
    AssetTransferred,
    Category,
    QuantityChanged,
    Subtype,
    TransferReceived,
    sort_key,
)
from domain.money import ZERO, round_money
from domain.operations import Applied, Refused, cancel, change_quantity, create, renew, transfer
from domain.reasons import ReasonCode
from domain.state import EMPTY_FOLD, AppliedAction, FoldState, PendingEvent, rounded_mrr

EVENT_TYPES: dict[type, str] = {
    AssetCreated: "order.fulfilled",
    QuantityChanged: "asset.quantity_changed",
    AssetRenewed: "asset.renewed",
    AssetCancelled: "asset.cancelled",
    AssetTransferred: "asset.transferred",
    TransferReceived: "asset.transferred",
}


def is_creation(event: AssetEvent) -> bool:
    if isinstance(event, TransferReceived):
        return not event.withdrawn
    return isinstance(event, AssetCreated)


def fold(events: Iterable[AssetEvent]) -> FoldState:
    """Fold a set of distinct events (any order) into the asset's state."""
    ordered = sorted(events, key=sort_key)
    has_creation = any(is_creation(e) for e in ordered)
    state = EMPTY_FOLD
    for event in ordered:
        state = _step(state, event, has_creation)
    return state


def can_extend(state: FoldState, event: AssetEvent) -> bool:
    """True when `extend` gives the full fold's result: nothing pending, event sorts last."""
    return (
        state.terms is not None
        and not state.pending
        and state.last_key is not None
        and sort_key(event) > state.last_key
    )


def extend(state: FoldState, event: AssetEvent) -> FoldState:
    """Apply one event that sorts after every applied action (see `can_extend`)."""
    return _step(state, event, has_creation=True)


def _step(state: FoldState, event: AssetEvent, has_creation: bool) -> FoldState:
    if isinstance(event, TransferReceived) and event.withdrawn:
        return state  # the source no longer transfers anything: the event is void
    result = _apply(state, event, has_creation)
    if isinstance(result, Refused):
        pending = PendingEvent(
            action_id=event.action_id,
            event_id=event.event_id,
            event_type=EVENT_TYPES[type(event)],
            effective_date=event.effective_date,
            reason_code=result.reason_code,
            reason=result.reason,
        )
        return replace(state, pending=(*state.pending, pending))
    return _record_action(state, result, event)


def _apply(state: FoldState, event: AssetEvent, has_creation: bool) -> Applied | Refused:
    if isinstance(event, AssetCreated | TransferReceived):
        return create(state, event)
    terms = state.terms
    if terms is None:
        # Nothing exists at this position: either no creation at all, or the event sorts
        # before the creation (its date is before the asset's start).
        if not has_creation:
            return Refused(ReasonCode.UNKNOWN_ASSET, f"no creation for asset {event.asset_id}")
        if isinstance(event, AssetRenewed):
            return Refused(
                ReasonCode.RENEWAL_NOT_CONTIGUOUS,
                f"renewal start_date {event.start_date} is before the asset's start",
            )
        return Refused(
            ReasonCode.BEFORE_LIFECYCLE_START,
            f"effective date {event.effective_date} is before the asset's start",
        )
    if isinstance(event, QuantityChanged):
        return change_quantity(state, event, terms)
    if isinstance(event, AssetRenewed):
        return renew(state, event, terms)
    if isinstance(event, AssetCancelled):
        return cancel(state, event, terms)
    return transfer(state, event, terms)


def _category(event: AssetEvent) -> tuple[Category, Subtype | None]:
    if isinstance(event, AssetCreated):
        return event.category, None
    if isinstance(event, TransferReceived):
        return Category.TRANSFER, Subtype.TRANSFER_TO
    if isinstance(event, QuantityChanged):
        return (Category.UPSELL if event.quantity_change > 0 else Category.DOWNSELL), None
    if isinstance(event, AssetRenewed):
        return Category.RENEWAL, None
    if isinstance(event, AssetCancelled):
        return Category.CANCELLATION, None
    return Category.TRANSFER, Subtype.TRANSFER_FROM


def _record_action(state: FoldState, applied: Applied, event: AssetEvent) -> FoldState:
    """SPEC §4.4: deltas are the state in effect on D after minus before; amounts, totals."""
    new = applied.state
    terms = new.terms
    if terms is None:  # pragma: no cover - every applied operation has terms
        raise AssertionError("applied operation without terms")
    before_qty = applied.before.quantity if applied.before else ZERO
    after_qty = applied.after.quantity if applied.after else ZERO
    total_before = round_money(state.exact_total, terms.currency) if state.terms else ZERO
    total_after = round_money(new.exact_total, terms.currency)
    category, subtype = _category(event)
    action = AppliedAction(
        action_id=event.action_id,
        event_id=event.event_id,
        category=category,
        subtype=subtype,
        effective_date=event.effective_date,
        action_time=event.time,
        order_id=event.order_id,
        quantity_change=after_qty - before_qty,
        mrr_change=rounded_mrr(applied.after, terms) - rounded_mrr(applied.before, terms),
        amount_change=total_after - total_before,
    )
    return replace(new, actions=(*new.actions, action), last_key=sort_key(event))
