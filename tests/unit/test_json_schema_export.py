"""The committed JSON Schemas match the models, and they agree with the decoder.

No JSON Schema library is a dependency, so `conforms` checks the subset of
draft 2020-12 these files use (a test fails if another keyword appears).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from schemas.decode import Decoded, decode
from schemas.export import JSON_DIR, documents, render
from tests.support.snapshots import CAPRICORN

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
EVENT_TYPES = ("order.fulfilled", "asset.quantity_changed", "asset.renewed", "asset.cancelled",
               "asset.transferred", "asset.repriced", "asset.swapped",
               "asset.event_voided")  # fmt: skip
ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default", "format"}
ASSERTIONS = {"type", "properties", "required", "additionalProperties", "anyOf", "enum", "const",
              "pattern", "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength",
              "items", "minItems", "maxItems", "$ref"}  # fmt: skip
JSON_TYPES: dict[str, type] = {
    "object": dict, "array": list, "string": str, "null": type(None), "boolean": bool,
}  # fmt: skip


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((JSON_DIR / name).read_text(encoding="utf-8")))


def conforms(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """Does `value` (parsed with Decimal numbers) satisfy `schema`? A subset of 2020-12."""
    unknown = set(schema) - ANNOTATIONS - ASSERTIONS
    assert not unknown, f"keywords the test does not check: {unknown}"
    if "$ref" in schema:
        return conforms(value, root["$defs"][schema["$ref"].split("/")[-1]], root)
    if "anyOf" in schema and not any(conforms(value, s, root) for s in schema["anyOf"]):
        return False
    kind = schema.get("type")
    if kind in ("number", "integer"):
        is_number = isinstance(value, int | Decimal) and not isinstance(value, bool)
        if not is_number or (kind == "integer" and Decimal(value) % 1 != 0):
            return False
    elif kind is not None and not isinstance(value, JSON_TYPES[kind]):
        return False
    checks: list[tuple[str, Callable[[Any], bool]]] = [
        ("enum", lambda s: value in s),
        ("const", lambda s: value == s),
        ("pattern", lambda s: re.search(s, value) is not None),
        ("minimum", lambda s: value >= s),
        ("maximum", lambda s: value <= s),
        ("exclusiveMinimum", lambda s: value > s),
        ("minLength", lambda s: len(value) >= s),
        ("maxLength", lambda s: len(value) <= s),
        ("minItems", lambda s: len(value) >= s),
        ("maxItems", lambda s: len(value) <= s),
        ("required", lambda s: all(key in value for key in s)),
        ("items", lambda s: all(conforms(item, s, root) for item in value)),
        ("properties", lambda s: all(conforms(value[k], s[k], root) for k in s if k in value)),
    ]
    return all(check(schema[key]) for key, check in checks if key in schema)


def valid_events() -> list[bytes]:
    lines = [
        line
        for path in sorted(SCENARIOS.glob("*.events.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    return [line for line in lines if isinstance(decode(line), Decoded)]


def test_committed_json_schemas_are_current() -> None:
    for name, schema in documents().items():
        path = JSON_DIR / name
        assert path.exists(), f"{path} missing: run `python -m schemas.export`"
        assert path.read_text(encoding="utf-8") == render(schema), (
            f"{path} is stale: run `python -m schemas.export` and commit the result"
        )


def test_no_schema_file_is_left_over_from_a_removed_model() -> None:
    assert {p.name for p in JSON_DIR.glob("*.json")} == set(documents())


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_input_event_type_has_a_full_cloudevent_schema(event_type: str) -> None:
    schema = load(f"{event_type}.schema.json")
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["properties"]["specversion"]["const"] == "1.0"
    assert set(schema["required"]) == {"specversion", "id", "source", "type", "time", "data"}
    assert schema.get("additionalProperties", True) is True  # extra fields are ignored


def test_every_event_the_decoder_accepts_conforms_to_its_schema() -> None:
    events = valid_events()
    assert len(events) >= 10
    seen = {json.loads(raw)["type"] for raw in events}
    assert {"asset.repriced", "asset.swapped", "asset.event_voided", "order.fulfilled"} <= seen
    for raw in events:
        document = json.loads(raw, parse_float=Decimal)
        assert conforms(document, (schema := load(f"{document['type']}.schema.json")), schema)


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", "0"), ("quantity", -1), ("unit_price", "-1"), ("unit_price", "1e3"),
     ("start_date", "2025-8-10"), ("price_term_months", 0), ("price_term_months", "12"),
     ("category", "upsell"), ("product_code", "")],
)  # fmt: skip
def test_the_schema_and_the_decoder_refuse_the_same_bad_line(field: str, value: Any) -> None:
    raw = (SCENARIOS / "capricorn-initial.events.jsonl").read_bytes().splitlines()[0]
    document = json.loads(raw, parse_float=Decimal)
    document["data"]["lines"][0][field] = value
    schema = load("order.fulfilled.schema.json")
    assert not conforms(document, schema, schema)
    assert not isinstance(decode(json.dumps(document, default=str).encode()), Decoded)


def test_published_records_conform_to_the_output_schemas() -> None:
    snapshot = load("asset-snapshot.schema.json")
    assert conforms(json.loads(json.dumps(CAPRICORN), parse_float=Decimal), snapshot, snapshot)
    letter = load("dead-letter.schema.json")
    record = {
        "event_id": None, "reason_code": "invalid_json", "reason": "not UTF-8 JSON",
        "source_topic": "orders.fulfilled", "source_partition": 0, "source_offset": 1,
        "key": None, "payload": "//4=", "payload_encoding": "base64",
        "dead_lettered_at": "2025-02-01T12:30:00Z",
    }  # fmt: skip
    assert conforms(record, letter, letter)
    assert not conforms({**record, "reason_code": "oops"}, letter, letter)


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "sidegrade"), ("quantity", "0"), ("unit_price", "-1"), ("product_code", "")],
)
def test_the_schema_and_the_decoder_refuse_the_same_bad_swap(field: str, value: Any) -> None:
    raw = (SCENARIOS / "upgrade-swap.events.jsonl").read_bytes().splitlines()[1]
    document = json.loads(raw, parse_float=Decimal)
    document["data"][field] = value
    schema = load("asset.swapped.schema.json")
    assert not conforms(document, schema, schema)
    assert not isinstance(decode(json.dumps(document, default=str).encode()), Decoded)


def test_the_schema_caps_uplifts_as_the_decoder_does() -> None:
    raw = (SCENARIOS / "reprice-and-void.events.jsonl").read_bytes().splitlines()[2]
    document = json.loads(raw, parse_float=Decimal)
    schema = load("asset.repriced.schema.json")
    assert conforms(document, schema, schema)
    document["data"]["uplift_percent"] = 1001
    assert not conforms(document, schema, schema)
    assert not isinstance(decode(json.dumps(document, default=str).encode()), Decoded)
