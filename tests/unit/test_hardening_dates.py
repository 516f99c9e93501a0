"""Dates and month counts are bounded at decode, so the fold never passes year 9999 (issue 12).

Found in review: an end date in December 9999, or a renewal whose default end (start +
renewal_term_months, else 12) passes 9999, crashed the fold with `ValueError: year
10000 is out of range`. Dates are now 1900-01-01..9000-12-31 and month counts
1..1200, so the latest date the fold computes is 9100-12-31 (plus one month while
counting months in it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from schemas.decode import Decoded, Rejection, decode
from schemas.export import JSON_DIR
from schemas.types import MAX_DATE, MAX_MONTHS, MIN_DATE

REPO = Path(__file__).resolve().parents[2]

LINE: dict[str, Any] = {
    "line_id": "1", "asset_id": "AST-1", "product_code": "QBO", "quantity": "5",
    "unit_price": "49.99", "start_date": "2025-08-10", "end_date": "2026-08-10",
}  # fmt: skip


def event(kind: str, event_id: str, **data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": "s", "type": kind,
            "time": "2025-08-10T15:00:00Z", "data": data}  # fmt: skip


def order(event_id: str, **line: Any) -> dict[str, Any]:
    return event("order.fulfilled", event_id, order_id=f"O-{event_id}", account_id="ACC",
                 currency="USD", lines=[{**LINE, **line}])  # fmt: skip


def decoded(document: dict[str, Any]) -> Decoded | Rejection:
    return decode(json.dumps(document).encode())


# Every date field of every event type, with the path a rejection must name.
DATE_FIELDS: list[tuple[str, Any]] = [
    ("data.lines[0].start_date", lambda d: order("e", start_date=d, end_date="9000-12-31")),
    ("data.lines[0].end_date", lambda d: order("e", start_date="1900-01-01", end_date=d)),
    ("data.effective_date", lambda d: event("asset.quantity_changed", "e", asset_id="A",
                                            effective_date=d, quantity_change="1")),
    ("data.start_date", lambda d: event("asset.renewed", "e", asset_id="A", start_date=d)),
    ("data.end_date", lambda d: event("asset.renewed", "e", asset_id="A",
                                      start_date="1900-01-01", end_date=d)),
    ("data.effective_date", lambda d: event("asset.cancelled", "e", asset_id="A",
                                            effective_date=d)),
    ("data.effective_date", lambda d: event("asset.transferred", "e", asset_id="A",
                                            effective_date=d, quantity="1",
                                            target_account_id="B")),
]  # fmt: skip


@pytest.mark.parametrize(("path", "build"), DATE_FIELDS)
@pytest.mark.parametrize(
    "day", ["9999-12-31", "9999-12-01", "9001-01-01", "1899-12-31", "0001-01-01"]
)
def test_a_date_outside_1900_to_9000_is_a_schema_violation_naming_the_field(
    path: str, build: Any, day: str
) -> None:
    result = decoded(build(day))
    assert isinstance(result, Rejection)
    assert result.reason_code == "schema_violation"
    assert (
        f"{path}: {day} is out of range: dates are from 1900-01-01 to 9000-12-31" in result.reason
    )


@pytest.mark.parametrize(
    "document",
    [
        order("e", start_date=MIN_DATE.isoformat(), end_date="1900-01-02"),
        order("e", start_date="9000-12-30", end_date=MAX_DATE.isoformat()),
        *(
            event(kind, "e", asset_id="A", effective_date=day, quantity="1",
                  quantity_change="1", target_account_id="B")
            for kind in ("asset.quantity_changed", "asset.cancelled", "asset.transferred")
            for day in (MIN_DATE.isoformat(), MAX_DATE.isoformat())
        ),
        event("asset.renewed", "e", asset_id="A", start_date=MIN_DATE.isoformat()),
        event("asset.renewed", "e", asset_id="A", start_date="1900-01-01",
              end_date=MAX_DATE.isoformat()),
    ],
)  # fmt: skip
def test_the_first_and_last_allowed_dates_pass_decoding(document: dict[str, Any]) -> None:
    result = decoded(document)
    assert isinstance(result, Decoded), result


@pytest.mark.parametrize("field", ["price_term_months", "renewal_term_months"])
def test_month_counts_stop_at_1200_with_the_field_named(field: str) -> None:
    assert isinstance(decoded(order("e", **{field: MAX_MONTHS})), Decoded)
    result = decoded(order("e", **{field: MAX_MONTHS + 1}))
    assert isinstance(result, Rejection) and result.reason_code == "schema_violation"
    assert result.reason.startswith(f"data.lines[0].{field}:")


def test_the_json_schemas_state_the_same_date_bounds_as_the_decoder() -> None:
    date_fields = []
    for path in sorted(JSON_DIR.glob("*.schema.json")):
        if path.name.startswith(("asset-snapshot", "dead-letter")):
            continue
        text = path.read_text(encoding="utf-8")
        date_fields += [
            (path.name, field)
            for field in _subschemas(json.loads(text))
            if field.get("format") == "date"
        ]
    assert len(date_fields) >= 7  # every date field of the five event types
    for name, field in date_fields:
        pattern = re.compile(field["pattern"])
        for day in ("1900-01-01", "2026-02-28", "9000-12-31"):
            assert pattern.search(day), (name, day)
        for day in ("1899-12-31", "9001-01-01", "9999-12-31"):
            assert not pattern.search(day), (name, day)
        assert "from 1900-01-01 to 9000-12-31" in field["description"]


def _subschemas(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            found += _subschemas(value)
    return found


# --- end to end through `assetstream replay` ------------------------------------------


def replay(
    tmp_path: Path, documents: list[dict[str, Any]], as_of: str
) -> subprocess.CompletedProcess[str]:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(events), "--as-of", as_of,
         "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_replay_of_the_extreme_dates_applies_the_allowed_ones_and_rejects_the_rest(
    tmp_path: Path,
) -> None:
    documents = [
        # The latest lifecycle the bounds allow: start 9000, a 100-year renewal by default.
        order("late", asset_id="LATE", quantity="2", start_date="9000-01-31", end_date="9000-12-31",
              renewal_term_months=1200, price_term_months=1200),
        event("asset.renewed", "late-renewal", asset_id="LATE", start_date="9000-12-31"),
        event("asset.quantity_changed", "late-upsell", asset_id="LATE",
              effective_date="9000-12-30", quantity_change="1"),
        order("early", asset_id="EARLY", quantity="1", unit_price="12", start_date="1900-01-01",
              end_date="1900-02-01"),
        # What crashed the fold before: an end in December 9999, a renewal ending past 9999.
        order("dec-9999", asset_id="DEC", start_date="9999-01-01", end_date="9999-12-15"),
        order("long-term", asset_id="LONG", start_date="8000-01-01", end_date="8999-06-01",
              renewal_term_months=1201),
        event("asset.renewed", "past-9999", asset_id="LATE", start_date="9100-12-31"),
    ]  # fmt: skip
    result = replay(tmp_path, documents, as_of="9000-12-31")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    snapshots = {s["asset_id"]: s for s in read_jsonl(tmp_path / "out" / "snapshots.jsonl")}
    assert sorted(snapshots) == ["EARLY", "LATE"]
    late = snapshots["LATE"]
    assert (late["lifecycle_start_date"], late["lifecycle_end_date"]) == (
        "9000-01-31",
        "9100-12-31",
    )
    assert (late["status"], late["current_quantity"]) == ("active", "3")
    assert [a["category"] for a in late["actions"]] == ["initial_sale", "upsell", "renewal"]
    assert snapshots["EARLY"]["total_lifecycle_amount"] == "1.00"  # 12.00 a year, one month
    rejected = {r["event_id"]: r for r in read_jsonl(tmp_path / "out" / "rejected.jsonl")}
    assert {k: r["reason_code"] for k, r in rejected.items()} == {
        "dec-9999": "schema_violation",
        "long-term": "schema_violation",
        "past-9999": "schema_violation",
    }
    assert rejected["dec-9999"]["reason"].startswith("data.lines[0].start_date: 9999-01-01 is out")
    assert "data.lines[0].end_date: 9999-12-15 is out of range" in rejected["dec-9999"]["reason"]
    assert rejected["long-term"]["reason"].startswith("data.lines[0].renewal_term_months:")
    assert rejected["past-9999"]["reason"].startswith("data.start_date: 9100-12-31 is out of range")


@pytest.mark.parametrize("as_of", ["9999-12-31", "9001-01-01", "1899-12-31"])
def test_replay_refuses_an_as_of_outside_the_date_range_without_a_traceback(
    tmp_path: Path, as_of: str
) -> None:
    result = replay(tmp_path, [order("e")], as_of=as_of)
    assert result.returncode == 2
    assert f"--as-of: {as_of} is out of range (1900-01-01 to 9000-12-31)" in result.stderr
    assert "Traceback" not in result.stderr
