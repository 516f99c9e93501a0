"""The committed JSON Schemas match the models, and real events validate against them."""

from __future__ import annotations

import json

from schemas.export import JSON_DIR, documents, render


def test_committed_json_schemas_are_current() -> None:
    for name, schema in documents().items():
        path = JSON_DIR / name
        assert path.exists(), f"{path} missing: run `python -m schemas.export`"
        assert path.read_text(encoding="utf-8") == render(schema), (
            f"{path} is stale: run `python -m schemas.export` and commit the result"
        )


def test_every_input_event_type_has_a_schema_naming_its_type() -> None:
    names = {p.name for p in JSON_DIR.glob("*.schema.json")}
    for event_type in ("order.fulfilled", "asset.quantity_changed", "asset.renewed",
                       "asset.cancelled", "asset.transferred"):  # fmt: skip
        assert f"{event_type}.schema.json" in names
        schema = json.loads((JSON_DIR / f"{event_type}.schema.json").read_text())
        assert schema["properties"]["type"]["const"] == event_type
