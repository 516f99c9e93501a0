"""Decoding raw messages: exact decimals, defaults, and every early rejection (SPEC §3, §4.6)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetRenewed,
    AssetRepriced,
    AssetSwapped,
    AssetTransferred,
    EventVoided,
    Movement,
    QuantityChanged,
)
from schemas.decode import Decoded, Rejection, decode, partition_key

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


# --- the bad-input scenario, line by line ------------------------------------------------

BAD_INPUT = Path(__file__).resolve().parents[1] / "scenarios" / "bad-input.events.jsonl"


def scenario_line(event_id: str | None) -> bytes:
    for line in BAD_INPUT.read_bytes().splitlines():
        if event_id is None and not line.startswith(b"{"):
            return line
        if event_id is not None and f'"id":"{event_id}"'.encode() in line:
            return line
    raise LookupError(event_id)


@pytest.mark.parametrize(
    ("event_id", "code", "reason"),
    [
        (None, "invalid_json", "not UTF-8 JSON"),
        ("bad-2", "unknown_type", "type 'asset.teleported' is not one of"),
        ("bad-3", "schema_violation", "lines[0].end_date: must be after start_date (2025-03-01)"),
        ("bad-4", "schema_violation", "data.uplift_percent: give at most one of unit_price and"),
    ],
)  # fmt: skip
def test_the_bad_input_scenario_is_rejected_early_with_the_expected_reasons(
    event_id: str | None, code: str, reason: str
) -> None:
    rejection = rejected(scenario_line(event_id))
    assert (rejection.reason_code, rejection.event_id) == (code, event_id)
    assert reason in rejection.reason


@pytest.mark.parametrize("event_id", ["good-1", "bad-5", "bad-6"])
def test_domain_rejections_of_the_bad_input_scenario_pass_decoding(event_id: str) -> None:
    assert isinstance(decode(scenario_line(event_id)), Decoded)


# --- exact decimals ------------------------------------------------------------------------


def change(quantity_change: str) -> bytes:
    """An upsell whose quantity_change is spliced in as raw JSON text (a number or a string)."""
    doc = amendment("asset.quantity_changed", asset_id="A", effective_date="2026-02-01",
                    quantity_change="__Q__")  # fmt: skip
    return json.dumps(doc).replace('"__Q__"', quantity_change).encode()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("49.99", Fraction(4999, 100)),
        ('"49.99"', Fraction(4999, 100)),
        ("1.00000000000000000001", Fraction(10**20 + 1, 10**20)),
        ("1E+2", Fraction(100)),
        ("-3", Fraction(-3)),
        ('"5.' + "0" * 40 + '"', Fraction(5)),  # trailing zeros are not significant digits
        ("1" + "0" * 29, Fraction(10**29)),
    ],
)
def test_decimals_are_read_exactly_from_json_numbers_and_strings(
    text: str, value: Fraction
) -> None:
    (event,) = accepted(change(text).decode()).events
    assert isinstance(event, QuantityChanged) and event.quantity_change == value


@pytest.mark.parametrize(
    "text",
    [
        "true", "null", '""', '"1e3"', '" 5"', '"+5"', '".5"', '"5."', '"NaN"', '"Infinity"',
        '"0x10"', "[5]", "1" * 31, "1E+31", "1E-31", '"1.' + "1" * 30 + '"',
    ],
)  # fmt: skip
def test_non_decimals_and_absurd_magnitudes_are_schema_violations(text: str) -> None:
    rejection = rejected(change(text))
    assert rejection.reason_code == "schema_violation"
    assert rejection.reason.startswith("data.quantity_change:"), rejection.reason


def test_an_integer_longer_than_python_converts_is_still_a_schema_violation() -> None:
    rejection = rejected(change("1" * 5000))
    assert rejection.reason_code == "schema_violation"
    assert "data.quantity_change" in rejection.reason


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(text: str) -> None:
    assert rejected(change(text)).reason_code == "invalid_json"


def test_fingerprints_tell_apart_decimals_that_differ_past_28_digits() -> None:
    a, b = change('"1.00000000000000000000000000001"'), change('"1.00000000000000000000000000002"')
    assert accepted(a.decode()).fingerprint != accepted(b.decode()).fingerprint


# --- integers, dates, times, strings -----------------------------------------------------


@pytest.mark.parametrize("months", ["12", 12.0, True, 0, 1201, None])
def test_months_must_be_json_integers_from_1_to_1200(months: Any) -> None:
    rejection = rejected(with_line(price_term_months=months, renewal_term_months=months))
    assert "data.lines[0].price_term_months" in rejection.reason


@pytest.mark.parametrize("value", ["2025-8-10", "2025-08-10T00:00:00Z", 20250810, "10/08/2025"])
def test_dates_must_be_yyyy_mm_dd_exactly(value: Any) -> None:
    rejection = rejected(with_line(start_date=value))
    assert rejection.reason.startswith("data.lines[0].start_date:")


def test_times_with_an_offset_are_normalised_to_utc_and_fingerprint_alike() -> None:
    offset = accepted({**ORDER, "time": "2025-08-10T17:00:00+02:00"})
    assert offset.model.time == datetime(2025, 8, 10, 15, 0, tzinfo=UTC)
    assert offset.events[0].time.utcoffset() == timedelta(0)
    assert offset.fingerprint == accepted(ORDER).fingerprint


@pytest.mark.parametrize(
    "value", ["2025-08-10T15:00:00", "2025-08-10", "9999-12-31T23:59:59-01:00", 1754838000]
)
def test_times_without_a_zone_or_out_of_range_are_schema_violations(value: Any) -> None:
    assert rejected({**ORDER, "time": value}).reason.startswith("time:")


@pytest.mark.parametrize("field", ["line_id", "product_code"])
def test_required_strings_must_be_non_empty_strings(field: str) -> None:
    assert f"data.lines[0].{field}" in rejected(with_line(**{field: ""})).reason
    assert f"data.lines[0].{field}" in rejected(with_line(**{field: 7})).reason


def test_an_order_may_have_500_lines_but_not_501() -> None:
    def order(count: int) -> dict[str, Any]:
        line = ORDER["data"]["lines"][0]
        return with_data(ORDER, lines=[{**line, "line_id": str(i)} for i in range(count)])

    assert len(accepted(order(500)).events) == 500
    assert rejected(order(501)).reason.startswith("data.lines:")


def test_a_lone_surrogate_escape_is_invalid_json_but_a_pair_is_text() -> None:
    assert rejected(raw({**ORDER, "id": "\ud800"})).reason_code == "invalid_json"
    assert accepted({**ORDER, "id": "evt-\U0001f600"}).event_id == "evt-\U0001f600"


def test_a_missing_or_empty_id_leaves_the_rejection_without_event_id() -> None:
    assert rejected({**amendment("asset.teleported"), "id": ""}).event_id is None
    no_id = {k: v for k, v in ORDER.items() if k != "id"}
    rejection = rejected(no_id)
    assert (rejection.event_id, rejection.reason) == (None, "id: required field is missing")


def test_a_missing_type_is_a_schema_violation() -> None:
    rejection = rejected({k: v for k, v in ORDER.items() if k != "type"})
    assert (rejection.reason_code, rejection.reason) == (
        "schema_violation",
        "type: required field is missing",
    )


# --- amendments ----------------------------------------------------------------------------


def test_an_upsell_may_name_its_price_and_a_downsell_need_not() -> None:
    kind, on = "asset.quantity_changed", "2026-02-01"
    (up,) = accepted(
        amendment(kind, asset_id="A", effective_date=on, quantity_change="3", unit_price="40")
    ).events
    (down,) = accepted(
        amendment(kind, asset_id="A", effective_date=on, quantity_change="-2")
    ).events
    assert isinstance(up, QuantityChanged) and up.unit_price == 40
    assert isinstance(down, QuantityChanged) and down.unit_price is None


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"end_date": "2026-08-10"}, "data.end_date: must be after start_date (2026-08-10)"),
        ({"uplift_percent": "-100.01"}, "data.uplift_percent"),
        ({"unit_price": "-0.01"}, "data.unit_price"),
    ],
)
def test_renewal_rules_name_the_field(data: dict[str, Any], fragment: str) -> None:
    doc = amendment("asset.renewed", asset_id="A", start_date="2026-08-10", **data)
    assert fragment in rejected(doc).reason


def test_a_renewal_with_an_uplift_of_minus_100_percent_is_allowed() -> None:
    doc = amendment("asset.renewed", asset_id="A", start_date="2026-08-10", uplift_percent=-100)
    (event,) = accepted(doc).events
    assert isinstance(event, AssetRenewed) and event.uplift_percent == -100
    assert (event.end_date, event.unit_price) == (None, None)


def test_a_cancellation_yields_one_event_with_the_event_id_as_action_id() -> None:
    doc = amendment("asset.cancelled", asset_id="A", effective_date="2026-03-01", order_id="O")
    (event,) = accepted(doc).events
    assert isinstance(event, AssetCancelled)
    assert (event.action_id, event.order_id, event.effective_date) == (
        "evt-2",
        "O",
        date(2026, 3, 1),
    )


def test_an_order_yields_one_creation_per_line_with_line_action_ids() -> None:
    line = ORDER["data"]["lines"][0]
    doc = with_data(ORDER, lines=[line, {**line, "line_id": "2", "asset_id": "X",
                                         "category": "cross_sell"}])  # fmt: skip
    events = accepted(doc).events
    assert [(e.asset_id, e.action_id, e.category) for e in events] == [  # type: ignore[union-attr]
        ("ORD-1/1", "evt-1/1", "initial_sale"),
        ("X", "evt-1/2", "cross_sell"),
    ]


def test_unknown_fields_anywhere_are_ignored() -> None:
    line = {**ORDER["data"]["lines"][0], "discount": {"nested": [1, 2.5]}}
    doc = {**ORDER, "traceparent": "00-x", "data": {**ORDER["data"], "lines": [line], "x": None}}
    decoded = accepted(doc)
    assert decoded.events == accepted(ORDER).events
    assert "discount" not in json.dumps(decoded.model.model_dump(mode="json"))


def test_the_kafka_key_is_the_order_id_for_orders_and_the_asset_id_otherwise() -> None:
    order = accepted(ORDER)
    cancel = accepted(amendment("asset.cancelled", asset_id="AST-9", effective_date="2026-03-01"))
    assert (partition_key(order), partition_key(order.model)) == ("ORD-1", "ORD-1")
    assert partition_key(cancel) == "AST-9"


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    ).map(lambda data: json.dumps({**ORDER, "data": data}).encode())
)
def test_decode_never_raises_on_arbitrary_bytes_or_data(payload: bytes) -> None:
    assert isinstance(decode(payload), Decoded | Rejection)


# --- SPEC §9 -------------------------------------------------------------------------------


def test_price_change_needs_exactly_one_of_price_and_uplift() -> None:
    base = {"asset_id": "A", "effective_date": "2026-02-01"}
    (event,) = accepted(amendment("asset.repriced", **base, uplift_percent="2.5")).events
    assert isinstance(event, AssetRepriced) and event.uplift_percent == Fraction(5, 2)
    for data, which in (({}, "neither"), ({"unit_price": "1", "uplift_percent": "1"}, "both")):
        reason = rejected(amendment("asset.repriced", **base, **data)).reason
        assert reason.startswith("data.uplift_percent: give exactly one of") and which in reason


def test_uplifts_are_capped_at_1000_percent_and_floored_at_minus_100() -> None:
    base = {"asset_id": "A", "effective_date": "2026-02-01"}
    assert (
        "less than or equal to 1000"
        in rejected(amendment("asset.repriced", **base, uplift_percent="1000.01")).reason
    )
    assert accepted(amendment("asset.repriced", **base, uplift_percent="-100"))
    renewal = amendment("asset.renewed", asset_id="A", start_date="2026-08-10", uplift_percent=2000)
    assert rejected(renewal).reason.startswith("data.uplift_percent:")


def swap_event(**data: Any) -> dict[str, Any]:
    """`asset.swapped` (its `kind` field would clash with `amendment`'s first argument)."""
    return {**amendment("asset.swapped"), "data": data}


def test_a_swap_defaults_its_target_id_and_product_name() -> None:
    swap = swap_event(asset_id="A", effective_date="2026-02-01", quantity="2", kind="upgrade",
                      product_code="ENT", unit_price=480)  # fmt: skip
    (event,) = accepted(swap).events
    assert isinstance(event, AssetSwapped)
    assert (event.target_asset_id, event.product_name, event.kind) == (
        "A/upgrade/evt-2", "ENT", Movement.UPGRADE,
    )  # fmt: skip
    assert partition_key(accepted(swap)) == "A"


@pytest.mark.parametrize(
    ("change", "path"),
    [({"kind": "sidegrade"}, "data.kind"), ({"quantity": "0"}, "data.quantity"),
     ({"target_asset_id": "A"}, "data.target_asset_id"), ({"unit_price": "-1"}, "data.unit_price"),
     ({"product_code": ""}, "data.product_code")],
)  # fmt: skip
def test_a_bad_swap_names_the_field(change: dict[str, Any], path: str) -> None:
    data = {"asset_id": "A", "effective_date": "2026-02-01", "quantity": "2", "kind": "swap",
            "product_code": "ENT", "unit_price": "1", **change}  # fmt: skip
    assert rejected(swap_event(**data)).reason.startswith(path)


def test_a_void_names_another_event_and_a_short_reason() -> None:
    (event,) = accepted(amendment("asset.event_voided", asset_id="A", voided_event_id="evt-1",
                                  reason="typo")).events  # fmt: skip
    assert isinstance(event, EventVoided) and (event.voided_event_id, event.reason) == (
        "evt-1",
        "typo",
    )
    itself = rejected(amendment("asset.event_voided", asset_id="A", voided_event_id="evt-2"))
    assert itself.reason.startswith("data.voided_event_id: must differ from the void's own id")
    long = rejected(amendment("asset.event_voided", asset_id="A", voided_event_id="x",
                              reason="r" * 501))  # fmt: skip
    assert long.reason.startswith("data.reason:")


def test_auto_renewal_fields_on_an_order_line() -> None:
    (event,) = accepted(with_line(auto_renew=True, renewal_uplift_percent="3")).events
    assert isinstance(event, AssetCreated)
    assert (event.terms.auto_renew, event.terms.renewal_uplift_percent) == (True, 3)
    (plain,) = accepted(ORDER).events
    assert isinstance(plain, AssetCreated) and not plain.auto_renew
    assert rejected(with_line(auto_renew="true")).reason == (
        "data.lines[0].auto_renew: Input should be a valid boolean"
    )
    assert rejected(with_line(renewal_uplift_percent="3")).reason == (
        "data.lines[0].renewal_uplift_percent: only allowed with auto_renew: true"
    )


def test_an_order_seen_before_section_9_keeps_its_fingerprint() -> None:
    """A redelivery of a message stored before the new fields existed stays a duplicate."""
    raw = Path(__file__).resolve().parents[1] / "scenarios" / "capricorn-initial.events.jsonl"
    first = raw.read_bytes().splitlines()[0]
    digest = "92e38e165d9dd1676ccf493a8b35195ea13d6d56b1855139760bebce27e00dbe"
    assert accepted(first.decode()).fingerprint == digest
    explicit = json.loads(first)
    explicit["data"]["lines"][0].update(auto_renew=False)
    assert accepted(explicit).fingerprint == digest
    explicit["data"]["lines"][0].update(auto_renew=True)
    assert accepted(explicit).fingerprint != digest
