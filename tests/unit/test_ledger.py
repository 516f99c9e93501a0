"""The per-asset ledger: idempotency, pending, grace, versions, transfers (SPEC §4.6, §5, §6)."""

from __future__ import annotations

from datetime import timedelta

from domain.ledger import (
    AssetLedger,
    current_snapshot,
    expire,
    new_ledger,
    next_boundary,
    pending_deadline,
    receive,
    refresh,
)
from domain.ledger_types import Delivery, Outcome, Step
from tests.support.builders import T0, cancelled, changed, created, d, delivery, transferred

AS_OF = d("2025-09-01")


def feed(ledger: AssetLedger, *deliveries: Delivery) -> list[Step]:
    steps = []
    for item in deliveries:
        step = receive(ledger, item, as_of=AS_OF, now=T0)
        ledger = step.ledger  # type: ignore[assignment]
        steps.append(step)
    return steps


def test_first_creation_is_applied_and_published_as_version_one() -> None:
    (step,) = feed(new_ledger("A"), delivery(created()))
    assert step.outcome is Outcome.APPLIED
    assert step.snapshot is not None and step.snapshot.version == 1


def test_replayed_duplicate_republishes_the_same_snapshot_without_a_new_version() -> None:
    first, again = feed(new_ledger("A"), delivery(created()), delivery(created()))
    assert again.outcome is Outcome.DUPLICATE
    assert again.snapshot == first.snapshot
    assert again.ledger == first.ledger


def test_same_id_with_different_content_is_dead_lettered_as_a_conflict() -> None:
    _, conflict = feed(new_ledger("A"), delivery(created()), delivery(created(quantity="2")))
    assert conflict.outcome is Outcome.DEAD_LETTERED
    assert [dl.reason_code for dl in conflict.dead_letters] == ["duplicate_conflict"]
    assert conflict.snapshot is None


def test_amendment_before_its_creation_waits_then_applies_when_the_creation_arrives() -> None:
    early, create = feed(
        new_ledger("A"), delivery(changed("up", "2026-01-01", "1")), delivery(created())
    )
    assert early.outcome is Outcome.PENDING and early.snapshot is None
    assert create.snapshot is not None
    assert [a.action_id for a in create.snapshot.actions] == ["e1/1", "up"]
    assert create.snapshot.pending_events == ()


def test_pending_event_is_dead_lettered_after_its_grace_and_leaves_the_snapshot() -> None:
    steps = feed(new_ledger("A"), delivery(created()), delivery(changed("dn", "2026-01-01", "-9")))
    ledger = steps[-1].ledger
    assert isinstance(ledger, AssetLedger)
    assert [p.reason_code for p in steps[-1].snapshot.pending_events] == ["insufficient_quantity"]  # type: ignore[union-attr]
    grace = timedelta(hours=24)
    assert expire(ledger, as_of=AS_OF, now=T0 + timedelta(hours=23), grace=grace).dead_letters == ()
    assert pending_deadline(ledger, grace) == T0 + grace  # when the timer wakes the asset
    late = expire(ledger, as_of=AS_OF, now=T0 + grace, grace=grace)
    assert [(dl.event_id, dl.reason_code) for dl in late.dead_letters] == [
        ("dn", "insufficient_quantity")
    ]
    assert late.snapshot is not None and late.snapshot.pending_events == ()
    assert late.snapshot.version == 3
    # Seen again after it was dead-lettered: a duplicate, not a second dead letter.
    again = receive(late.ledger, delivery(changed("dn", "2026-01-01", "-9")), as_of=AS_OF, now=T0)  # type: ignore[arg-type]
    assert again.outcome is Outcome.DUPLICATE and again.dead_letters == ()


def test_refresh_publishes_only_when_the_clock_crosses_a_boundary() -> None:
    (step,) = feed(new_ledger("A"), delivery(created()))
    ledger = step.ledger
    assert isinstance(ledger, AssetLedger)
    assert refresh(ledger, as_of=d("2026-01-01")).snapshot is None
    expired = refresh(ledger, as_of=d("2026-08-10"))
    assert expired.snapshot is not None
    assert (expired.snapshot.status, expired.snapshot.version) == ("expired", 2)


def test_current_snapshot_is_exactly_what_was_last_published() -> None:
    (step,) = feed(new_ledger("A"), delivery(created()))
    assert isinstance(step.ledger, AssetLedger)
    assert current_snapshot(step.ledger) == step.snapshot


def test_transfer_sends_the_removed_units_to_the_target_with_the_sources_anchor() -> None:
    _, move = feed(
        new_ledger("A"), delivery(created()), delivery(transferred("t", "2026-02-01", "2"))
    )
    (incoming,) = move.transfers
    assert (incoming.asset_id, incoming.account_id, incoming.billing_anchor) == (
        "B",
        "ACC-2",
        d("2025-08-10"),
    )
    target = receive(
        new_ledger("B"), Delivery(incoming, "x", None, T0), as_of=d("2026-03-01"), now=T0
    )
    snap = target.snapshot
    assert snap is not None
    assert (snap.current_quantity, snap.lifecycle_start_date, snap.lifecycle_end_date) == (
        "2", d("2026-02-01"), d("2026-08-10"),
    )  # fmt: skip
    assert [(a.action_id, a.category, a.subtype) for a in snap.actions] == [
        ("t/to", "transfer", "transfer_to")
    ]


def test_target_withdraws_when_a_backdated_cancellation_voids_the_transfer() -> None:
    source = feed(
        new_ledger("A"), delivery(created()), delivery(transferred("t", "2026-02-01", "2"))
    )
    (incoming,) = source[-1].transfers
    target = receive(new_ledger("B"), Delivery(incoming, "x", None, T0), as_of=AS_OF, now=T0)
    voided = receive(source[-1].ledger, delivery(cancelled("c", "2026-01-01")), as_of=AS_OF, now=T0)  # type: ignore[arg-type]
    (withdrawal,) = voided.transfers
    assert withdrawal.withdrawn and withdrawal.source_revision > incoming.source_revision
    gone = receive(target.ledger, Delivery(withdrawal, "y", None, T0), as_of=AS_OF, now=T0)  # type: ignore[arg-type]
    assert gone.retracted and gone.snapshot is None
    # An older revision replayed later never brings the units back.
    stale = receive(gone.ledger, Delivery(incoming, "x", None, T0), as_of=AS_OF, now=T0)  # type: ignore[arg-type]
    assert stale.outcome is Outcome.DUPLICATE and stale.snapshot is None


def test_next_boundary_is_the_first_date_the_published_view_can_change() -> None:
    (step,) = feed(new_ledger("A"), delivery(created()))
    assert isinstance(step.ledger, AssetLedger)
    assert next_boundary(step.ledger) == d("2026-08-10")  # published as of 2025-09-01
