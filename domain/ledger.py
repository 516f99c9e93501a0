"""One asset's ledger: its entries, fold, pending clocks and published version (SPEC §4.6, §5).

Every message that reaches an asset ends in exactly one place: applied,
duplicate (the last snapshot is re-published), pending (visible in the
snapshot), or dead-lettered (a pending event after its grace). Conflicts —
an event id seen before with other content — are decided by the event-id
registry (`service.registry`), never here: an asset holds a second copy of an
action id until the registry revokes one of the two, so a message whose id
conflicts on several assets is dead-lettered once, by one place.

Entries carry a sequence number so a store can keep one row per entry and
write only the entries a step changed (`Step.written`) plus a small head: an
event at the end of a long history writes a constant number of bytes.

The fold depends on `as_of` (automatic renewals, SPEC §9.4): every transition first
moves the fold to its own `as_of`, so a renewal that became due is applied and
published with whatever else changed. Events waiting for a renewal have no pending
clock until they stop waiting. As a transfer or swap target, the ledger reports to
the source whether its creation was refused (SPEC §9.5, `Step.refusals`).

The worker and `assetstream replay` drive the same functions; the clock
(`as_of`, `now`) is always passed in.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from domain.errors import DomainError
from domain.events import AssetEvent, AssetTerms, EventVoided, TargetRefusal, TransferReceived
from domain.fold import FoldLog
from domain.ledger_types import DeadLetter, Delivery, Entry, EntryStatus, Outcome, Step
from domain.operations import target_terms
from domain.reasons import ReasonCode
from domain.snapshot import head_at
from domain.state import FoldState, PendingEvent, TransferOut
from domain.voids import can_be_voided

_EMPTY_LOG = FoldLog.of(())


@dataclass(frozen=True, slots=True)
class PendingClock:
    """When an event became pending; its grace period runs from here."""

    action_id: str
    since: datetime


@dataclass(frozen=True, slots=True)
class PublishedHead:
    """The as_of-dependent part of the last published snapshot."""

    as_of: date
    status: str
    current_quantity: str
    current_mrr: str

    def fields(self) -> tuple[str, str, str]:
        return (self.status, self.current_quantity, self.current_mrr)


@dataclass(frozen=True, slots=True)
class AssetLedger:
    asset_id: str
    entries: tuple[Entry, ...]  # every entry, sorted by (action_id, seq)
    log: FoldLog  # the live entries' events, folded
    next_seq: int
    pending_since: tuple[PendingClock, ...]
    revoked: tuple[tuple[str, str], ...]  # (event_id, fingerprint) ruled conflicts, sorted
    version: int
    published: PublishedHead | None
    updated_by_event_id: str | None

    @property
    def fold(self) -> FoldState:
        return self.log.state

    @property
    def exists(self) -> bool:
        return self.fold.terms is not None

    @property
    def account_id(self) -> str | None:
        return self.fold.terms.account_id if self.fold.terms else None

    def entries_for(self, action_id: str) -> tuple[Entry, ...]:
        start = bisect.bisect_left(self.entries, action_id, key=lambda e: e.action_id)
        end = bisect.bisect_right(self.entries, action_id, lo=start, key=lambda e: e.action_id)
        return self.entries[start:end]

    def entry(self, seq: int) -> Entry | None:
        return next((e for e in self.entries if e.seq == seq), None)


def new_ledger(asset_id: str) -> AssetLedger:
    return AssetLedger(
        asset_id=asset_id,
        entries=(),
        log=_EMPTY_LOG,
        next_seq=0,
        pending_since=(),
        revoked=(),
        version=0,
        published=None,
        updated_by_event_id=None,
    )


def restore(
    asset_id: str,
    entries: tuple[Entry, ...],
    *,
    pending_since: tuple[PendingClock, ...],
    revoked: tuple[tuple[str, str], ...],
    version: int,
    published: PublishedHead | None,
    updated_by_event_id: str | None,
    as_of: date | None = None,
) -> AssetLedger:
    """A ledger rebuilt from stored entries and head fields (the fold is computed again).

    The fold is computed as of `as_of`, by default the last publication's (which gives
    back exactly what was published); the next transition moves it to its own date.
    """
    ordered = tuple(sorted(entries, key=lambda e: (e.action_id, e.seq)))
    live = (e.delivery.event for e in ordered if e.status is EntryStatus.LIVE)
    if as_of is None and published is not None:
        as_of = published.as_of
    return AssetLedger(
        asset_id=asset_id,
        entries=ordered,
        log=FoldLog.of(live, as_of=as_of, asset_id=asset_id),
        next_seq=max((e.seq for e in ordered), default=-1) + 1,
        pending_since=pending_since,
        revoked=revoked,
        version=version,
        published=published,
        updated_by_event_id=updated_by_event_id,
    )


def receive(ledger: AssetLedger, delivery: Delivery, *, as_of: date, now: datetime) -> Step:
    """One event arrives at this asset (an input event, a target's revision or report)."""
    event = delivery.event
    if isinstance(event, TransferReceived | TargetRefusal):
        return _receive_revision(ledger, delivery, as_of=as_of, now=now)
    same_id = ledger.entries_for(event.action_id)
    if any(e.delivery.fingerprint == delivery.fingerprint for e in same_id):
        if any(e.status is EntryStatus.REVOKED and e.delivery.fingerprint == delivery.fingerprint
               for e in same_id):  # fmt: skip
            return Step(ledger, None)  # the registry already dead-lettered this content
        return _duplicate(ledger)
    if _is_revoked(ledger, event.event_id, delivery.fingerprint):
        return Step(ledger, None)  # ruled a conflict before it arrived here
    blocking = (EntryStatus.LIVE, EntryStatus.DEAD, EntryStatus.HELD)
    if any(e.status in blocking for e in same_id):
        entries, entry = _add_entry(ledger, delivery, EntryStatus.HELD)
        held = replace(ledger, entries=entries, next_seq=ledger.next_seq + 1)
        return Step(held, Outcome.HELD, written=(entry,))
    entries, entry = _add_entry(ledger, delivery, EntryStatus.LIVE)
    updated = replace(ledger, entries=entries, next_seq=ledger.next_seq + 1)
    log = ledger.log.at(as_of).adding(event)
    return _adopt(updated, log, _outcome(log, event), event.event_id, as_of=as_of, now=now,
                  written=(entry,))  # fmt: skip


def revoke(
    ledger: AssetLedger, event_id: str, fingerprint: str, *, as_of: date, now: datetime
) -> Step:
    """The registry ruled this content of `event_id` a duplicate_conflict (and dead-lettered it).

    Its live copies leave the fold and a held copy of the same action id, if any, takes
    their place; a copy that arrives later is dropped.
    """
    revoked = ledger.revoked
    if (event_id, fingerprint) not in revoked:
        revoked = tuple(sorted((*revoked, (event_id, fingerprint))))
    hit = [e for e in ledger.entries
           if e.delivery.event.event_id == event_id and e.delivery.fingerprint == fingerprint
           and e.status is not EntryStatus.REVOKED]  # fmt: skip
    if not hit:
        return Step(replace(ledger, revoked=revoked), None)
    changed = {e.seq: replace(e, status=EntryStatus.REVOKED) for e in hit}
    removed_live = {e.action_id for e in hit if e.status is EntryStatus.LIVE}
    promoted: list[AssetEvent] = []
    for action_id in sorted(removed_live):
        held = [e for e in ledger.entries_for(action_id)
                if e.status is EntryStatus.HELD and e.seq not in changed]  # fmt: skip
        if held:
            first = min(held, key=lambda e: e.seq)
            changed[first.seq] = replace(first, status=EntryStatus.LIVE)
            promoted.append(first.delivery.event)
    entries = tuple(changed.get(e.seq, e) for e in ledger.entries)
    updated = replace(ledger, entries=entries, revoked=revoked)
    written = tuple(changed[seq] for seq in sorted(changed))
    if not removed_live:
        return Step(updated, None, written=written)
    remove = [e.delivery.event for e in hit if e.status is EntryStatus.LIVE]
    log = ledger.log.at(as_of).changed(remove=remove, add=promoted)
    return _adopt(updated, log, None, ledger.updated_by_event_id, as_of=as_of, now=now,
                  written=written)  # fmt: skip


def expire(ledger: AssetLedger, *, as_of: date, now: datetime, grace: timedelta | None) -> Step:
    """Dead-letter events pending for longer than `grace` (None: all of them — end of input).

    An event waiting for an automatic renewal (SPEC §9.4) has no clock yet: it is never due.
    """
    since = {clock.action_id: clock.since for clock in ledger.pending_since}
    moved = ledger.log.at(as_of)  # what is pending as of now (a renewal may have come)
    due: list[PendingEvent] = [
        p
        for p in moved.state.pending
        if p.action_id in since and (grace is None or since[p.action_id] + grace <= now)
    ]
    if not due:
        return Step(ledger, None)
    due_ids = {p.action_id for p in due}
    live = {e.action_id: e for e in ledger.entries if e.status is EntryStatus.LIVE}
    letters = tuple(
        DeadLetter(
            event_id=p.event_id,
            reason_code=p.reason_code,
            reason=f"{p.reason} (pending since {since[p.action_id].isoformat()}; grace ended)",
            source=live[p.action_id].delivery.source if p.action_id in live else None,
            dead_lettered_at=now,
        )
        for p in due
    )
    changed = {live[a].seq: replace(live[a], status=EntryStatus.DEAD)
               for a in due_ids if a in live}  # fmt: skip
    entries = tuple(changed.get(e.seq, e) for e in ledger.entries)
    log = moved.without_actions(due_ids)
    updated = replace(ledger, entries=entries)
    step = _adopt(updated, log, Outcome.DEAD_LETTERED, ledger.updated_by_event_id,
                  as_of=as_of, now=now,
                  written=tuple(changed[seq] for seq in sorted(changed)))  # fmt: skip
    return replace(step, dead_letters=letters)


def refresh(ledger: AssetLedger, *, as_of: date, now: datetime | None = None) -> Step:
    """The clock moved: fold as of the new date and publish if the snapshot changed.

    The fold changes when an automatic renewal became due or a waiting event reached its
    date (SPEC §9.4); otherwise only status and current fields can (a boundary passed).
    `now` starts the grace of events that stopped waiting.
    """
    log = ledger.log.at(as_of)
    if log is not ledger.log and not _same_content(ledger.fold, log.state):
        return _adopt(ledger, log, None, ledger.updated_by_event_id, as_of=as_of, now=now)
    moved = replace(ledger, log=log) if log is not ledger.log else ledger
    head = head_at(log.state, as_of)
    if head is None or (ledger.published is not None and ledger.published.fields() == head):
        return Step(moved, None)
    return _adopt(moved, log, None, ledger.updated_by_event_id, as_of=as_of, now=now)


def current_transfers(ledger: AssetLedger) -> tuple[TransferReceived, ...]:
    """What every target of this asset's transfers and swaps must hold now (for re-sending)."""
    terms = ledger.fold.terms
    if terms is None:
        return ()
    return tuple(
        _transfer_in(ledger.asset_id, terms, out, ledger.version)
        for out in ledger.fold.transfers_out
    )


def current_refusals(ledger: AssetLedger) -> tuple[TargetRefusal, ...]:
    """What this asset, as a target, reports on every transfer it holds (for re-sending)."""
    refused = _refused_here(ledger, ledger.fold)
    reports = []
    for entry in ledger.entries:
        event = entry.delivery.event
        live = entry.status is EntryStatus.LIVE
        if live and isinstance(event, TransferReceived) and not event.withdrawn:
            reports.append(_report(ledger, event, event.action_id in refused, ledger.version))
    return tuple(reports)


def next_boundary(ledger: AssetLedger) -> date | None:
    """The first date after the last publication on which the published view may change.

    Status and current fields change at period boundaries and the lifecycle end; the fold
    itself at the lifecycle end of an auto-renewing asset (the renewal is applied then) and
    on the date of an event waiting for it (its grace starts then) (SPEC §4.5, §9.4).
    """
    fold, published = ledger.fold, ledger.published
    terms = fold.terms
    if terms is None or published is None:
        return None
    after = published.as_of
    periods = fold.periods
    candidates = [terms.lifecycle_start, fold.lifecycle_end, fold.next_renewal]
    candidates += [p.effective_date for p in fold.pending if p.waiting]
    # Periods tile in order: the first one ending after `after` holds the next change, at
    # its start if it lies ahead, else at its end.
    index = bisect.bisect_right(periods, after, key=lambda p: p.end)
    if index < len(periods):
        period = periods[index]
        candidates.append(period.start if period.start > after else period.end)
    return min((d for d in candidates if d is not None and d > after), default=None)


def pending_deadline(ledger: AssetLedger, grace: timedelta) -> datetime | None:
    """When the earliest pending event's grace ends (None when nothing is pending)."""
    return min((c.since + grace for c in ledger.pending_since), default=None)


# --- internals -------------------------------------------------------------------------------


def _duplicate(ledger: AssetLedger) -> Step:
    return Step(ledger, Outcome.DUPLICATE, publish=ledger.published is not None)


def _is_revoked(ledger: AssetLedger, event_id: str, fingerprint: str) -> bool:
    index = bisect.bisect_left(ledger.revoked, (event_id, fingerprint))
    return index < len(ledger.revoked) and ledger.revoked[index] == (event_id, fingerprint)


def _outcome(log: FoldLog, event: AssetEvent) -> Outcome:
    """Where an event that joined the set ended: applied, voided (§9.3) or pending."""
    state = log.state
    if isinstance(event, EventVoided):
        applied = any(v.voided_by == event.event_id for v in state.voided)
        return Outcome.APPLIED if applied else Outcome.PENDING
    if isinstance(event, TargetRefusal):  # pragma: no cover - reports take another path
        return Outcome.APPLIED
    if state.actions and state.actions[-1].action_id == event.action_id:
        return Outcome.APPLIED  # the usual case: the event just applied sorts last
    if can_be_voided(event) and event.event_id in log.ruling.voided_ids:
        return Outcome.VOIDED
    pending = any(p.action_id == event.action_id for p in state.pending)
    return Outcome.PENDING if pending else Outcome.APPLIED


def _add_entry(
    ledger: AssetLedger, delivery: Delivery, status: EntryStatus
) -> tuple[tuple[Entry, ...], Entry]:
    entry = Entry(ledger.next_seq, delivery, status)
    key = (entry.action_id, entry.seq)
    index = bisect.bisect_right(ledger.entries, key, key=lambda e: (e.action_id, e.seq))
    return (*ledger.entries[:index], entry, *ledger.entries[index:]), entry


def _revision(event: TransferReceived | TargetRefusal) -> int:
    return event.source_revision if isinstance(event, TransferReceived) else event.revision


def _receive_revision(
    ledger: AssetLedger, delivery: Delivery, *, as_of: date, now: datetime
) -> Step:
    """Derived events follow their sender: a newer revision replaces the older one.

    A transfer target's creation follows its source's fold; a source keeps its target's
    latest report on whether it could be created (SPEC §9.5).
    """
    event = delivery.event
    if not isinstance(event, TransferReceived | TargetRefusal):  # pragma: no cover
        raise DomainError(f"not a derived event: {type(event).__name__}")
    current = next((e for e in ledger.entries_for(event.action_id)
                    if e.status is EntryStatus.LIVE), None)  # fmt: skip
    if current is not None:
        old = current.delivery.event
        if isinstance(old, TransferReceived | TargetRefusal) and _revision(old) >= _revision(event):
            return _duplicate(ledger) if isinstance(event, TransferReceived) else Step(ledger, None)
    elif isinstance(event, TransferReceived) and event.withdrawn:
        return _duplicate(ledger)  # withdrawing something never received: nothing to do
    elif isinstance(event, TargetRefusal) and not event.refused:
        return Step(ledger, None)  # accepted, and never refused here: nothing to do
    # A withdrawal stays as the entry (the fold ignores it) so that its revision keeps
    # older, replayed revisions from bringing the units back. A revision keeps its entry's
    # sequence number: the store rewrites that one row.
    log = ledger.log.at(as_of)
    if current is None:
        entries, entry = _add_entry(ledger, delivery, EntryStatus.LIVE)
        updated = replace(ledger, entries=entries, next_seq=ledger.next_seq + 1)
        log = log.adding(event)
    else:
        entry = replace(current, delivery=delivery)
        entries = tuple(entry if e.seq == entry.seq else e for e in ledger.entries)
        updated = replace(ledger, entries=entries)
        log = log.changed(remove=(current.delivery.event,), add=(event,))
    if isinstance(event, TargetRefusal):
        if _same_content(ledger.fold, log.state):
            return Step(replace(updated, log=log), None, written=(entry,))
        return _adopt(updated, log, None, ledger.updated_by_event_id, as_of=as_of, now=now,
                      written=(entry,))  # fmt: skip
    outcome = Outcome.APPLIED if event.withdrawn else _outcome(log, event)
    return _adopt(updated, log, outcome, event.event_id, as_of=as_of, now=now,
                  written=(entry,))  # fmt: skip


def _same_content(a: FoldState, b: FoldState) -> bool:
    """Do two folds publish the same snapshot (as_of-dependent fields aside)?"""
    return a is b or (
        a.terms == b.terms
        and a.lifecycle_end == b.lifecycle_end
        and a.ended_by == b.ended_by
        and a.next_renewal == b.next_renewal
        and a.rounded_total == b.rounded_total
        and a.periods == b.periods
        and a.actions == b.actions
        and a.pending == b.pending
        and a.voided == b.voided
        and a.transfers_out == b.transfers_out
    )


def _adopt(
    ledger: AssetLedger,
    log: FoldLog,
    outcome: Outcome | None,
    updated_by: str | None,
    *,
    as_of: date,
    now: datetime | None,
    written: tuple[Entry, ...] = (),
) -> Step:
    """Adopt a new fold: pending clocks, version, publication, the targets' revisions and,
    as a target, reports to the sources."""
    new_fold = log.state
    pending_since = ledger.pending_since
    if now is not None:
        pending_since = _pending_clocks(ledger, new_fold, now)
    version = ledger.version
    published = ledger.published
    head = head_at(new_fold, as_of)
    if head is not None:
        version += 1
        published = PublishedHead(as_of, *head)
    retracted = new_fold.terms is None and ledger.fold.terms is not None
    if retracted:
        version += 1  # the asset vanished: that is a content change too
        published = None
    transfers = _transfer_changes(ledger.asset_id, ledger.fold, new_fold, version)
    refusals = _refusal_changes(ledger, ledger.fold, new_fold, version)
    updated = replace(
        ledger,
        log=log,
        pending_since=pending_since,
        version=version,
        published=published,
        updated_by_event_id=updated_by if head is not None else ledger.updated_by_event_id,
    )
    return Step(updated, outcome, publish=head is not None, transfers=transfers,
                retracted=retracted, written=written, refusals=refusals)  # fmt: skip


def _pending_clocks(
    ledger: AssetLedger, new_fold: FoldState, now: datetime
) -> tuple[PendingClock, ...]:
    """Keep each still-pending event's start time; start a clock for newly pending ones.

    Derived events (a transfer target's creation) are not input messages: they wait for
    their source and never expire. An event waiting for an automatic renewal (SPEC §9.4)
    has no clock: its grace starts when it stops waiting.
    """
    if not new_fold.pending:
        return ()
    old = {c.action_id: c.since for c in ledger.pending_since}
    return tuple(
        PendingClock(p.action_id, old.get(p.action_id, now))
        for p in new_fold.pending
        if not p.waiting and not _is_derived(ledger, p.action_id)
    )


def _is_derived(ledger: AssetLedger, action_id: str) -> bool:
    return any(e.delivery.source is None for e in ledger.entries_for(action_id))


def _transfer_changes(
    asset_id: str, old: FoldState, new: FoldState, revision: int
) -> tuple[TransferReceived, ...]:
    """What each target must now hold, where that changed; withdrawals of vanished transfers.

    A target's content includes the source's terms (currency, product, anchor…), so a
    change of the winning creation sends new revisions too (SPEC §9.5).
    """
    if old.transfers_out is new.transfers_out and old.terms == new.terms:
        return ()
    before = {t.event.event_id: t for t in old.transfers_out}
    after = {t.event.event_id: t for t in new.transfers_out}
    changes = []
    for event_id, out in after.items():
        previous = before.get(event_id)
        if previous is None or not _same_target(old.terms, previous, new.terms, out):
            terms = new.terms
            if terms is not None:
                changes.append(_transfer_in(asset_id, terms, out, revision))
    terms = new.terms or old.terms
    if terms is not None:
        for event_id, out in before.items():
            if event_id not in after:
                changes.append(_transfer_in(asset_id, terms, replace(out, periods=()), revision))
    return tuple(changes)


def _same_target(
    old_terms: AssetTerms | None, old: TransferOut, new_terms: AssetTerms | None, new: TransferOut
) -> bool:
    """Whether a target holds the same either way (a refusal alone changes nothing there)."""
    return old.event == new.event and old.periods == new.periods and old_terms == new_terms


def _transfer_in(
    source_asset_id: str, terms: AssetTerms, out: TransferOut, revision: int
) -> TransferReceived:
    event = out.event
    return TransferReceived(
        event_id=event.event_id,
        asset_id=event.target_asset_id,
        source_asset_id=source_asset_id,
        time=event.time,
        effective_date=event.effective_date,
        terms=target_terms(terms, event),
        periods=out.periods,
        source_revision=revision,
        order_id=event.order_id,
        kind=event.movement,
    )


def _refused_here(ledger: AssetLedger, fold: FoldState) -> set[str]:
    """Action ids of the transfers this asset holds whose creation is refused (§9.5)."""
    return {
        p.action_id
        for p in fold.pending
        if p.reason_code is ReasonCode.ASSET_ALREADY_EXISTS and _is_transfer_in(ledger, p.action_id)
    }


def _is_transfer_in(ledger: AssetLedger, action_id: str) -> bool:
    return any(
        isinstance(e.delivery.event, TransferReceived) for e in ledger.entries_for(action_id)
    )


def _refusal_changes(
    ledger: AssetLedger, old: FoldState, new: FoldState, revision: int
) -> tuple[TargetRefusal, ...]:
    """As a target: tell each source whose transfer's creation became refused or accepted."""
    if old.pending == new.pending:
        return ()
    before, after = _refused_here(ledger, old), _refused_here(ledger, new)
    reports = []
    for action_id in sorted(before ^ after):
        entry = next((e for e in ledger.entries_for(action_id)
                      if e.status is EntryStatus.LIVE), None)  # fmt: skip
        event = entry.delivery.event if entry is not None else None
        if isinstance(event, TransferReceived) and not event.withdrawn:
            reports.append(_report(ledger, event, action_id in after, revision))
    return tuple(reports)


def _report(
    ledger: AssetLedger, event: TransferReceived, refused: bool, revision: int
) -> TargetRefusal:
    reason = (
        f"asset {ledger.asset_id} already exists (created by another event)"
        if refused
        else f"asset {ledger.asset_id} was created by this {event.kind.value}"
    )
    return TargetRefusal(event_id=event.event_id, asset_id=event.source_asset_id,
                         target_asset_id=ledger.asset_id, refused=refused, revision=revision,
                         reason=reason)  # fmt: skip


__all__ = [
    "AssetLedger",
    "Entry",
    "EntryStatus",
    "PendingClock",
    "PublishedHead",
    "current_refusals",
    "current_transfers",
    "expire",
    "new_ledger",
    "next_boundary",
    "pending_deadline",
    "receive",
    "refresh",
    "restore",
    "revoke",
]
