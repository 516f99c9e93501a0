"""The codec of internal records (streams.records): stable tags, every event, old versions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from domain.events import (
    AssetEvent,
    Movement,
    Period,
    TargetRefusal,
    Tranche,
    TransferReceived,
)
from domain.ledger import Entry, EntryStatus
from domain.ledger_types import Delivery, Source
from service.messages import Claim, Deliver, Revoke, TargetRefused, Tick
from streams.records import (
    EVENT_FIELDS,
    RecordError,
    decode_commands,
    decode_entry,
    encode_commands,
    encode_entry,
    event_from_list,
    event_to_list,
)
from tests.support.builders import (
    T0,
    cancelled,
    changed,
    created,
    d,
    q,
    renewed,
    repriced,
    swapped,
    transferred,
    voided,
)

TARGET = TransferReceived(
    event_id="t", asset_id="B", source_asset_id="A", time=T0, effective_date=d("2026-02-01"),
    terms=dataclasses.replace(created(auto_renew=True, uplift="2.5").terms, account_id="ACC-2"),
    periods=(Period.of(d("2026-02-01"), d("2026-08-10"), (Tranche(q("2"), q("49.99")),)),),
    source_revision=3, order_id=None, kind=Movement.UPGRADE,
)  # fmt: skip
EVERY_EVENT: list[AssetEvent] = [
    created(auto_renew=True, uplift="3"), changed("u", "2026-01-01", "2", price="10"),
    renewed("r", "2026-08-10", uplift="5"), cancelled("c", "2026-09-01"),
    transferred("x", "2026-02-01", "1"), repriced("p", "2026-03-01", price="60"),
    swapped("s", "2026-04-01", "2"), voided("v", "u", reason="typo"), TARGET,
    TargetRefusal("x", "A", "B", True, 7, "asset B already exists"),
]  # fmt: skip


def test_every_event_type_has_a_tag_and_round_trips() -> None:
    assert {type(e) for e in EVERY_EVENT} == {cls for cls, _ in EVENT_FIELDS.values()}
    for event in EVERY_EVENT:
        assert event_from_list(event_to_list(event)) == event


def test_each_tags_field_list_is_its_dataclass_in_order() -> None:
    """Adding a field to an event without a new tag version fails here."""
    for tag, (cls, fields) in EVENT_FIELDS.items():
        assert [name for name, _ in fields] == [f.name for f in dataclasses.fields(cls)], tag


def test_the_first_releases_creation_and_transfer_target_are_still_read() -> None:
    old_created = ["created/1", "e1", "1", "A", "2025-01-01T00:00:00+00:00", "O-e1", "ACC", "USD",
                   "P", "Product", "5", "4999/100", 12, "2025-08-10", "2026-08-10", 12,
                   "initial_sale"]  # fmt: skip
    event = event_from_list(old_created)
    assert event == dataclasses.replace(created(), order_id="O-e1")
    assert not event.terms.auto_renew  # type: ignore[union-attr]
    old_target = ["transfer-in/1", "t", "B", "A", "2025-01-01T00:00:00+00:00", "2026-02-01",
                  "ACC-2", "USD", "P", None, 12, 12, "2025-08-10",
                  [["2026-02-01", "2026-08-10", [["2", "4999/100"]]]], 3, None]  # fmt: skip
    target = event_from_list(old_target)
    assert isinstance(target, TransferReceived) and target.kind is Movement.TRANSFER
    assert (target.terms.account_id, target.terms.billing_anchor) == ("ACC-2", d("2025-08-10"))
    assert target.terms.lifecycle_start == d("2026-02-01")


def test_every_command_round_trips_in_one_batch() -> None:
    source = Source("orders.fulfilled", 1, 9, "O-1", '{"id": "e1"}')
    commands = [
        Deliver(Delivery(created(), "fp", source, T0)),
        Deliver(Delivery(TARGET, "transfer:t:3", None, T0)),
        Revoke("A", "e1", "fp"),
        Tick("A"),
        TargetRefused(TargetRefusal("x", "A", "B", False, 8, "accepted")),
        Claim("e1", "fp", ("A", "B"), source, datetime(2025, 1, 2, tzinfo=UTC)),
    ]
    assert decode_commands(encode_commands(commands)) == commands


def test_an_entry_row_round_trips_with_its_status() -> None:
    entry = Entry(4, Delivery(voided("v", "u"), "fp", Source("t", 0, 1, "A", "{}"), T0),
                  EntryStatus.LIVE)  # fmt: skip
    assert decode_entry(encode_entry(entry)) == entry


@pytest.mark.parametrize("raw", [b"{}", b'[["nope/1"]]', b'[["refused/1", ["voided/1"]]]', b"["])
def test_what_this_codec_did_not_write_is_a_record_error(raw: bytes) -> None:
    with pytest.raises(RecordError):
        decode_commands(raw)
