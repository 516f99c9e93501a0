"""Output records on the wire: the asset snapshot (SPEC §5) and the dead-letter record (§4.6)."""

from __future__ import annotations

import json
import typing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.events import Category, EventVoided, Subtype, TargetRefusal, sort_key
from domain.ledger import new_ledger, receive
from domain.ledger_types import DeadLetter, Delivery, Source
from domain.reasons import ReasonCode
from domain.snapshot import render
from domain.snapshot_types import AssetSnapshot, PendingView
from schemas.decode import Decoded, decode
from schemas.outputs import (
    AssetSnapshotModel,
    CategoryName,
    DeadLetterModel,
    SubtypeName,
    dead_letter_to_dict,
    snapshot_to_dict,
)
from schemas.snapshot_render import SnapshotRenderer
from tests.property.strategies import as_of_dates, event_sets, with_voids
from tests.support.builders import T0, d
from tests.support.snapshots import CAPRICORN

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SPEC_SNAPSHOT_FIELDS = {
    "asset_id", "account_id", "currency", "version", "as_of", "status", "current_quantity",
    "current_mrr", "lifecycle_start_date", "lifecycle_end_date", "total_lifecycle_amount",
    "state_periods", "actions", "pending_events",
}  # fmt: skip
SPEC_9_SNAPSHOT_FIELDS = {"auto_renew", "next_renewal_date", "voided_events"}
EXTRA_SNAPSHOT_FIELDS = {
    "product_code", "product_name", "price_term_months", "renewal_term_months",
    "billing_anchor_date", "updated_by_event_id", "renewal_uplift_percent", "ended_by",
}  # fmt: skip
SPEC_DEAD_LETTER_FIELDS = {
    "event_id", "reason_code", "reason", "source_topic", "source_partition", "source_offset",
    "key", "payload", "dead_lettered_at",
}  # fmt: skip


def capricorn_upsell_snapshot() -> AssetSnapshot:
    """The engine's snapshot for SPEC §5's example, from the vendored scenario's wire events."""
    ledger = new_ledger("AST-QBO-CAPRICORN")
    for line in (SCENARIOS / "capricorn-upsell.events.jsonl").read_bytes().splitlines():
        decoded = decode(line)
        assert isinstance(decoded, Decoded), decoded
        source = Source("test", 0, 0, None, line.decode())
        for event in decoded.events:
            step = receive(
                ledger, Delivery(event, decoded.fingerprint, source, T0), as_of=d("2026-03-01"),
                now=T0,
            )  # fmt: skip
            ledger = step.ledger
    assert ledger.published is not None
    snapshot = render(
        ledger.fold,
        asset_id=ledger.asset_id,
        version=ledger.version,
        as_of=ledger.published.as_of,
        updated_by_event_id=ledger.updated_by_event_id,
    )
    assert snapshot is not None
    return snapshot


def test_the_incremental_renderer_writes_what_snapshot_to_dict_describes() -> None:
    """One shape: the worker's renderer and the record mapper agree on every field."""
    ledger = new_ledger("AST-QBO-CAPRICORN")
    renderer = SnapshotRenderer()
    for line in (SCENARIOS / "capricorn-upsell.events.jsonl").read_bytes().splitlines():
        decoded = decode(line)
        assert isinstance(decoded, Decoded), decoded
        for event in decoded.events:
            delivery = Delivery(event, decoded.fingerprint, Source("t", 0, 0, None, "{}"), T0)
            ledger = receive(ledger, delivery, as_of=d("2026-03-01"), now=T0).ledger
            rendered = renderer.render(ledger)
            assert rendered is not None
            assert json.loads(rendered) == snapshot_to_dict(_view(ledger))


def _view(ledger: Any) -> AssetSnapshot:
    snapshot = render(
        ledger.fold,
        asset_id=ledger.asset_id,
        version=ledger.version,
        as_of=ledger.published.as_of,
        updated_by_event_id=ledger.updated_by_event_id,
    )
    assert snapshot is not None
    return snapshot


def test_the_snapshot_has_spec_section_5_fields_plus_the_documented_extras() -> None:
    record = snapshot_to_dict(capricorn_upsell_snapshot())
    assert set(record) == SPEC_SNAPSHOT_FIELDS | SPEC_9_SNAPSHOT_FIELDS | EXTRA_SNAPSHOT_FIELDS
    assert set(record) == set(AssetSnapshotModel.model_fields)  # one declaration of the shape
    assert set(record["state_periods"][0]) == {
        "start_date",
        "end_date",
        "quantity",
        "mrr",
        "amount",
    }
    assert set(record["actions"][0]) == {
        "action_id", "category", "subtype", "effective_date", "action_time", "quantity_change",
        "mrr_change", "amount_change", "event_id", "order_id", "related_asset_id",
    }  # fmt: skip


def test_the_capricorn_upsell_snapshot_matches_spec_section_5_value_for_value() -> None:
    record = snapshot_to_dict(capricorn_upsell_snapshot())
    expected = json.loads((SCENARIOS / "capricorn-upsell.expected.json").read_text())["assets"][0]
    for field, value in expected.items():
        if field == "actions":
            for got, want in zip(record["actions"], value, strict=True):
                assert {k: got[k] for k in want} == want
        else:
            assert record[field] == value, field
    assert record["actions"][0]["action_time"] == "2025-08-10T15:00:00Z"
    assert record["actions"][1]["order_id"] == "ORD-1002"


def test_the_snapshot_is_plain_json_with_money_as_strings_and_no_floats() -> None:
    record = snapshot_to_dict(capricorn_upsell_snapshot())
    text = json.dumps(record)
    assert json.loads(text, parse_float=lambda _: pytest.fail("a float in the snapshot")) == record
    assert AssetSnapshotModel.model_validate(record).model_dump() == record


def test_pending_events_carry_event_id_reason_code_and_what_would_apply() -> None:
    pending = PendingView(
        "evt-9", "evt-9", "asset.quantity_changed", d("2027-01-01"),
        ReasonCode.OUTSIDE_LIFECYCLE.value, "effective date 2027-01-01 is at or after the end",
    )  # fmt: skip
    snapshot = replace(capricorn_upsell_snapshot(), pending_events=(pending,))
    (item,) = snapshot_to_dict(snapshot)["pending_events"]
    assert item == {
        "event_id": "evt-9", "action_id": "evt-9", "type": "asset.quantity_changed",
        "effective_date": "2027-01-01", "reason_code": "outside_lifecycle",
        "reason": "effective date 2027-01-01 is at or after the end", "waiting": False,
    }  # fmt: skip
    assert AssetSnapshotModel.model_validate(snapshot_to_dict(snapshot))


def test_a_pending_void_has_no_effective_date() -> None:
    pending = PendingView("v", "v", "asset.event_voided", None, "unknown_event", "not received")
    snapshot = replace(capricorn_upsell_snapshot(), pending_events=(pending,))
    (item,) = snapshot_to_dict(snapshot)["pending_events"]
    assert item["effective_date"] is None
    assert AssetSnapshotModel.model_validate(snapshot_to_dict(snapshot))


def test_action_times_are_published_in_utc_with_z_whatever_their_offset() -> None:
    snapshot = capricorn_upsell_snapshot()
    plus_two = datetime(2025, 8, 10, 17, 0, tzinfo=timezone(timedelta(hours=2)))
    action = replace(snapshot.actions[0], action_time=plus_two)
    record = snapshot_to_dict(replace(snapshot, actions=(action,)))
    assert record["actions"][0]["action_time"] == "2025-08-10T15:00:00Z"


@pytest.mark.parametrize(
    ("field", "value"),
    [("as_of", "01/03/2026"), ("current_mrr", 33.33), ("status", "paused"), ("version", -1),
     ("ended_by", "expiry"), ("auto_renew", "yes")],
)  # fmt: skip
def test_the_snapshot_model_refuses_a_malformed_snapshot_record(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        AssetSnapshotModel.model_validate({**CAPRICORN, field: value})


def test_a_snapshot_published_before_section_9_still_validates_with_defaults() -> None:
    model = AssetSnapshotModel.model_validate(CAPRICORN)
    assert (model.auto_renew, model.next_renewal_date, model.ended_by) == (False, None, None)
    assert model.voided_events == []


def test_wire_category_and_subtype_names_are_exactly_the_domain_enums() -> None:
    assert set(typing.get_args(CategoryName)) == {c.value for c in Category}
    assert set(typing.get_args(SubtypeName)) == {s.value for s in Subtype}


def letter(source: Source | None) -> DeadLetter:
    return DeadLetter(
        event_id="bad-3",
        reason_code=ReasonCode.SCHEMA_VIOLATION,
        reason="data.lines[0].end_date: must be after start_date (2025-03-01)",
        source=source,
        dead_lettered_at=datetime(2025, 2, 1, 12, 30, tzinfo=UTC),
    )


def test_a_dead_letter_has_exactly_the_fields_of_spec_section_4_6() -> None:
    source = Source("orders.fulfilled", 3, 42, "B3", '{"id": "bad-3"}')
    record = dead_letter_to_dict(letter(source))
    assert set(record) == SPEC_DEAD_LETTER_FIELDS  # no payload_encoding for a text payload
    assert record == {
        "event_id": "bad-3", "reason_code": "schema_violation",
        "reason": "data.lines[0].end_date: must be after start_date (2025-03-01)",
        "source_topic": "orders.fulfilled", "source_partition": 3, "source_offset": 42,
        "key": "B3", "payload": '{"id": "bad-3"}', "dead_lettered_at": "2025-02-01T12:30:00Z",
    }  # fmt: skip
    assert DeadLetterModel.model_validate(record).model_dump(exclude_none=True) == {
        k: v for k, v in record.items() if v is not None
    }


def test_a_binary_payload_is_base64_with_its_encoding_named() -> None:
    raw = b"\xff\xfe not utf-8"
    source = Source.from_bytes("assets.amendments", 0, 7, None, raw)
    assert (source.payload, source.payload_encoding) == ("//4gbm90IHV0Zi04", "base64")
    record = dead_letter_to_dict(letter(source))
    assert (record["payload"], record["payload_encoding"]) == (source.payload, "base64")
    assert set(record) == SPEC_DEAD_LETTER_FIELDS | {"payload_encoding"}


def test_a_utf8_payload_is_kept_as_text() -> None:
    source = Source.from_bytes("assets.amendments", 0, 7, None, "café {".encode())
    assert (source.payload, source.payload_encoding) == ("café {", None)


def test_a_dead_letter_with_no_source_has_null_coordinates() -> None:
    record = dead_letter_to_dict(letter(None))
    assert set(record) == SPEC_DEAD_LETTER_FIELDS
    assert record["source_topic"] is record["payload"] is record["key"] is None


@settings(max_examples=60, deadline=None)
@given(st.data(), st.randoms(use_true_random=False))
def test_the_renderer_agrees_with_snapshot_to_dict_after_every_arrival(
    data: st.DataObject, rnd: Any
) -> None:
    """In order and backdated, with §9's events: one renderer kept across an asset's life."""
    events = data.draw(with_voids(data.draw(event_sets(12, section_9=True))))
    as_of = data.draw(as_of_dates(events))
    folded = [e for e in events if not isinstance(e, EventVoided | TargetRefusal)]
    arrivals = [*sorted(folded, key=sort_key), *(e for e in events if isinstance(e, EventVoided))]
    if data.draw(st.booleans()):
        rnd.shuffle(arrivals)
    ledger = new_ledger("A")
    renderer = SnapshotRenderer()
    for event in arrivals:
        ledger = receive(ledger, Delivery(event, repr(event), None, T0), as_of=as_of,
                         now=T0).ledger  # fmt: skip
        rendered = renderer.render(ledger)
        if ledger.published is None:
            assert rendered is None
            continue
        assert rendered is not None
        record = json.loads(rendered)
        assert record == snapshot_to_dict(_view(ledger))
        assert AssetSnapshotModel.model_validate(record).model_dump() == record
