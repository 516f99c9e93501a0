"""The asset handler: one command for one asset → its new record and the effects to carry out.

An `AssetRecord` is the ledger plus what crash replay needs. Commands carry a
position (offset, index in their batch) in the worker: a command at or below
the record's position was applied before a crash lost its commit, so it is not
applied again — its outputs are re-sent instead (the snapshot, its dead letters,
the transfer targets' revisions) and the rows it wrote are written again, since
a local store may hold writes whose changelog records were lost. Replay has no
positions and never takes that path.

Besides snapshots, dead letters and tombstones, a command's effects carry the
derived commands between assets: a source's revisions to its transfer and swap
targets (`Deliver` without a source) and a target's `TargetRefused` reports back
to its source (SPEC §9.5).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from domain.events import TargetRefusal, TransferReceived
from domain.ledger import (
    AssetLedger,
    current_refusals,
    current_transfers,
    expire,
    new_ledger,
    receive,
    refresh,
    revoke,
)
from domain.ledger_types import DeadLetter, Delivery, Entry, EntryStatus, Outcome, Step
from domain.reasons import ReasonCode
from service.messages import (
    AccountChange,
    AssetCommand,
    Deliver,
    Effect,
    Publish,
    Retract,
    Revoke,
    TargetRefused,
    Tick,
)

Position = tuple[int, int]  # (offset, index within the message)

# Recent commands whose outputs a crash replay may need again. Commits trail processing by
# about a second, so this covers every replay but a burst of more commands for one asset
# within one commit interval; for an older command the replay rewrites every row instead.
RECENT_COMMANDS = 32


@dataclass(frozen=True, slots=True)
class RecentCommand:
    """What one applied command wrote and sent besides the snapshot."""

    position: Position
    written: tuple[int, ...]  # entry sequence numbers
    dead_letters: tuple[tuple[int | None, ReasonCode, str, datetime], ...]  # (seq, code, why, at)
    sent_transfers: bool  # sent revisions to targets or reports to sources: re-send both


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """The ledger, plus crash-replay bookkeeping and the account it counts on.

    `account` is the account the asset's MRR goes to; when that changes (another creation
    won, or the asset ceased to exist) the old account is told it left (`left`, sent again
    on a crash replay; the account applies it once, by version).
    """

    ledger: AssetLedger
    position: Position | None = None
    recent: tuple[RecentCommand, ...] = ()
    account: str | None = None
    left: str | None = None


@dataclass(frozen=True, slots=True)
class Handled:
    """One command's result.

    `outcome` is where an input message ended (for the metrics; None for commands that
    are not input messages). `written` are the entries whose rows to store (`None`: every
    entry); the head is always stored. `replayed` marks a crash replay.
    """

    record: AssetRecord
    effects: tuple[Effect, ...]
    outcome: Outcome | None
    written: tuple[Entry, ...] | None
    replayed: bool = False
    dead_lettered: tuple[DeadLetter, ...] = ()


def empty_record(asset_id: str) -> AssetRecord:
    return AssetRecord(new_ledger(asset_id))


def handle(
    record: AssetRecord,
    command: AssetCommand,
    *,
    position: Position | None,
    as_of: date,
    now: datetime,
    grace: timedelta,
) -> Handled:
    """Apply `command` to the asset (or, for a replayed position, re-send what it sent)."""
    if position is not None and record.position is not None and position <= record.position:
        return _replay(record, position, now)
    step = _step(record.ledger, command, as_of=as_of, now=now, grace=grace)
    effects = _effects(step, now)
    letters = step.dead_letters
    recent = record.recent
    sent = bool(step.transfers or step.refusals)
    if position is not None and (step.written or letters or sent):
        recent = (*recent, RecentCommand(
            position,
            tuple(e.seq for e in step.written),
            tuple((_seq_of(step, d), d.reason_code, d.reason, d.dead_lettered_at)
                  for d in letters),
            sent,
        ))[-RECENT_COMMANDS:]  # fmt: skip
    account, left, removal = _account_moves(record, step.ledger)
    updated = AssetRecord(step.ledger, position if position is not None else record.position,
                          recent, account, left)  # fmt: skip
    outcome = step.outcome if _is_input(command) else None
    return Handled(updated, (*effects, *removal), outcome, step.written, dead_lettered=letters)


def _account_moves(
    record: AssetRecord, ledger: AssetLedger
) -> tuple[str | None, str | None, tuple[AccountChange, ...]]:
    """(account now, account left by this change, the removal to send it)."""
    now = ledger.account_id
    if record.account is None or record.account == now:
        return now if now is not None else record.account, record.left, ()
    removal = AccountChange(record.account, ledger.asset_id, ledger.version, None)
    return now, record.account, (removal,)


def finish(record: AssetRecord, *, as_of: date, now: datetime) -> Handled:
    """End of input (replay): every grace period ends, so whatever is pending is rejected —
    but for events waiting for an automatic renewal (SPEC §9.4), whose grace has not begun."""
    step = expire(record.ledger, as_of=as_of, now=now, grace=None)
    effects = _effects(step, now)
    return Handled(replace(record, ledger=step.ledger), effects, None, step.written,
                   dead_lettered=step.dead_letters)  # fmt: skip


def _step(
    ledger: AssetLedger, command: AssetCommand, *, as_of: date, now: datetime, grace: timedelta
) -> Step:
    if isinstance(command, Deliver):
        return receive(ledger, command.delivery, as_of=as_of, now=now)
    if isinstance(command, Revoke):
        return revoke(ledger, command.event_id, command.fingerprint, as_of=as_of, now=now)
    if isinstance(command, TargetRefused):
        return receive(ledger, _from_target(command.refusal, now), as_of=as_of, now=now)
    if isinstance(command, Tick):
        expired = expire(ledger, as_of=as_of, now=now, grace=grace)
        if expired.publish or expired.retracted or expired.transfers or expired.refusals:
            return expired
        refreshed = refresh(expired.ledger, as_of=as_of, now=now)
        return replace(refreshed, dead_letters=expired.dead_letters, written=expired.written)
    raise TypeError(f"not an asset command: {type(command).__name__}")  # pragma: no cover


def _is_input(command: AssetCommand) -> bool:
    """Commands standing for an input message (not a transfer revision, revoke or tick)."""
    return isinstance(command, Deliver) and command.delivery.source is not None


def _effects(step: Step, now: datetime) -> tuple[Effect, ...]:
    asset_id = step.ledger.asset_id
    effects: list[Effect] = []
    if step.publish:
        effects.append(Publish(asset_id))
    if step.retracted:
        effects.append(Retract(asset_id))
    effects.extend(step.dead_letters)
    effects.extend(_to_target(t, now) for t in step.transfers)
    effects.extend(TargetRefused(r) for r in step.refusals)
    return tuple(effects)


def _to_target(target: TransferReceived, now: datetime) -> Deliver:
    """A transfer target's revision, delivered to it like any event (derived: no source)."""
    fingerprint = f"transfer:{target.event_id}:{target.source_revision}"
    return Deliver(Delivery(target, fingerprint, None, now))


def _from_target(refusal: TargetRefusal, now: datetime) -> Delivery:
    """A target's report, kept by its source like any derived event (no source of its own)."""
    fingerprint = f"refusal:{refusal.event_id}:{refusal.revision}"
    return Delivery(refusal, fingerprint, None, now)


def _resent(ledger: AssetLedger, now: datetime) -> list[Effect]:
    """What a replayed command re-sends to other assets: revisions and reports."""
    effects: list[Effect] = [_to_target(t, now) for t in current_transfers(ledger)]
    effects.extend(TargetRefused(r) for r in current_refusals(ledger))
    return effects


def _seq_of(step: Step, letter: DeadLetter) -> int | None:
    """The entry a dead letter came from (its source is read from there again on a replay)."""
    for entry in step.written:
        if entry.status is EntryStatus.DEAD and entry.delivery.event.event_id == letter.event_id:
            return entry.seq
    return None


def _replay(record: AssetRecord, position: Position, now: datetime) -> Handled:
    """A command applied before a crash lost its commit: re-send, re-store, never re-apply."""
    ledger = record.ledger
    effects: list[Effect] = []
    if ledger.published is not None:
        effects.append(Publish(ledger.asset_id))
    elif ledger.version > 0 and not ledger.exists:
        effects.append(Retract(ledger.asset_id))
    earlier = [c for c in record.recent if c.position == position]
    written: tuple[Entry, ...] | None
    if earlier:
        command = earlier[0]
        by_seq = {e.seq: e for e in ledger.entries if e.seq in set(command.written)}
        written = tuple(by_seq[seq] for seq in command.written if seq in by_seq)
        for seq, code, reason, at in command.dead_letters:
            entry = ledger.entry(seq) if seq is not None else None
            source = entry.delivery.source if entry is not None else None
            event_id = entry.delivery.event.event_id if entry is not None else None
            effects.append(DeadLetter(event_id, code, reason, source, at))
        if command.sent_transfers:
            effects.extend(_resent(ledger, now))
    elif record.recent and position < record.recent[0].position:
        written = None  # older than what we remember: store every row again
        effects.extend(_resent(ledger, now))
    else:
        written = ()  # it wrote nothing but the head
    if record.left is not None:
        effects.append(AccountChange(record.left, ledger.asset_id, ledger.version, None))
    return Handled(record, tuple(effects), Outcome.DUPLICATE, written, replayed=True)
