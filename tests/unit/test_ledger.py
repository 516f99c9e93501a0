"""The per-asset ledger: idempotency, pending, grace, versions, transfers (SPEC §4.6, §5, §6)."""

from __future__ import annotations

from datetime import timedelta

from domain.ledger import (
    AssetLedger,
    EntryStatus,
    expire,
    new_ledger,
    next_boundary,
    pending_deadline,
    receive,
    refresh,
    revoke,
)
from domain.ledger_types import Delivery, Outcome, Step
from domain.snapshot import render
from domain.snapshot_types import AssetSnapshot
from tests.support.builders import T0, cancelled, changed, created, d, delivery, transferred

AS_OF = d("2025-09-01")


def snap(step: Step) -> AssetSnapshot | None:
    """The snapshot a step asks the shell to publish (None when it publishes nothing)."""
    ledger = step.ledger
    if not step.publish or ledger.published is None:
        return None
    return render(ledger.fold, asset_id=ledger.asset_id, version=ledger.version,
                  as_of=ledger.published.as_of,
                  updated_by_event_id=ledger.updated_by_event_id)  # fmt: skip


def feed(ledger: AssetLedger, *deliveries: Delivery) -> list[Step]:
    steps = []
    for item in deliveries:
        step = receive(ledger, item, as_of=AS_OF, now=T0)
        ledger = step.ledger
        steps.append(step)
    return steps


def test_first_creation_is_applied_and_published_as_version_one() -> None:
    (step,) = feed(new_ledger("A"), delivery(created()))
    assert step.outcome is Outcome.APPLIED
    snapshot = snap(step)
    assert snapshot is not None and snapshot.version == 1


def test_replayed_duplicate_republishes_the_same_snapshot_without_a_new_version() -> None:
    first, again = feed(new_ledger("A"), delivery(created()), delivery(created()))
    assert again.outcome is Outcome.DUPLICATE
    assert snap(again) == snap(first)
    assert again.ledger == first.ledger


def test_same_id_with_different_content_is_held_for_the_registry_not_applied() -> None:
    first, conflict = feed(new_ledger("A"), delivery(created()), delivery(created(quantity="2")))
    assert conflict.outcome is Outcome.HELD
    assert conflict.dead_letters == () and not conflict.publish  # the registry dead-letters
    assert conflict.ledger.fold == first.ledger.fold
    assert [e.status for e in conflict.written] == [EntryStatus.HELD]


def test_a_revoked_live_copy_gives_way_to_the_held_one() -> None:
    """The copy that reached the asset first lost at the registry: the other takes its place."""
    loser, winner = delivery(created(quantity="9")), delivery(created(quantity="2"))
    _, held = feed(new_ledger("A"), loser, winner)
    step = revoke(held.ledger, "e1", loser.fingerprint, as_of=AS_OF, now=T0)
    snapshot = snap(step)
    assert snapshot is not None and snapshot.current_quantity == "2"
    statuses = sorted((e.delivery.fingerprint == loser.fingerprint, e.status) for e in step.written)
    assert statuses == [(False, EntryStatus.LIVE), (True, EntryStatus.REVOKED)]


def test_a_revoke_before_its_message_drops_the_message_when_it_comes() -> None:
    ledger = feed(new_ledger("A"), delivery(created()))[0].ledger
    late = delivery(changed("up", "2026-01-01", "1"))
    ruled = revoke(ledger, "up", late.fingerprint, as_of=AS_OF, now=T0).ledger
    step = receive(ruled, late, as_of=AS_OF, now=T0)
    assert step.outcome is None and not step.publish
    assert step.ledger.fold == ledger.fold


def test_amendment_before_its_creation_waits_then_applies_when_the_creation_arrives() -> None:
    early, create = feed(
        new_ledger("A"), delivery(changed("up", "2026-01-01", "1")), delivery(created())
    )
    assert early.outcome is Outcome.PENDING and snap(early) is None
    snapshot = snap(create)
    assert snapshot is not None
    assert [a.action_id for a in snapshot.actions] == ["e1/1", "up"]
    assert snapshot.pending_events == ()


def test_pending_event_is_dead_lettered_after_its_grace_and_leaves_the_snapshot() -> None:
    steps = feed(new_ledger("A"), delivery(created()), delivery(changed("dn", "2026-01-01", "-9")))
    ledger = steps[-1].ledger
    pending = snap(steps[-1])
    assert pending is not None
    assert [p.reason_code for p in pending.pending_events] == ["insufficient_quantity"]
    grace = timedelta(hours=24)
    assert expire(ledger, as_of=AS_OF, now=T0 + timedelta(hours=23), grace=grace).dead_letters == ()
    assert pending_deadline(ledger, grace) == T0 + grace  # when the timer wakes the asset
    late = expire(ledger, as_of=AS_OF, now=T0 + grace, grace=grace)
    assert [(dl.event_id, dl.reason_code) for dl in late.dead_letters] == [
        ("dn", "insufficient_quantity")
    ]
    after = snap(late)
    assert after is not None and after.pending_events == ()
    assert after.version == 3
    # Seen again after it was dead-lettered: a duplicate, not a second dead letter.
    again = receive(late.ledger, delivery(changed("dn", "2026-01-01", "-9")), as_of=AS_OF, now=T0)
    assert again.outcome is Outcome.DUPLICATE and again.dead_letters == ()


def test_refresh_publishes_only_when_the_clock_crosses_a_boundary() -> None:
    (step,) = feed(new_ledger("A"), delivery(created()))
    ledger = step.ledger
    assert isinstance(ledger, AssetLedger)
    assert snap(refresh(ledger, as_of=d("2026-01-01"))) is None
    expired = snap(refresh(ledger, as_of=d("2026-08-10")))
    assert expired is not None
    assert (expired.status, expired.version) == ("expired", 2)


def test_transfer_sends_the_removed_units_to_the_target_with_the_sources_anchor() -> None:
    _, move = feed(
        new_ledger("A"), delivery(created()), delivery(transferred("t", "2026-02-01", "2"))
    )
    (incoming,) = move.transfers
    assert (incoming.asset_id, incoming.terms.account_id, incoming.terms.billing_anchor) == (
        "B",
        "ACC-2",
        d("2025-08-10"),
    )
    target = receive(
        new_ledger("B"), Delivery(incoming, "x", None, T0), as_of=d("2026-03-01"), now=T0
    )
    shown = snap(target)
    assert shown is not None
    assert (shown.current_quantity, shown.lifecycle_start_date, shown.lifecycle_end_date) == (
        "2", d("2026-02-01"), d("2026-08-10"),
    )  # fmt: skip
    assert [(a.action_id, a.category, a.subtype) for a in shown.actions] == [
        ("t/to", "transfer", "transfer_to")
    ]


def test_target_withdraws_when_a_backdated_cancellation_voids_the_transfer() -> None:
    source = feed(
        new_ledger("A"), delivery(created()), delivery(transferred("t", "2026-02-01", "2"))
    )
    (incoming,) = source[-1].transfers
    target = receive(new_ledger("B"), Delivery(incoming, "x", None, T0), as_of=AS_OF, now=T0)
    voided = receive(source[-1].ledger, delivery(cancelled("c", "2026-01-01")), as_of=AS_OF, now=T0)
    (withdrawal,) = voided.transfers
    assert withdrawal.withdrawn and withdrawal.source_revision > incoming.source_revision
    gone = receive(target.ledger, Delivery(withdrawal, "y", None, T0), as_of=AS_OF, now=T0)
    assert gone.retracted and snap(gone) is None
    # An older revision replayed later never brings the units back.
    stale = receive(gone.ledger, Delivery(incoming, "x", None, T0), as_of=AS_OF, now=T0)
    assert stale.outcome is Outcome.DUPLICATE and snap(stale) is None


def test_next_boundary_is_the_first_date_the_published_view_can_change() -> None:
    (step,) = feed(new_ledger("A"), delivery(created()))
    assert isinstance(step.ledger, AssetLedger)
    assert next_boundary(step.ledger) == d("2026-08-10")  # published as of 2025-09-01
