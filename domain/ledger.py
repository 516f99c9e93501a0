"""One asset's ledger: its event set, fold, pending clocks and published version (SPEC §4.6, §5).

Every message that reaches an asset ends in exactly one place: applied,
duplicate (the last snapshot is re-published), pending (visible in the
snapshot), or dead-lettered (a conflict now, or a pending event after its
grace). The worker and `assetstream replay` drive the same functions; the
clock (`as_of`, `now`) is always passed in.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from domain import fold as folding
from domain.events import AssetTransferred, Period, TransferReceived, sort_key
from domain.idempotency import Seen, classify
from domain.ledger_types import DeadLetter, Delivery, Outcome, Step
from domain.reasons import ReasonCode
from domain.snapshot import head_at, render
from domain.snapshot_types import AssetSnapshot
from domain.state import EMPTY_FOLD, AssetTerms, FoldState, PendingEvent


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
    entries: tuple[Delivery, ...]  # live events (applied or pending), in fold order
    fingerprints: tuple[tuple[str, str], ...]  # (action_id, fingerprint), sorted; never forgets
    dead_lettered: tuple[str, ...]  # action ids dead-lettered after their grace
    fold: FoldState
    pending_since: tuple[PendingClock, ...]
    version: int
    published: PublishedHead | None
    updated_by_event_id: str | None

    @property
    def exists(self) -> bool:
        return self.fold.terms is not None

    @property
    def account_id(self) -> str | None:
        return self.fold.terms.account_id if self.fold.terms else None


def new_ledger(asset_id: str) -> AssetLedger:
    return AssetLedger(
        asset_id=asset_id,
        entries=(),
        fingerprints=(),
        dead_lettered=(),
        fold=EMPTY_FOLD,
        pending_since=(),
        version=0,
        published=None,
        updated_by_event_id=None,
    )


def receive(ledger: AssetLedger, delivery: Delivery, *, as_of: date, now: datetime) -> Step:
    """One event arrives at this asset."""
    event = delivery.event
    if isinstance(event, TransferReceived):
        return _receive_transfer(ledger, delivery, as_of=as_of, now=now)
    previous = _fingerprint_of(ledger, event.action_id)
    seen = classify(previous, delivery.fingerprint)
    if seen is Seen.DUPLICATE:
        return _duplicate(ledger)
    if seen is Seen.CONFLICT:
        letter = DeadLetter(
            event_id=event.event_id,
            reason_code=ReasonCode.DUPLICATE_CONFLICT,
            reason=f"event id {event.event_id!r} was seen before with different content",
            source=delivery.source,
            dead_lettered_at=now,
        )
        return Step(ledger, Outcome.DEAD_LETTERED, None, (letter,), ())
    entries = _insert_entry(ledger.entries, delivery)
    fingerprints = _insert_fingerprint(ledger.fingerprints, event.action_id, delivery.fingerprint)
    if folding.can_extend(ledger.fold, event):
        new_fold = folding.extend(ledger.fold, event)
        applied = bool(new_fold.actions) and new_fold.actions[-1].action_id == event.action_id
    else:
        new_fold = folding.fold(d.event for d in entries)
        applied = any(a.action_id == event.action_id for a in new_fold.actions)
    updated = replace(ledger, entries=entries, fingerprints=fingerprints)
    outcome = Outcome.APPLIED if applied else Outcome.PENDING
    return _publish(updated, new_fold, outcome, event.event_id, as_of=as_of, now=now)


def expire(ledger: AssetLedger, *, as_of: date, now: datetime, grace: timedelta | None) -> Step:
    """Dead-letter events pending for longer than `grace` (None: all of them — end of input)."""
    since = {clock.action_id: clock.since for clock in ledger.pending_since}
    due: list[PendingEvent] = [
        p
        for p in ledger.fold.pending
        if p.action_id in since and (grace is None or since[p.action_id] + grace <= now)
    ]
    if not due:
        return Step(ledger, None, None, (), ())
    due_ids = {p.action_id for p in due}
    sources = {d.event.action_id: d.source for d in ledger.entries}
    letters = tuple(
        DeadLetter(
            event_id=p.event_id,
            reason_code=p.reason_code,
            reason=f"{p.reason} (pending since {since[p.action_id].isoformat()}; grace ended)",
            source=sources.get(p.action_id),
            dead_lettered_at=now,
        )
        for p in due
    )
    entries = tuple(d for d in ledger.entries if d.event.action_id not in due_ids)
    updated = replace(
        ledger, entries=entries, dead_lettered=(*ledger.dead_lettered, *sorted(due_ids))
    )
    new_fold = folding.fold(d.event for d in entries)
    step = _publish(
        updated, new_fold, Outcome.DEAD_LETTERED, ledger.updated_by_event_id, as_of=as_of, now=now
    )
    return step.with_dead_letters(letters)


def refresh(ledger: AssetLedger, *, as_of: date) -> Step:
    """The clock moved: publish only if status or current fields changed (a boundary passed)."""
    head = head_at(ledger.fold, as_of)
    if head is None or (ledger.published is not None and ledger.published.fields() == head):
        return Step(ledger, None, None, (), ())
    return _publish(ledger, ledger.fold, None, ledger.updated_by_event_id, as_of=as_of, now=None)


def current_snapshot(ledger: AssetLedger) -> AssetSnapshot | None:
    """The snapshot exactly as last published (same version and as_of), for re-publishing."""
    if ledger.published is None:
        return None
    return render(
        ledger.fold,
        asset_id=ledger.asset_id,
        version=ledger.version,
        as_of=ledger.published.as_of,
        updated_by_event_id=ledger.updated_by_event_id,
    )


def next_boundary(ledger: AssetLedger) -> date | None:
    """The first date after the last publication on which status or current fields may change."""
    terms, published = ledger.fold.terms, ledger.published
    if terms is None or published is None:
        return None
    dates = [terms.lifecycle_start, *(p.start for p in ledger.fold.periods)]
    dates += [p.end for p in ledger.fold.periods]
    if ledger.fold.lifecycle_end is not None:
        dates.append(ledger.fold.lifecycle_end)
    return min((d for d in dates if d > published.as_of), default=None)


def pending_deadline(ledger: AssetLedger, grace: timedelta) -> datetime | None:
    """When the earliest pending event's grace ends (None when nothing is pending)."""
    return min((c.since + grace for c in ledger.pending_since), default=None)


# --- internals -------------------------------------------------------------------------------


def _duplicate(ledger: AssetLedger) -> Step:
    return Step(ledger, Outcome.DUPLICATE, current_snapshot(ledger), (), ())


def _receive_transfer(
    ledger: AssetLedger, delivery: Delivery, *, as_of: date, now: datetime
) -> Step:
    """The target side follows its source: a newer revision replaces the older one."""
    event = delivery.event
    if not isinstance(event, TransferReceived):  # pragma: no cover - dispatch guarantees it
        raise TypeError(event)
    current = next((d for d in ledger.entries if d.event.action_id == event.action_id), None)
    if current is not None:
        old = current.event
        if isinstance(old, TransferReceived) and old.source_revision >= event.source_revision:
            return _duplicate(ledger)
    elif event.withdrawn:
        return _duplicate(ledger)  # withdrawing something never received: nothing to do
    # A withdrawal stays as the entry (the fold ignores it) so that its revision keeps
    # older, replayed revisions from bringing the units back.
    kept = tuple(d for d in ledger.entries if d.event.action_id != event.action_id)
    entries = _insert_entry(kept, delivery)
    if current is None and folding.can_extend(ledger.fold, event):
        new_fold = folding.extend(ledger.fold, event)
    else:
        new_fold = folding.fold(d.event for d in entries)
    applied = any(a.action_id == event.action_id for a in new_fold.actions)
    outcome = Outcome.APPLIED if applied or event.withdrawn else Outcome.PENDING
    updated = replace(ledger, entries=entries)
    return _publish(updated, new_fold, outcome, event.event_id, as_of=as_of, now=now)


def _publish(
    ledger: AssetLedger,
    new_fold: FoldState,
    outcome: Outcome | None,
    updated_by: str | None,
    *,
    as_of: date,
    now: datetime | None,
) -> Step:
    """Adopt a new fold: pending clocks, version, snapshot and transfers to the targets."""
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
    transfers = _transfer_changes(ledger, ledger.fold, new_fold, version)
    updated = replace(
        ledger,
        fold=new_fold,
        pending_since=pending_since,
        version=version,
        published=published,
        updated_by_event_id=updated_by if head is not None else ledger.updated_by_event_id,
    )
    if head is None:
        return Step(updated, outcome, None, (), transfers, retracted)
    # Rendering lists the whole history: defer it until the shell publishes.
    return Step(updated, outcome, None, (), transfers, render=lambda: current_snapshot(updated))


def _pending_clocks(
    ledger: AssetLedger, new_fold: FoldState, now: datetime
) -> tuple[PendingClock, ...]:
    """Keep each still-pending event's start time; start a clock for newly pending ones.

    Derived transfer targets are not input messages: they wait for their source, never expire.
    """
    if not new_fold.pending:
        return ()
    old = {c.action_id: c.since for c in ledger.pending_since}
    derived = {d.event.action_id for d in ledger.entries if d.source is None}
    return tuple(
        PendingClock(p.action_id, old.get(p.action_id, now))
        for p in new_fold.pending
        if p.action_id not in derived
    )


def _transfer_changes(
    ledger: AssetLedger, old: FoldState, new: FoldState, revision: int
) -> tuple[TransferReceived, ...]:
    """What each target must now hold: changed removals, and withdrawals of vanished transfers."""
    if old.transfers_out is new.transfers_out or (new.terms is None and old.terms is None):
        return ()
    before = {t.event.event_id: t for t in old.transfers_out}
    after = {t.event.event_id: t for t in new.transfers_out}
    terms = new.terms or old.terms
    if terms is None:  # pragma: no cover - transfers need an existing asset
        return ()
    changes = []
    for event_id, out in after.items():
        previous = before.get(event_id)
        if previous is None or previous.periods != out.periods or previous.event != out.event:
            changes.append(_transfer_in(ledger.asset_id, terms, out.event, out.periods, revision))
    for event_id, out in before.items():
        if event_id not in after:
            changes.append(_transfer_in(ledger.asset_id, terms, out.event, (), revision))
    return tuple(changes)


def _transfer_in(
    source_asset_id: str,
    terms: AssetTerms,
    event: AssetTransferred,
    periods: tuple[Period, ...],
    revision: int,
) -> TransferReceived:
    return TransferReceived(
        event_id=event.event_id,
        asset_id=event.target_asset_id,
        source_asset_id=source_asset_id,
        time=event.time,
        effective_date=event.effective_date,
        account_id=event.target_account_id,
        currency=terms.currency,
        product_code=terms.product_code,
        product_name=terms.product_name,
        price_term_months=terms.price_term_months,
        renewal_term_months=terms.renewal_term_months,
        billing_anchor=terms.billing_anchor,
        periods=periods,
        source_revision=revision,
        order_id=event.order_id,
    )


def _insert_entry(entries: tuple[Delivery, ...], delivery: Delivery) -> tuple[Delivery, ...]:
    key = sort_key(delivery.event)
    index = bisect.bisect_right(entries, key, key=lambda d: sort_key(d.event))
    return (*entries[:index], delivery, *entries[index:])


def _fingerprint_of(ledger: AssetLedger, action_id: str) -> str | None:
    index = bisect.bisect_left(ledger.fingerprints, action_id, key=lambda pair: pair[0])
    if index < len(ledger.fingerprints) and ledger.fingerprints[index][0] == action_id:
        return ledger.fingerprints[index][1]
    return None


def _insert_fingerprint(
    fingerprints: tuple[tuple[str, str], ...], action_id: str, fingerprint: str
) -> tuple[tuple[str, str], ...]:
    index = bisect.bisect_left(fingerprints, action_id, key=lambda pair: pair[0])
    return (*fingerprints[:index], (action_id, fingerprint), *fingerprints[index:])


__all__ = [
    "AssetLedger",
    "PendingClock",
    "PublishedHead",
    "current_snapshot",
    "expire",
    "new_ledger",
    "next_boundary",
    "pending_deadline",
    "receive",
    "refresh",
]
