"""The ledger across a worker restart (SPEC §6): `restore` and the re-sent transfer messages,
which a mutation run of domain/ledger.py found no unit test reaching."""

from __future__ import annotations

from domain.fold import fold
from domain.ledger import (
    AssetLedger,
    EntryStatus,
    current_refusals,
    current_transfers,
    new_ledger,
    receive,
    restore,
)
from domain.ledger_types import Delivery
from domain.snapshot import render
from tests.support.builders import T0, changed, created, d, delivery, transferred, voided

AS_OF = d("2025-09-01")


def fed(ledger: AssetLedger, *deliveries: Delivery) -> AssetLedger:
    for item in deliveries:
        ledger = receive(ledger, item, as_of=AS_OF, now=T0).ledger
    return ledger


def restored(ledger: AssetLedger, **overrides: object) -> AssetLedger:
    fields: dict[str, object] = {
        "pending_since": ledger.pending_since,
        "revoked": ledger.revoked,
        "version": ledger.version,
        "published": ledger.published,
        "updated_by_event_id": ledger.updated_by_event_id,
    }
    fields.update(overrides)
    # The store gives entries back in no particular order.
    return restore(ledger.asset_id, tuple(reversed(ledger.entries)), **fields)  # type: ignore[arg-type]


def test_a_restored_ledger_is_the_ledger_that_was_stored() -> None:
    ledger = fed(
        new_ledger("A"),
        delivery(created()),
        delivery(changed("u", "2025-10-01", "3")),
        delivery(changed("early", "2025-01-01", "1")),  # pending: before the lifecycle start
        delivery(created(quantity="7")),  # same id, other content: held, not folded
    )
    statuses = sorted(e.status.value for e in ledger.entries)
    assert EntryStatus.HELD.value in statuses and ledger.pending_since
    again = restored(ledger)
    assert again == ledger
    assert again.next_seq == ledger.next_seq == len(ledger.entries)
    assert again.fold == ledger.fold and again.fold.pending
    # The next delivery after a restart gets the next sequence number, as without one.
    after = delivery(changed("u2", "2025-11-01", "1"))
    assert fed(again, after) == fed(ledger, after)


def test_a_ledger_is_restored_as_of_its_last_publication_unless_told_otherwise() -> None:
    """The fold's date decides the automatic renewals applied (SPEC §9.4)."""
    monthly = created(quantity="10", price="19.99", term=1, start="2025-01-01", end="2025-04-01",
                      renewal=3, auto_renew=True)  # fmt: skip
    ledger = fed(new_ledger("A"), delivery(monthly))
    assert ledger.published is not None and ledger.published.as_of == AS_OF
    assert restored(ledger).fold == fold([monthly], as_of=AS_OF) == ledger.fold
    later = d("2026-09-01")
    moved = restored(ledger, as_of=later).fold
    assert moved == fold([monthly], as_of=later)
    assert moved.lifecycle_end == d("2026-10-01") != ledger.fold.lifecycle_end


def test_an_asset_with_nothing_stored_restores_as_a_new_ledger() -> None:
    empty = restore("A", (), pending_since=(), revoked=(), version=0, published=None,
                    updated_by_event_id=None)  # fmt: skip
    assert empty.next_seq == 0 and empty.entries == ()
    after = delivery(created())
    assert fed(empty, after) == fed(new_ledger("A"), after)


def test_a_restarted_source_re_sends_what_each_transfer_target_must_hold() -> None:
    source = fed(new_ledger("A"), delivery(created()))
    step = receive(source, delivery(transferred("t", "2026-02-01", "2")), as_of=AS_OF, now=T0)
    assert current_transfers(restored(step.ledger)) == step.transfers
    assert current_transfers(new_ledger("Z")) == ()


def test_a_restarted_target_re_sends_its_report_on_each_transfer_it_holds() -> None:
    source = fed(new_ledger("A"), delivery(created()))
    move = receive(source, delivery(transferred("t", "2026-02-01", "2")), as_of=AS_OF, now=T0)
    (incoming,) = move.transfers
    target = receive(new_ledger("B"), Delivery(incoming, "x", None, T0), as_of=AS_OF, now=T0)
    (report,) = current_refusals(restored(target.ledger))
    assert (report.event_id, report.asset_id, report.target_asset_id, report.refused) == (
        "t", "A", "B", False,
    )  # fmt: skip
    assert report.revision == target.ledger.version
    assert report.reason == "asset B was created by this transfer"
    # A target whose id was already taken by another asset reports the transfer refused.
    taken = fed(new_ledger("B"), delivery(created("b1", asset_id="B")))
    taken = receive(taken, Delivery(incoming, "x", None, T0), as_of=AS_OF, now=T0).ledger
    (refusal,) = current_refusals(restored(taken))
    assert (refusal.event_id, refusal.refused, refusal.revision) == ("t", True, taken.version)
    assert refusal.reason == "asset B already exists (created by another event)"


def test_a_transfer_target_s_creation_cannot_be_voided_on_the_target() -> None:
    """SPEC §9.3: only events the asset received can be voided; a target's creation is
    derived from the source's transfer, so a void sent to the target waits as unknown."""
    source = fed(new_ledger("A"), delivery(created()))
    move = receive(source, delivery(transferred("t", "2026-02-01", "2")), as_of=AS_OF, now=T0)
    (incoming,) = move.transfers
    day = d("2026-03-01")
    shown = render(fold([incoming, voided("v", "t", asset_id="B")], as_of=day), asset_id="B",
                   version=1, as_of=day, updated_by_event_id=None)  # fmt: skip
    assert shown is not None and shown.current_quantity == "2"
    assert [(p.event_id, p.reason_code) for p in shown.pending_events] == [("v", "unknown_event")]
    assert shown.voided_events == ()
