"""The API's response models agree with the records' one declaration (issue 9).

- The snapshot: the OpenAPI document describes it with `schemas.outputs`'
  model itself, so it has every field of the exported JSON Schema.
- The account record: no wire model exists in `schemas/` yet, so the API's
  `AccountRecordModel` (extra fields forbidden) must accept exactly what
  `domain.accounts.record_to_dict` builds, and `CAPRICORN_ACCOUNT` (the
  fixture the read-side tests use) must be what the domain computes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.accounts import build_book, contribution_from_snapshot, record_to_dict, render
from schemas.outputs import AssetSnapshotModel
from streams.web import models
from streams.web.app import ApiConfig, create_app
from tests.support.snapshots import CAPRICORN, CAPRICORN_ACCOUNT, SECTION9_SNAPSHOTS

SNAPSHOT_SCHEMA = "schemas/json/asset-snapshot.schema.json"


def openapi() -> dict[str, Any]:
    app = create_app(
        ApiConfig(redis_url="redis://127.0.0.1:1/0", namespace="x:", snapshots_topic="x")
    )
    document: dict[str, Any] = app.openapi()
    return document


def component(document: dict[str, Any], path: str, status: str = "200") -> dict[str, Any]:
    content = document["paths"][path]["get"]["responses"][status]["content"]
    ref = content["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


def test_the_api_describes_the_snapshot_with_the_wire_model_itself() -> None:
    assert models.SnapshotModel is AssetSnapshotModel


def test_the_openapi_snapshot_has_every_field_of_the_exported_json_schema(repo_root: Any) -> None:
    exported = json.loads((repo_root / SNAPSHOT_SCHEMA).read_text())
    described = component(openapi(), "/assets/{asset_id}")
    assert set(described["properties"]) == set(exported["properties"])
    assert set(described.get("required", [])) == set(exported.get("required", []))


def test_the_state_s_period_is_the_wire_model_s_period() -> None:
    period = component(openapi(), "/assets/{asset_id}/state")["properties"]["period"]
    refs = [option.get("$ref", "") for option in period["anyOf"]]
    assert any(ref.endswith("/PeriodRecord") for ref in refs)


def domain_records(snapshots: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for snapshot in snapshots:
        by_account[snapshot["account_id"]].append(snapshot)
    records = []
    for account_id, members in sorted(by_account.items()):
        book = build_book(account_id, [contribution_from_snapshot(s) for s in members])
        record = render(book, as_of)
        assert record is not None
        records.append(record_to_dict(record, version=1))
    return records


def test_the_account_record_model_accepts_exactly_what_the_domain_publishes() -> None:
    records = domain_records([CAPRICORN, *SECTION9_SNAPSHOTS], date(2025, 10, 1))
    assert {r["account_id"] for r in records} >= {"ACC-CONTOSO", "ACC-FABRIKAM"}
    for record in records:
        parsed = models.AccountRecordModel.model_validate(record)
        assert parsed.model_dump(mode="json") == record


def test_the_account_record_model_refuses_fields_the_domain_does_not_publish() -> None:
    record = json.loads(json.dumps(CAPRICORN_ACCOUNT))
    record["currencies"][0]["movements"][0]["surprise"] = 1
    with pytest.raises(ValidationError):
        models.AccountRecordModel.model_validate(record)


def test_the_account_fixture_is_what_the_domain_computes_for_capricorn() -> None:
    [record] = domain_records([CAPRICORN], date.fromisoformat(CAPRICORN["as_of"]))
    assert record == {**CAPRICORN_ACCOUNT, "version": 1}
