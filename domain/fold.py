"""The fold of SPEC §4.1 and §9: an asset's state is a pure function of its set of events and
of `as_of`.

1. Voids take events out of the set (SPEC §9.3, `domain.voids`).
2. Sort the rest by (effective date, rank, time, id).
3. Apply them in that order to an empty asset, each after the automatic renewals due
   before it (SPEC §9.4); an event whose precondition fails at its position is pending,
   with a reason code.
4. Applied events become actions; their deltas are computed during the fold
   (`domain.fold_pass`), so a backdated event can change later actions' deltas.

`FoldLog` keeps an asset's set of events with the state before every few sorted events
(checkpoints), so a new event re-applies only the events from the last checkpoint
before its position: an event sorting last costs one step, a backdated one the events
after it plus at most one checkpoint interval.

The fold depends on `as_of` only through automatic renewals, so each checkpoint
carries the dates it holds for (`Checkpoint.after`/`before`); moving `as_of`
(`FoldLog.at`) keeps the checkpoints that still hold and re-applies from the last of
them, usually only the renewals at the end. Two facts about the whole set are read
during the fold: the cancellation dates (a notice of non-renewal stops the renewal at
its date, which sorts before it) and the transfers whose target refused them; a change
to either re-applies from the first position it can affect. Property tests hold every
path to the full fold's result.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from domain.events import (
    RANK_CHANGE,
    AssetCancelled,
    AssetCreated,
    AssetEvent,
    AssetSwapped,
    AssetTransferred,
    EventVoided,
    FoldEvent,
    TargetRefusal,
    TransferReceived,
    sort_key,
)
from domain.fold_pass import Checkpoint, FoldContext, FoldPass
from domain.operations import renewal_due
from domain.reasons import ReasonCode
from domain.state import EMPTY_FOLD, FoldState, PendingEvent, SortKey
from domain.voids import NO_VOIDS, VoidRuling, can_be_voided, rule_voids

# A checkpoint every this many events at least, and at most about CHECKPOINTS per asset:
# memory stays O(CHECKPOINTS × history) while a backdated event re-applies at most
# history / CHECKPOINTS events more than the ones after it.
MIN_CHECKPOINT_SPACING = 16
CHECKPOINTS = 32

_START = Checkpoint(0, EMPTY_FOLD, date.min, date.max)
# SPEC §9.4: pending for these reasons, an event may get room from an automatic renewal.
_WAITING_REASONS = frozenset({ReasonCode.OUTSIDE_LIFECYCLE, ReasonCode.RENEWAL_NOT_CONTIGUOUS})


def is_creation(event: FoldEvent) -> bool:
    if isinstance(event, TransferReceived):
        return not event.withdrawn
    return isinstance(event, AssetCreated)


def _holds(checkpoint: Checkpoint, as_of: date) -> bool:
    return checkpoint.after <= as_of < checkpoint.before


@dataclass(frozen=True, slots=True)
class FoldLog:
    """An asset's set of events, folded as of a date, with checkpoints to resume from.

    `events` are the sorted ones the fold applies (voided ones are in `shelved`);
    `checkpoints` ascend in `folded`, start with `(0, EMPTY_FOLD)` and all hold for
    `context.as_of`; `base` is the state after every event, before the automatic renewals
    at the end, `tail` the state after those renewals; `state` is the asset's full state
    (with waiting events and voids). They are in memory only: a log rebuilt from stored
    events computes them again.
    """

    events: tuple[FoldEvent, ...]
    keys: tuple[SortKey, ...]
    checkpoints: tuple[Checkpoint, ...]
    base: Checkpoint
    tail: Checkpoint
    state: FoldState
    context: FoldContext
    voids: tuple[EventVoided, ...] = ()
    shelved: tuple[FoldEvent, ...] = ()
    refusals: tuple[TargetRefusal, ...] = ()
    ruling: VoidRuling = NO_VOIDS

    @classmethod
    def of(
        cls, events: Iterable[AssetEvent], *, as_of: date | None = None, asset_id: str = ""
    ) -> FoldLog:
        """The fold of a set of distinct events (any order) as of `as_of` (None: no date has
        come yet, so no automatic renewal applies)."""
        items = list(events)
        if not asset_id and items:
            asset_id = items[0].asset_id
        folded = [e for e in items if not isinstance(e, EventVoided | TargetRefusal)]
        voids = tuple(e for e in items if isinstance(e, EventVoided))
        refusals = tuple(e for e in items if isinstance(e, TargetRefusal))
        ruling = rule_voids(voids, folded)
        kept = sorted((e for e in folded if not _voided(e, ruling)), key=sort_key)
        shelved = tuple(e for e in folded if _voided(e, ruling))
        keys = tuple(sort_key(e) for e in kept)
        context = _context(asset_id, as_of or date.min, kept, refusals)
        return _refold(tuple(kept), keys, (_START,), _START, context, voids, shelved, refusals,
                       ruling)  # fmt: skip

    @property
    def has_creation(self) -> bool:
        return self.context.has_creation

    @property
    def as_of(self) -> date:
        return self.context.as_of

    def __len__(self) -> int:
        return len(self.events)

    def index_of(self, action_id: str, key: SortKey) -> int | None:
        """Where the sorted event with this sort key and action id sits, if it is here."""
        index = bisect.bisect_left(self.keys, key)
        while index < len(self.keys) and self.keys[index] == key:
            if self.events[index].action_id == action_id:
                return index
            index += 1
        return None

    def members(self) -> Iterable[AssetEvent]:
        """Every event of the set: sorted, voided, voids and targets' reports."""
        yield from self.events
        yield from self.shelved
        yield from self.voids
        yield from self.refusals

    def at(self, as_of: date) -> FoldLog:
        """The same set folded as of another date (the worker's clock moved)."""
        if as_of == self.context.as_of:
            return self
        context = replace(self.context, as_of=as_of)
        if _holds(self.base, as_of):
            # Later: the renewals at the end so far stay, more may follow; earlier: recount.
            resume = self.tail if as_of > self.context.as_of else None
            return _finish(self, self.events, self.keys, self.checkpoints, self.base, context,
                           resume)  # fmt: skip
        kept = self.checkpoints
        while not _holds(kept[-1], as_of):  # the first checkpoint, (0, EMPTY), always holds
            kept = kept[:-1]
        return _refold(self.events, self.keys, kept, kept[-1], context, self.voids,
                       self.shelved, self.refusals, self.ruling)  # fmt: skip

    def adding(self, event: AssetEvent) -> FoldLog:
        """The set with one more event (one step when it sorts last, the usual case)."""
        if isinstance(event, EventVoided | TargetRefusal):
            return self.changed(add=(event,))
        if (
            self.voids
            and can_be_voided(event)
            and any(v.voided_event_id == event.event_id for v in self.voids)
        ):
            return self.changed(add=(event,))  # voided on arrival (SPEC §9.3)
        key = sort_key(event)
        notice = isinstance(event, AssetCancelled) and event.effective_date not in (
            self.context.notices
        )
        if (
            (self.keys and key < self.keys[-1])
            or (is_creation(event) and not self.has_creation)
            or (notice and self.keys and self.keys[-1][:2] >= (event.effective_date, RANK_CHANGE))
        ):
            return self.changed(add=(event,))
        context = self.context
        if not context.asset_id:
            context = replace(context, asset_id=event.asset_id)
        if notice:
            context = replace(context, notices=context.notices | {event.effective_date})
        events, keys = (*self.events, event), (*self.keys, key)
        checkpoints = self.checkpoints
        if len(self.events) - checkpoints[-1].folded >= _spacing(len(events)):
            checkpoints = (*checkpoints, self.base)
        # The renewals at the end that all sort before the event are the ones its step would
        # apply first: resume after them (the usual case for an auto-renewing asset) — unless
        # the event is a new notice, which may cancel one of them.
        tail = self.tail
        after_tail = tail is not self.base and (tail.after, RANK_CHANGE) <= key[:2]
        start = tail if after_tail and not notice else self.base
        work = FoldPass(start, context)
        work.step(event, key)
        return _finish(self, events, keys, checkpoints, work.checkpoint(len(events)), context)

    def edited(self, *, remove: Iterable[int] = (), add: Iterable[AssetEvent] = ()) -> FoldLog:
        """The set without the sorted events at the `remove` indices and with `add`."""
        return self.changed(remove=[self.events[i] for i in remove], add=add)

    def without_actions(self, action_ids: Iterable[str]) -> FoldLog:
        """The set without every member whose action id is in `action_ids`."""
        wanted = set(action_ids)
        return self.changed(remove=[e for e in self.members() if e.action_id in wanted])

    def changed(
        self, *, remove: Iterable[AssetEvent] = (), add: Iterable[AssetEvent] = ()
    ) -> FoldLog:
        """The set without the members in `remove` (by identity) and with `add`.

        1. Voids and reports are replaced; the voids are judged again when they or the
           events they name changed.
        2. The sorted events lose the removed and newly voided ones and gain the added and
           no longer voided ones; the first position that changed is noted, with the
           first position a changed notice date or refusal can affect.
        3. The fold resumes from the last checkpoint before that position.
        """
        gone = {id(e) for e in remove}
        added = list(add)
        # Step 1
        voids = tuple(v for v in self.voids if id(v) not in gone) + tuple(
            e for e in added if isinstance(e, EventVoided)
        )
        refusals = tuple(r for r in self.refusals if id(r) not in gone) + tuple(
            e for e in added if isinstance(e, TargetRefusal)
        )
        incoming = [e for e in added if not isinstance(e, EventVoided | TargetRefusal)]
        present = [e for e in self.events if id(e) not in gone]
        shelved_left = [e for e in self.shelved if id(e) not in gone]
        ruling = self.ruling
        shrunk = len(present) != len(self.events) or len(shelved_left) != len(self.shelved)
        if voids != self.voids or (voids and (incoming or shrunk)):
            ruling = rule_voids(voids, [*present, *shelved_left, *incoming])
        # Step 2
        first = len(self.events)
        pairs: list[tuple[SortKey, FoldEvent]] = []
        newly_voided: list[FoldEvent] = []
        for index, (key, event) in enumerate(zip(self.keys, self.events, strict=True)):
            if id(event) in gone:
                first = min(first, index)
            elif _voided(event, ruling):
                first = min(first, index)
                newly_voided.append(event)
            else:
                pairs.append((key, event))
        shelved = tuple(e for e in (*shelved_left, *incoming, *newly_voided) if _voided(e, ruling))
        for event in (*shelved_left, *incoming):
            if _voided(event, ruling):
                continue
            key = sort_key(event)
            pairs.insert(bisect.bisect_right(pairs, key, key=lambda pair: pair[0]), (key, event))
            first = min(first, bisect.bisect_right(self.keys, key))
        events = tuple(e for _, e in pairs)
        keys = tuple(k for k, _ in pairs)
        context = _context(self.context.asset_id, self.context.as_of, events, refusals)
        for day in context.notices ^ self.context.notices:
            first = min(first, bisect.bisect_left(self.keys, (day, RANK_CHANGE)))
        for event_id in context.refused ^ self.context.refused:
            first = min(first, _position_of(self.events, event_id))
        if not context.asset_id:
            context = replace(context, asset_id=_asset_id(events, voids, refusals))
        # Step 3
        if context.has_creation != self.has_creation:
            # Whether a creation exists decides pending reasons before it: start over.
            return _refold(events, keys, (_START,), _START, context, voids, shelved, refusals,
                           ruling)  # fmt: skip
        if first >= len(self.events):
            resume, checkpoints = self.base, self.checkpoints
        else:
            position = bisect.bisect_right(self.checkpoints, first, key=lambda cp: cp.folded)
            checkpoints = self.checkpoints[:position]
            resume = checkpoints[-1]
        return _refold(events, keys, checkpoints, resume, context, voids, shelved, refusals,
                       ruling)  # fmt: skip


def _voided(event: FoldEvent, ruling: VoidRuling) -> bool:
    return event.event_id in ruling.voided_ids and can_be_voided(event)


def _position_of(events: Sequence[FoldEvent], event_id: str) -> int:
    for index, event in enumerate(events):
        if isinstance(event, AssetTransferred | AssetSwapped) and event.event_id == event_id:
            return index
    return len(events)


def _asset_id(*groups: Sequence[AssetEvent]) -> str:
    return next((e.asset_id for group in groups for e in group), "")


def _context(
    asset_id: str, as_of: date, events: Sequence[FoldEvent], refusals: Sequence[TargetRefusal]
) -> FoldContext:
    return FoldContext(
        asset_id=asset_id,
        as_of=as_of,
        notices=frozenset(e.effective_date for e in events if isinstance(e, AssetCancelled)),
        refused=frozenset(r.event_id for r in refusals if r.refused),
        has_creation=any(is_creation(e) for e in events),
    )


def _spacing(count: int) -> int:
    return max(MIN_CHECKPOINT_SPACING, count // CHECKPOINTS)


def _refold(
    events: tuple[FoldEvent, ...],
    keys: tuple[SortKey, ...],
    checkpoints: tuple[Checkpoint, ...],
    resume: Checkpoint,
    context: FoldContext,
    voids: tuple[EventVoided, ...],
    shelved: tuple[FoldEvent, ...],
    refusals: tuple[TargetRefusal, ...],
    ruling: VoidRuling,
) -> FoldLog:
    """Fold `events` from `resume` on (a checkpoint, or the base), adding checkpoints."""
    kept = list(checkpoints)
    spacing = _spacing(len(events))
    work = FoldPass(resume, context)
    last_checkpoint = kept[-1].folded
    for index in range(resume.folded, len(events)):
        if index - last_checkpoint >= spacing:
            kept.append(work.checkpoint(index))
            last_checkpoint = index
        work.step(events[index], keys[index])
    base = work.checkpoint(len(events))
    log = FoldLog(events, keys, tuple(kept), base, base, base.state, context, voids, shelved,
                  refusals, ruling)  # fmt: skip
    return _finish(log, events, keys, log.checkpoints, base, context)


def _finish(
    log: FoldLog,
    events: tuple[FoldEvent, ...],
    keys: tuple[SortKey, ...],
    checkpoints: tuple[Checkpoint, ...],
    base: Checkpoint,
    context: FoldContext,
    resume: Checkpoint | None = None,
) -> FoldLog:
    """The log's full state: `base`, then the renewals due at the end (continuing from
    `resume`, a tail of the same base for an earlier `as_of`), waiting events, voids."""
    tail = resume or base
    due = renewal_due(tail.state, context.notices)
    if due is not None and due <= context.as_of:
        work = FoldPass(tail, context)
        work.renew_until(None)
        tail = work.checkpoint(len(events))
        due = renewal_due(tail.state, context.notices)
    state = tail.state
    ruling = log.ruling
    pending = state.pending
    if due is not None:
        pending = tuple(_waiting(p, context.as_of) for p in pending)
    if ruling.pending:
        pending = (*pending, *ruling.pending)
    if due is not None or ruling.listing or pending is not state.pending:
        state = replace(state, pending=pending, voided=ruling.listing, next_renewal=due)
    return FoldLog(events, keys, checkpoints, base, tail, state, context, log.voids,
                   log.shelved, log.refusals, ruling)  # fmt: skip


def _waiting(pending: PendingEvent, as_of: date) -> PendingEvent:
    """SPEC §9.4: pending for want of a renewal that may still come, dated after `as_of`."""
    day = pending.effective_date
    if pending.reason_code in _WAITING_REASONS and day is not None and day > as_of:
        return replace(pending, waiting=True)
    return pending


def fold(events: Iterable[AssetEvent], *, as_of: date | None = None) -> FoldState:
    """Fold a set of distinct events (any order) into the asset's state as of `as_of`."""
    return FoldLog.of(events, as_of=as_of).state


__all__ = ["CHECKPOINTS", "MIN_CHECKPOINT_SPACING", "FoldLog", "fold", "is_creation"]
