"""SPEC §9 through the ledger and the service layer: the clock, voids, refused targets."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from domain.events import TargetRefusal
from domain.ledger import AssetLedger, expire, new_ledger, next_boundary, receive, refresh
from domain.ledger_types import Delivery, Outcome
from service import assets
from service.bus import Bus
from service.messages import Deliver, Publish, Retract, TargetRefused, Tick
from streams.replay import ReplayEngine
from tests.support.builders import (
    T0,
    cancelled,
    changed,
    created,
    d,
    delivery,
    renewed,
    transferred,
    voided,
)

GRACE = timedelta(hours=24)
MONTHLY = created(quantity="10", price="19.99", term=1, start="2025-01-01", end="2025-04-01",
                  renewal=3, auto_renew=True, uplift="3")  # fmt: skip


def fed(
    *events: object, as_of: str = "2025-03-15", ledger: AssetLedger | None = None
) -> AssetLedger:
    ledger = ledger or new_ledger("A")
    for event in events:
        ledger = receive(ledger, delivery(event), as_of=d(as_of), now=T0).ledger
    return ledger


# --- the clock and automatic renewals ---------------------------------------------------


def test_crossing_the_lifecycle_end_applies_the_renewal_and_publishes_it_once() -> None:
    ledger = fed(MONTHLY)
    assert next_boundary(ledger) == d("2025-04-01")
    assert not refresh(ledger, as_of=d("2025-03-31"), now=T0).publish
    step = refresh(ledger, as_of=d("2025-04-01"), now=T0)
    assert step.publish and step.ledger.version == ledger.version + 1
    assert step.ledger.fold.actions[-1].action_id == "A/auto-renewal/2025-04-01"
    again = refresh(step.ledger, as_of=d("2025-04-02"), now=T0)
    assert not again.publish and again.ledger.version == step.ledger.version
    assert next_boundary(step.ledger) == d("2025-07-01")


def test_a_tick_at_the_boundary_publishes_the_renewal() -> None:
    record = assets.AssetRecord(fed(MONTHLY))
    handled = assets.handle(record, Tick("A"), position=None, as_of=d("2025-04-01"), now=T0,
                            grace=GRACE)  # fmt: skip
    assert handled.effects == (Publish("A"),)
    assert len(handled.record.ledger.fold.actions) == 2


def test_a_waiting_event_has_no_grace_until_its_date_then_applies_on_the_renewed_term() -> None:
    ledger = fed(MONTHLY, changed("u", "2025-05-01", "2"))
    (waiting,) = ledger.fold.pending
    assert waiting.waiting and ledger.pending_since == ()
    far_later = T0 + 30 * GRACE
    assert expire(ledger, as_of=d("2025-03-31"), now=far_later, grace=GRACE).dead_letters == ()
    assert next_boundary(ledger) == d("2025-04-01")
    renewed_step = refresh(ledger, as_of=d("2025-04-01"), now=far_later)
    assert renewed_step.ledger.fold.pending == ()  # applied on the renewed term
    assert renewed_step.ledger.fold.periods[-1].quantity == 12


def test_a_waiting_event_starts_its_grace_when_it_stops_waiting() -> None:
    ledger = fed(MONTHLY, changed("u", "2025-05-01", "2"))
    later = T0 + timedelta(days=3)
    notice = receive(ledger, delivery(cancelled("n", "2025-04-01")), as_of=d("2025-03-15"),
                     now=later)  # fmt: skip
    (stuck,) = notice.ledger.fold.pending
    assert (stuck.event_id, stuck.waiting) == ("u", False)  # no renewal can come any more
    assert [(c.action_id, c.since) for c in notice.ledger.pending_since] == [("u", later)]
    due = expire(notice.ledger, as_of=d("2025-03-15"), now=later + GRACE, grace=GRACE)
    assert [letter.event_id for letter in due.dead_letters] == ["u"]


def test_an_explicit_renewal_two_terms_ahead_waits_for_the_automatic_one_between() -> None:
    ledger = fed(MONTHLY, renewed("r", "2025-10-01"))
    assert ledger.fold.pending[0].waiting and ledger.pending_since == ()
    moved = refresh(ledger, as_of=d("2025-10-02"), now=T0 + GRACE)
    # Renewed on Apr 1 and Jul 1 by the clock; the explicit renewal took Oct 1's place.
    assert moved.ledger.fold.pending == ()
    assert [a.action_id for a in moved.ledger.fold.actions][1:] == [
        "A/auto-renewal/2025-04-01", "A/auto-renewal/2025-07-01", "r",
    ]  # fmt: skip


def test_an_explicit_renewal_arriving_after_the_automatic_one_replaces_it() -> None:
    ledger = fed(MONTHLY, as_of="2025-04-15")
    assert ledger.fold.actions[-1].action_id == "A/auto-renewal/2025-04-01"
    step = receive(ledger, delivery(renewed("r", "2025-04-01", price="25")), as_of=d("2025-04-15"),
                   now=T0)  # fmt: skip
    assert step.outcome is Outcome.APPLIED and step.publish
    assert [a.action_id for a in step.ledger.fold.actions] == ["e1/1", "r"]


def test_replay_leaves_waiting_events_pending_instead_of_rejecting_them() -> None:
    engine = ReplayEngine(as_of=date(2025, 3, 15), source_name="x")
    order = _order("o1", "A", end="2025-04-01", renewal_term_months=3, auto_renew=True)
    data = {"asset_id": "A", "effective_date": "2025-05-01", "quantity_change": "1"}
    upsell = _line("u", "asset.quantity_changed", data)
    for number, raw in enumerate((order, upsell), start=1):
        engine.feed(raw, number)
    engine.finish()
    assert engine.rejected == []
    (waiting,) = engine.snapshots["A"].pending_events
    assert (waiting.event_id, waiting.waiting) == ("u", True)


# --- voids through the ledger ---------------------------------------------------------------


def test_a_void_before_its_event_voids_it_on_arrival() -> None:
    ledger = fed(created(), voided("v", "u"), as_of="2026-01-01")
    assert [p.reason_code.value for p in ledger.fold.pending] == ["unknown_event"]
    step = receive(ledger, delivery(changed("u", "2026-02-01", "3")), as_of=d("2026-01-01"), now=T0)
    assert step.outcome is Outcome.VOIDED
    assert step.ledger.fold.pending == () and len(step.ledger.fold.actions) == 1
    assert [v.event_id for v in step.ledger.fold.voided] == ["u"]
    assert step.ledger.pending_since == ()  # the void applies: its clock stops


def test_a_voided_creation_retracts_the_published_snapshot() -> None:
    ledger = fed(created(), changed("u", "2026-02-01", "3"), as_of="2026-01-01")
    step = receive(ledger, delivery(voided("v", "e1")), as_of=d("2026-01-01"), now=T0)
    assert step.outcome is Outcome.APPLIED
    assert step.retracted and not step.publish and step.ledger.published is None
    handled = assets.handle(assets.AssetRecord(ledger), Deliver(delivery(voided("v", "e1"))),
                            position=None, as_of=d("2026-01-01"), now=T0, grace=GRACE)  # fmt: skip
    assert handled.effects == (Retract("A"),)


def test_a_voided_transfer_withdraws_its_target() -> None:
    ledger = fed(created(), transferred("t", "2026-02-01", "2"), as_of="2026-01-01")
    step = receive(ledger, delivery(voided("v", "t")), as_of=d("2026-01-01"), now=T0)
    (withdrawal,) = step.transfers
    assert withdrawal.withdrawn and withdrawal.asset_id == "B"


# --- refused targets (SPEC §9.5) -----------------------------------------------------------


def test_a_target_that_already_exists_reports_the_refusal_to_its_source() -> None:
    source = fed(created(), as_of="2026-01-01")
    moved = receive(source, delivery(transferred("t", "2026-02-01", "2")), as_of=d("2026-01-01"),
                    now=T0)  # fmt: skip
    (incoming,) = moved.transfers
    target = fed(created("other", asset_id="B"), as_of="2026-01-01", ledger=new_ledger("B"))
    refused = receive(target, Delivery(incoming, "x", None, T0), as_of=d("2026-01-01"), now=T0)
    (report,) = refused.refusals
    assert (report.asset_id, report.event_id, report.refused) == ("A", "t", True)
    back = receive(moved.ledger, Delivery(report, "r", None, T0), as_of=d("2026-01-01"), now=T0)
    assert [(p.event_id, p.reason_code.value) for p in back.ledger.fold.pending] == [
        ("t", "asset_already_exists")
    ]
    assert back.ledger.fold.periods[-1].quantity == 5  # the units stay on the source
    assert back.transfers == ()  # the target keeps what it would hold, pending there


def test_a_refused_transfer_applies_when_the_target_accepts_it_later() -> None:
    ledger = fed(created(), transferred("t", "2026-02-01", "2"),
                 TargetRefusal("t", "A", "B", True, 3, "exists"), as_of="2026-01-01")  # fmt: skip
    assert ledger.fold.pending[0].reason_code.value == "asset_already_exists"
    stale = receive(ledger, delivery(TargetRefusal("t", "A", "B", False, 2, "old")),
                    as_of=d("2026-01-01"), now=T0)  # fmt: skip
    assert stale.ledger.fold == ledger.fold  # an older report changes nothing
    accepted = receive(ledger, delivery(TargetRefusal("t", "A", "B", False, 4, "ok")),
                       as_of=d("2026-01-01"), now=T0)  # fmt: skip
    assert accepted.ledger.fold.pending == () and accepted.ledger.fold.periods[-1].quantity == 3


def test_through_the_bus_the_refused_transfer_is_dead_lettered_and_no_units_vanish() -> None:
    bus = Bus(as_of=date(2025, 8, 1), now=T0)
    transfer = _line("t1", "asset.transferred", {
        "asset_id": "SRC", "effective_date": "2025-07-01", "quantity": "1",
        "target_account_id": "ACC-B", "target_asset_id": "OTHER"})  # fmt: skip
    for raw in (_order("o1", "SRC"), _order("o2", "OTHER", start="2025-02-01"), transfer):
        bus.feed(raw, _source(raw))
    source = bus.records["SRC"].ledger.fold
    assert [(p.event_id, p.reason_code.value) for p in source.pending] == [
        ("t1", "asset_already_exists")
    ]
    assert source.periods[-1].quantity == 4
    bus.finish()
    assert [(r.event_id, r.reason_code.value) for r in bus.rejected] == [
        ("t1", "asset_already_exists")
    ]
    assert [a.action_id for a in bus.records["OTHER"].ledger.fold.actions] == ["o2/1"]


def test_a_target_refused_command_reaches_the_source_through_the_handler() -> None:
    record = assets.AssetRecord(fed(created(), transferred("t", "2026-02-01", "2"),
                                    as_of="2026-01-01"))  # fmt: skip
    command = TargetRefused(TargetRefusal("t", "A", "B", True, 1, "exists"))
    handled = assets.handle(record, command, position=None, as_of=d("2026-01-01"), now=T0,
                            grace=GRACE)  # fmt: skip
    assert handled.outcome is None  # not an input message
    assert Publish("A") in handled.effects
    assert handled.record.ledger.fold.pending[0].reason_code.value == "asset_already_exists"


# --- one event id on two assets -----------------------------------------------------------


def test_one_event_id_reused_on_two_assets_is_a_conflict_and_nothing_applies_on_the_second() -> (
    None
):
    bus = Bus(as_of=date(2025, 8, 1), now=T0)
    for raw in (_order("o1", "A1"), _order("o2", "A2")):
        bus.feed(raw, _source(raw))
    first = _line(
        "u",
        "asset.quantity_changed",
        {"asset_id": "A1", "effective_date": "2025-03-01", "quantity_change": "1"},
    )
    second = _line(
        "u",
        "asset.quantity_changed",
        {"asset_id": "A2", "effective_date": "2025-03-01", "quantity_change": "1"},
    )
    for raw in (first, second):
        bus.feed(raw, _source(raw))
    assert [(r.event_id, r.reason_code.value) for r in bus.rejected] == [
        ("u", "duplicate_conflict")
    ]
    assert [a.action_id for a in bus.records["A1"].ledger.fold.actions] == ["o1/1", "u"]
    assert [a.action_id for a in bus.records["A2"].ledger.fold.actions] == ["o2/1"]
    assert bus.records["A2"].ledger.fold.pending == ()


# --- helpers ---------------------------------------------------------------------------------


def _line(event_id: str, kind: str, data: dict[str, Any]) -> bytes:
    envelope = {"specversion": "1.0", "id": event_id, "source": "test", "type": kind,
                "time": "2025-01-01T00:00:00Z", "data": data}  # fmt: skip
    return json.dumps(envelope).encode()


def _order(event_id: str, asset_id: str, *, start: str = "2025-01-01", end: str = "2026-01-01",
           **extra: Any) -> bytes:  # fmt: skip
    line = {"line_id": "1", "asset_id": asset_id, "product_code": "P", "quantity": "4",
            "unit_price": "120", "start_date": start, "end_date": end, **extra}  # fmt: skip
    return _line(event_id, "order.fulfilled",
                 {"order_id": f"O-{event_id}", "account_id": "ACC", "currency": "USD",
                  "lines": [line]})  # fmt: skip


def _source(raw: bytes) -> Any:
    from domain.ledger_types import Source

    return Source.from_bytes("test", 0, 0, None, raw)
