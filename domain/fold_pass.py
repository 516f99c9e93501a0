"""One pass of the fold (SPEC §4.1, §9.4): events applied in sort order to a state.

A `FoldPass` starts from a state (empty, or a checkpoint of `domain.fold.FoldLog`)
and applies events one by one: before each event it applies the automatic
renewals due before it, then the event's operation (`domain.operations`); a
refused operation makes the event pending. Deltas (SPEC §4.4) are computed
here, as each action is adopted.

The pass also records how its result depends on `as_of`: automatic renewals
are the only thing that does, so the result holds for every `as_of` in
[`after`, `before`) — `after` the latest renewal it applied, `before` the
earliest it declined because it lay after `as_of`. `FoldLog` keeps a
checkpoint only for the dates it holds for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import NamedTuple

from domain.errors import DomainError
from domain.events import (
    RANK_CHANGE,
    AssetCancelled,
    AssetCreated,
    AssetRenewed,
    AssetRepriced,
    AssetSwapped,
    AssetTerms,
    AssetTransferred,
    Category,
    FoldEvent,
    Period,
    QuantityChanged,
    Subtype,
    TransferReceived,
)
from domain.money import ZERO, Money, minor_unit_digits, round_half_up
from domain.operations import (
    Change,
    Refused,
    auto_renew,
    cancel,
    change_quantity,
    create,
    move_out,
    refuse_without_creation,
    renew,
    renewal_due,
    reprice,
)
from domain.reasons import ReasonCode
from domain.state import (
    AppliedAction,
    EndedBy,
    FoldState,
    PendingEvent,
    SortKey,
    TransferOut,
    rounded_mrr,
)

# The wire type each event came as, for pending events (SPEC §3).
_WIRE_TYPES: dict[type, str] = {
    AssetCreated: "order.fulfilled",
    QuantityChanged: "asset.quantity_changed",
    AssetRenewed: "asset.renewed",
    AssetCancelled: "asset.cancelled",
    AssetTransferred: "asset.transferred",
    AssetRepriced: "asset.repriced",
    AssetSwapped: "asset.swapped",
}


def wire_type(event: FoldEvent) -> str:
    if isinstance(event, TransferReceived):
        return "asset.transferred" if event.kind.value == "transfer" else "asset.swapped"
    return _WIRE_TYPES[type(event)]


@dataclass(frozen=True, slots=True)
class FoldContext:
    """What the fold reads besides the events: the date and facts about the whole set."""

    asset_id: str
    as_of: date
    notices: frozenset[date]  # effective dates of the set's cancellations (§9.4 notices)
    refused: frozenset[str]  # outgoing transfers/swaps whose target refused them (§9.5)
    has_creation: bool  # the set holds a creation (decides reasons before it)


class Checkpoint(NamedTuple):
    """The state after the first `folded` events, valid for `after` ≤ as_of < `before`."""

    folded: int
    state: FoldState
    after: date
    before: date


class ActionHeader(NamedTuple):
    """What an action says about itself, besides its deltas."""

    action_id: str
    event_id: str | None
    category: Category
    subtype: Subtype | None
    effective_date: date
    action_time: datetime
    order_id: str | None
    related_asset_id: str | None


def header_of(event: FoldEvent) -> ActionHeader:
    """Category, subtype and the related asset of the action an event becomes (SPEC §5)."""
    category: Category
    subtype: Subtype | None = None
    related: str | None = None
    if isinstance(event, AssetCreated):
        category = event.category
    elif isinstance(event, TransferReceived):
        category, subtype = event.kind.category, event.kind.target_subtype
        related = event.source_asset_id
    elif isinstance(event, QuantityChanged):
        category = Category.UPSELL if event.quantity_change > 0 else Category.DOWNSELL
    elif isinstance(event, AssetRenewed):
        category = Category.RENEWAL
    elif isinstance(event, AssetCancelled):
        category = Category.CANCELLATION
    elif isinstance(event, AssetRepriced):
        category = Category.PRICE_CHANGE
    else:
        category, subtype = event.movement.category, event.movement.source_subtype
        related = event.target_asset_id
    return ActionHeader(event.action_id, event.event_id, category, subtype, event.effective_date,
                        event.time, event.order_id, related)  # fmt: skip


def auto_renewal_header(asset_id: str, start: date) -> ActionHeader:
    """SPEC §9.4: action id `{asset_id}/auto-renewal/{E}`, action time `{E}T00:00:00Z`."""
    return ActionHeader(
        f"{asset_id}/auto-renewal/{start.isoformat()}", None, Category.RENEWAL,
        Subtype.AUTO_RENEWAL, start, datetime.combine(start, time(0), tzinfo=UTC), None, None,
    )  # fmt: skip


class FoldPass:
    """The mutable state of one pass of the fold; never leaves the fold modules.

    Lists instead of tuples so that a step replaces only the periods it touches.
    """

    __slots__ = ("actions", "after", "before", "context", "ended_by", "exact_total", "last_key",
                 "lifecycle_end", "pending", "periods", "rounded_total", "terms",
                 "transfers_out")  # fmt: skip

    def __init__(self, checkpoint: Checkpoint, context: FoldContext) -> None:
        state = checkpoint.state
        self.context = context
        self.after, self.before = checkpoint.after, checkpoint.before
        self.terms: AssetTerms | None = state.terms
        self.periods: list[Period] = list(state.periods)
        self.lifecycle_end = state.lifecycle_end
        self.ended_by: EndedBy | None = state.ended_by
        self.actions: list[AppliedAction] = list(state.actions)
        self.pending: list[PendingEvent] = list(state.pending)
        self.exact_total = state.exact_total
        self.rounded_total = state.rounded_total
        self.transfers_out: list[TransferOut] = list(state.transfers_out)
        self.last_key: SortKey | None = state.last_key

    @property
    def creation_exists(self) -> bool:
        return self.context.has_creation

    def checkpoint(self, folded: int) -> Checkpoint:
        return Checkpoint(folded, self.freeze(), self.after, self.before)

    def freeze(self) -> FoldState:
        return FoldState(
            terms=self.terms,
            periods=tuple(self.periods),
            lifecycle_end=self.lifecycle_end,
            ended_by=self.ended_by,
            actions=tuple(self.actions),
            pending=tuple(self.pending),
            exact_total=self.exact_total,
            rounded_total=self.rounded_total,
            transfers_out=tuple(self.transfers_out),
            last_key=self.last_key,
        )

    def step(self, event: FoldEvent, key: SortKey) -> None:
        """Apply one event at its position (after the automatic renewals due before it)."""
        self.renew_until(key)
        self.last_key = key
        if isinstance(event, TransferReceived) and event.withdrawn:
            return  # the source no longer transfers anything: the event is void
        result = self._apply(event)
        if isinstance(result, Refused):
            self.pending.append(
                PendingEvent(
                    action_id=event.action_id,
                    event_id=event.event_id,
                    event_type=wire_type(event),
                    effective_date=event.effective_date,
                    reason_code=result.reason_code,
                    reason=result.reason,
                )
            )
            return
        self._adopt(result, header_of(event))

    def renew_until(self, key: SortKey | None) -> None:
        """SPEC §9.4: apply the automatic renewals due before an event sorting at `key`.

        A renewal at E is due before the first event sorting at or after (E, rank 2); with
        `key` None (the end of the fold) every one up to `as_of` is. One at E > as_of is
        declined, and the pass records that its result holds only while as_of < E.
        """
        while True:
            due = renewal_due(self, self.context.notices)
            if due is None or (key is not None and (key[0], key[1]) < (due, RANK_CHANGE)):
                return
            if due > self.context.as_of:
                if key is not None:
                    self.before = min(self.before, due)
                return
            terms = self.terms
            if terms is None:  # pragma: no cover - renewal_due needs terms
                raise DomainError("automatic renewal without terms")
            self._adopt(auto_renew(self, terms, due),
                        auto_renewal_header(self.context.asset_id, due))  # fmt: skip
            self.after = max(self.after, due)

    def _apply(self, event: FoldEvent) -> Change | Refused:
        if isinstance(event, AssetCreated | TransferReceived):
            return create(self, event)
        terms = self.terms
        if terms is None:
            return refuse_without_creation(self, event)
        if isinstance(event, QuantityChanged):
            return change_quantity(self, event, terms)
        if isinstance(event, AssetRenewed):
            return renew(self, event, terms)
        if isinstance(event, AssetCancelled):
            return cancel(self, event, terms)
        if isinstance(event, AssetRepriced):
            return reprice(self, event, terms)
        result = move_out(self, event, terms)
        if isinstance(result, Change) and event.event_id in self.context.refused:
            # SPEC §9.5: the target could not be created. The units stay here; the target
            # keeps what it would get, pending on its side, in case its id becomes free.
            if result.transfer is not None:
                self.transfers_out.append(replace(result.transfer, refused=True))
            return Refused(
                ReasonCode.ASSET_ALREADY_EXISTS,
                f"target asset {event.target_asset_id} already belongs to another asset; "
                "the units stay on this one",
            )
        return result

    def _adopt(self, change: Change, header: ActionHeader) -> None:
        """SPEC §4.4: deltas are the state in effect on D after minus before; amounts, totals."""
        if change.terms is not None:
            self.terms = change.terms
        terms = self.terms
        if terms is None:  # pragma: no cover - every applied operation has terms
            raise DomainError("applied operation without terms")
        self.periods[change.index :] = change.tail
        if change.end is not None:
            self.lifecycle_end = change.end
        if change.ended_by is not None:
            self.ended_by = change.ended_by
        if change.transfer is not None:
            self.transfers_out.append(change.transfer)
        total_before = self.rounded_total
        self.exact_total += change.delta
        self.rounded_total = round_half_up(self.exact_total, minor_unit_digits(terms.currency))
        before_qty = change.before.quantity if change.before else ZERO
        after_qty = change.after.quantity if change.after else ZERO
        self.actions.append(
            AppliedAction(
                action_id=header.action_id,
                event_id=header.event_id,
                category=header.category,
                subtype=header.subtype,
                effective_date=header.effective_date,
                action_time=header.action_time,
                order_id=header.order_id,
                quantity_change=after_qty - before_qty,
                mrr_change=rounded_mrr(change.after, terms) - rounded_mrr(change.before, terms),
                amount_change=Money(self.rounded_total - total_before, terms.currency),
                related_asset_id=header.related_asset_id,
            )
        )
