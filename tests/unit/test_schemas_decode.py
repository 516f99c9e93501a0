"""Decoding raw messages: exact decimals, defaults, and every early rejection (SPEC §3, §4.6)."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from domain.events import AssetCreated, AssetTransferred, QuantityChanged
from schemas.decode import Decoded, Rejection, decode

ORDER: dict[str, Any] = {
    "specversion": "1.0", "id": "evt-1", "source": "orders.test", "type": "order.fulfilled",
    "time": "2025-08-10T15:00:00Z",
    "data": {"order_id": "ORD-1", "account_id": "ACC", "currency": "USD", "lines": [
        {"line_id": "1", "product_code": "QBO", "quantity": "5", "unit_price": "49.99",
         "start_date": "2025-08-10", "end_date": "2026-08-10"}]},
}  # fmt: skip


def raw(document: dict[str, Any] | str) -> bytes:
    return (document if isinstance(document, str) else json.dumps(document)).encode()


def with_data(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, "data": {**base["data"], **changes}}


def with_line(**changes: Any) -> dict[str, Any]:
    return with_data(ORDER, lines=[{**ORDER["data"]["lines"][0], **changes}])


def amendment(kind: str, **data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": "evt-2", "source": "s", "type": kind,
            "time": "2026-01-20T10:00:00Z", "data": data}  # fmt: skip


def rejected(document: dict[str, Any] | str | bytes) -> Rejection:
    result = decode(document if isinstance(document, bytes) else raw(document))
    assert isinstance(result, Rejection), result
    return result


def accepted(document: dict[str, Any] | str) -> Decoded:
    result = decode(raw(document))
    assert isinstance(result, Decoded), result
    return result


def test_order_line_defaults_asset_id_price_term_and_category() -> None:
    (event,) = accepted(ORDER).events
    assert isinstance(event, AssetCreated)
    assert (event.asset_id, event.price_term_months, event.category) == (
        "ORD-1/1",
        12,
        "initial_sale",
    )
    assert event.action_id == "evt-1/1"


def test_json_numbers_are_read_exactly_never_through_a_float() -> None:
    text = raw(ORDER).decode().replace('"49.99"', "49.99")
    (event,) = accepted(text).events
    assert isinstance(event, AssetCreated) and event.unit_price == Fraction(4999, 100)
    tiny = amendment("asset.quantity_changed", asset_id="A", effective_date="2026-02-01",
                     quantity_change=1)  # fmt: skip
    text = json.dumps(tiny).replace(
        '"quantity_change": 1', '"quantity_change": 1.00000000000000000001'
    )
    (change,) = accepted(text).events
    assert isinstance(change, QuantityChanged)
    assert change.quantity_change == Fraction(Decimal("1.00000000000000000001"))


def test_fingerprint_ignores_number_spelling_key_order_and_unknown_fields() -> None:
    five_number = raw(ORDER).decode().replace('"quantity": "5"', '"quantity": 5')
    five_point_oh = with_line(quantity="5.0")
    extra = {**with_line(), "traceparent": "00-abc", "data": {**ORDER["data"], "note": "x"}}
    prints = {accepted(doc).fingerprint for doc in (ORDER, five_number, five_point_oh, extra)}
    assert len(prints) == 1
    assert accepted(with_line(quantity="6")).fingerprint not in prints


def test_transfer_target_asset_defaults_from_the_source_and_event_id() -> None:
    doc = amendment("asset.transferred", asset_id="A", effective_date="2026-02-01", quantity="2",
                    target_account_id="ACC-2")  # fmt: skip
    (event,) = accepted(doc).events
    assert isinstance(event, AssetTransferred) and event.target_asset_id == "A/transfer/evt-2"


@pytest.mark.parametrize("payload", [b"this is not json {", b"\xff\xfe\x00", b"", b"NaN"])
def test_bytes_that_are_not_utf8_json_are_invalid_json(payload: bytes) -> None:
    rejection = rejected(payload)
    assert (rejection.reason_code, rejection.event_id) == ("invalid_json", None)


def test_unknown_type_keeps_the_event_id() -> None:
    rejection = rejected(amendment("asset.teleported", asset_id="A"))
    assert (rejection.reason_code, rejection.event_id) == ("unknown_type", "evt-2")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (with_line(end_date="2025-08-10"),
         "data.lines[0].end_date: must be after start_date (2025-08-10)"),
        (with_line(quantity="0"), "data.lines[0].quantity"),
        (with_line(quantity=True), "data.lines[0].quantity"),
        (with_line(unit_price="-1"), "data.lines[0].unit_price"),
        (with_line(start_date="2025-02-30"), "data.lines[0].start_date"),
        (with_line(price_term_months="12"), "price_term_months: must be a JSON integer"),
        (with_data(ORDER, currency="XYZ"), "data.currency: must be an ISO 4217"),
        (with_data(ORDER, lines=[]), "data.lines"),
        ({**ORDER, "time": "yesterday"}, "time: must be an RFC 3339"),
        ({**ORDER, "specversion": "0.3"}, "specversion"),
        ({k: v for k, v in ORDER.items() if k != "data"}, "data: required field is missing"),
        (amendment("asset.renewed", asset_id="A", start_date="2026-08-10", unit_price="1",
                   uplift_percent="5"), "at most one of unit_price and uplift_percent"),
        (amendment("asset.quantity_changed", asset_id="A", effective_date="2026-01-01",
                   quantity_change="0"), "must not be 0"),
        (amendment("asset.quantity_changed", asset_id="A", effective_date="2026-01-01",
                   quantity_change="-1", unit_price="5"), "only allowed on an upsell"),
        (amendment("asset.transferred", asset_id="A", effective_date="2026-01-01", quantity="1",
                   target_account_id="B", target_asset_id="A"), "must differ from asset_id"),
    ],
)  # fmt: skip
def test_schema_violations_name_the_field_and_the_rule(
    document: dict[str, Any], fragment: str
) -> None:
    rejection = rejected(document)
    assert rejection.reason_code == "schema_violation"
    assert fragment in rejection.reason


def test_duplicate_line_ids_in_one_order_are_a_schema_violation() -> None:
    line = ORDER["data"]["lines"][0]
    reason = rejected(with_data(ORDER, lines=[line, line])).reason
    assert "data.lines: lines[1].line_id '1' repeats lines[0]" in reason


@pytest.mark.parametrize("text", ["[1, 2]", '"text"', "5", "null"])
def test_json_that_is_not_an_object_is_invalid_json(text: str) -> None:
    rejection = rejected(text)
    assert (rejection.reason_code, rejection.event_id) == ("invalid_json", None)
    assert "must be a JSON object" in rejection.reason


def test_messages_over_one_mebibyte_are_invalid_json() -> None:
    rejection = rejected(b" " * (1024 * 1024 + 1))
    assert rejection.reason_code == "invalid_json" and "1 MiB" in rejection.reason
