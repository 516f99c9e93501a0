"""The fold of SPEC §4.1: an asset's state is a pure function of its set of events.

1. Sort by (effective date, rank, time, id).
2. Apply in that order to an empty asset; an event whose precondition fails at
   its position is pending, with a reason code.
3. Applied events become actions; their deltas are computed here, during the
   fold, so a backdated event can change later actions' deltas.

`FoldLog` keeps an asset's sorted events with the state before every few of
them (checkpoints), so a new event re-applies only the events from the last
checkpoint before its position: an event sorting last costs one step, a
backdated one the events after it plus at most one checkpoint interval. A
property test holds every path to the full fold's result.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import DomainError
from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetEvent,
    AssetRenewed,
    AssetTransferred,
    Category,
    Period,
    QuantityChanged,
    Subtype,
    TransferReceived,
    sort_key,
)
from domain.money import ZERO, round_money
from domain.operations import Change, Refused, cancel, change_quantity, create, renew, transfer
from domain.reasons import ReasonCode
from domain.state import (
    EMPTY_FOLD,
    AppliedAction,
    AssetTerms,
    EndedBy,
    FoldState,
    PendingEvent,
    SortKey,
    TransferOut,
    rounded_mrr,
)

EVENT_TYPES: dict[type, str] = {
    AssetCreated: "order.fulfilled",
    QuantityChanged: "asset.quantity_changed",
    AssetRenewed: "asset.renewed",
    AssetCancelled: "asset.cancelled",
    AssetTransferred: "asset.transferred",
    TransferReceived: "asset.transferred",
}

# A checkpoint every this many events at least, and at most about CHECKPOINTS per asset:
# memory stays O(CHECKPOINTS × history) while a backdated event re-applies at most
# history / CHECKPOINTS events more than the ones after it.
MIN_CHECKPOINT_SPACING = 16
CHECKPOINTS = 32


def is_creation(event: AssetEvent) -> bool:
    if isinstance(event, TransferReceived):
        return not event.withdrawn
    return isinstance(event, AssetCreated)


class _Work:
    """The mutable state of one pass of the fold; never leaves this module.

    Lists instead of tuples so that a step replaces only the periods it touches.
    """

    __slots__ = ("actions", "ended_by", "exact_total", "last_key", "lifecycle_end", "pending",
                 "periods", "rounded_total", "terms", "transfers_out")  # fmt: skip

    def __init__(self, state: FoldState) -> None:
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

    def step(self, event: AssetEvent, key: SortKey, has_creation: bool) -> None:
        self.last_key = key
        if isinstance(event, TransferReceived) and event.withdrawn:
            return  # the source no longer transfers anything: the event is void
        result = _apply(self, event, has_creation)
        if isinstance(result, Refused):
            self.pending.append(
                PendingEvent(
                    action_id=event.action_id,
                    event_id=event.event_id,
                    event_type=EVENT_TYPES[type(event)],
                    effective_date=event.effective_date,
                    reason_code=result.reason_code,
                    reason=result.reason,
                )
            )
            return
        self._adopt(result, event)

    def _adopt(self, change: Change, event: AssetEvent) -> None:
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
        self.rounded_total = round_money(self.exact_total, terms.currency)
        before_qty = change.before.quantity if change.before else ZERO
        after_qty = change.after.quantity if change.after else ZERO
        category, subtype = _category(event)
        self.actions.append(
            AppliedAction(
                action_id=event.action_id,
                event_id=event.event_id,
                category=category,
                subtype=subtype,
                effective_date=event.effective_date,
                action_time=event.time,
                order_id=event.order_id,
                quantity_change=after_qty - before_qty,
                mrr_change=rounded_mrr(change.after, terms) - rounded_mrr(change.before, terms),
                amount_change=self.rounded_total - total_before,
            )
        )


def _apply(work: _Work, event: AssetEvent, has_creation: bool) -> Change | Refused:
    if isinstance(event, AssetCreated | TransferReceived):
        return create(work, event)
    terms = work.terms
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
        return change_quantity(work, event, terms)
    if isinstance(event, AssetRenewed):
        return renew(work, event, terms)
    if isinstance(event, AssetCancelled):
        return cancel(work, event, terms)
    return transfer(work, event, terms)


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


@dataclass(frozen=True, slots=True)
class FoldLog:
    """An asset's events in fold order, its state, and checkpoints to resume the fold from.

    `checkpoints[i] = (n, state)`: the state after the first `n` events, ascending in `n`,
    always starting with `(0, EMPTY_FOLD)`. They are in memory only: a log rebuilt from
    stored events computes them again.
    """

    events: tuple[AssetEvent, ...]
    keys: tuple[SortKey, ...]
    checkpoints: tuple[tuple[int, FoldState], ...]
    state: FoldState
    has_creation: bool

    @classmethod
    def of(cls, events: Iterable[AssetEvent]) -> FoldLog:
        ordered = sorted(events, key=sort_key)
        keys = tuple(sort_key(e) for e in ordered)
        return _refold(tuple(ordered), keys, ((0, EMPTY_FOLD),))

    def __len__(self) -> int:
        return len(self.events)

    def index_of(self, action_id: str, key: SortKey) -> int | None:
        """Where the event with this sort key and action id sits, if it is here."""
        index = bisect.bisect_left(self.keys, key)
        while index < len(self.keys) and self.keys[index] == key:
            if self.events[index].action_id == action_id:
                return index
            index += 1
        return None

    def adding(self, event: AssetEvent) -> FoldLog:
        """The log with one more event (one step when it sorts last, the usual case)."""
        key = sort_key(event)
        if (self.keys and key < self.keys[-1]) or (is_creation(event) and not self.has_creation):
            return self.edited(add=(event,))
        events, keys = (*self.events, event), (*self.keys, key)
        checkpoints = self.checkpoints
        if len(self.events) - checkpoints[-1][0] >= _spacing(len(events)):
            checkpoints = (*checkpoints, (len(self.events), self.state))
        work = _Work(self.state)
        work.step(event, key, self.has_creation)
        return FoldLog(events, keys, checkpoints, work.freeze(), self.has_creation)

    def edited(self, *, remove: Iterable[int] = (), add: Iterable[AssetEvent] = ()) -> FoldLog:
        """The log without the events at the `remove` indices and with `add`.

        The fold resumes from the last checkpoint before the first position that changed.
        """
        dropped = set(remove)
        kept = [(k, e) for i, (k, e) in enumerate(zip(self.keys, self.events, strict=True))
                if i not in dropped]  # fmt: skip
        for event in add:
            key = sort_key(event)
            kept.insert(bisect.bisect_right(kept, key, key=lambda pair: pair[0]), (key, event))
        keys = tuple(k for k, _ in kept)
        events = tuple(e for _, e in kept)
        # The fold is unchanged over the common prefix of the old and new event lists.
        first, limit = 0, min(len(events), len(self.events))
        while first < limit and events[first] is self.events[first]:
            first += 1
        has_creation = any(is_creation(e) for e in events)
        if has_creation != self.has_creation:
            # Whether a creation exists decides pending reasons before it: start over.
            return _refold(events, keys, ((0, EMPTY_FOLD),), has_creation)
        position = bisect.bisect_right(self.checkpoints, first, key=lambda cp: cp[0]) - 1
        return _refold(events, keys, self.checkpoints[: position + 1], has_creation)


def _spacing(count: int) -> int:
    return max(MIN_CHECKPOINT_SPACING, count // CHECKPOINTS)


def _refold(
    events: tuple[AssetEvent, ...],
    keys: tuple[SortKey, ...],
    checkpoints: tuple[tuple[int, FoldState], ...],
    has_creation: bool | None = None,
) -> FoldLog:
    """Fold `events` from the last of `checkpoints` on, adding checkpoints as it goes."""
    if has_creation is None:
        has_creation = any(is_creation(e) for e in events)
    start, state = checkpoints[-1]
    kept = list(checkpoints)
    spacing = _spacing(len(events))
    work = _Work(state)
    last_checkpoint = start
    for index in range(start, len(events)):
        if index - last_checkpoint >= spacing:
            kept.append((index, work.freeze()))
            last_checkpoint = index
        work.step(events[index], keys[index], has_creation)
    return FoldLog(events, keys, tuple(kept), work.freeze(), has_creation)


def fold(events: Iterable[AssetEvent]) -> FoldState:
    """Fold a set of distinct events (any order) into the asset's state."""
    return FoldLog.of(events).state
