"""The demo events `make run` loads: valid, unique ids, and the expected replay as of 2026-11-26."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from schemas.decode import Decoded, decode
from streams.cli import main
from streams.demo import DEMO_ASSETS, EVENTS_PATH, SECTION_9_ASSETS

AS_OF = "2026-11-26"


def _lines() -> list[bytes]:
    return [line for line in EVENTS_PATH.read_bytes().splitlines() if line.strip()]


def _replay(tmp_path: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["replay", str(EVENTS_PATH), "--as-of", AS_OF, "--out", str(tmp_path)])
    assert status == 0
    snapshots = [
        json.loads(line) for line in (tmp_path / "snapshots.jsonl").read_text().splitlines()
    ]
    rejected = (tmp_path / "rejected.jsonl").read_text().splitlines()
    return {s["asset_id"]: s for s in snapshots}, rejected


def test_every_demo_line_decodes_to_a_valid_event() -> None:
    lines = _lines()
    assert len(lines) >= 10
    decoded = [decode(line) for line in lines]
    bad = [(n, d) for n, d in enumerate(decoded, start=1) if not isinstance(d, Decoded)]
    assert bad == []


def test_demo_event_ids_are_unique_and_stable() -> None:
    ids = [json.loads(line)["id"] for line in _lines()]
    assert len(ids) == len(set(ids))
    assert ids[:3] == ["evt-capricorn-0001", "evt-capricorn-0002", "evt-capricorn-0003"]


def test_replaying_the_demo_gives_the_capricorn_asset_and_no_rejections(tmp_path: Path) -> None:
    snapshots, rejected = _replay(tmp_path)
    assert rejected == []
    capricorn = snapshots["AST-QBO-CAPRICORN"]
    assert capricorn["account_id"] == "ACC-CAPRICORN"
    assert capricorn["total_lifecycle_amount"] == "728.48"
    assert (capricorn["status"], capricorn["current_quantity"]) == ("active", "8")
    assert capricorn["current_mrr"] == "33.33"
    assert [a["action_id"] for a in capricorn["actions"]] == [
        "evt-capricorn-0001/1",
        "evt-capricorn-0002",
        "evt-capricorn-0003",
    ]
    assert capricorn["state_periods"][0]["mrr"] == "20.83"


def test_the_demo_assets_are_the_documented_ones_with_varied_statuses(tmp_path: Path) -> None:
    snapshots, _ = _replay(tmp_path)
    assert {a: s["account_id"] for a, s in snapshots.items()} == DEMO_ASSETS
    assert all(s["pending_events"] == [] for s in snapshots.values())
    statuses = {s["status"] for s in snapshots.values()}
    assert {"active", "scheduled", "expired", "cancelled"} <= statuses
    categories = {a["category"] for s in snapshots.values() for a in s["actions"]}
    assert {"cross_sell", "upsell", "downsell", "renewal", "cancellation", "transfer",
            "price_change", "upgrade"} <= categories  # fmt: skip


def test_the_tailspin_account_shows_section_9(tmp_path: Path) -> None:
    snapshots, _ = _replay(tmp_path)
    assert set(SECTION_9_ASSETS.values()) <= set(snapshots)
    crm = snapshots["AST-CRM-TAILSPIN"]
    assert [(a["category"], a["subtype"]) for a in crm["actions"]] == [
        ("initial_sale", None), ("price_change", None), ("upsell", None),
        ("upgrade", "upgrade_from"),
    ]  # fmt: skip
    mistake = {"event_id": "evt-tailspin-0003", "voided_by": "evt-tailspin-0004",
               "reason": "ORD-6003 entered 50 seats instead of 5"}  # fmt: skip
    assert crm["voided_events"] == [mistake]
    assert (crm["current_quantity"], crm["current_mrr"]) == ("20", "630.00")
    assert crm["actions"][-1]["related_asset_id"] == "AST-CRM-ENT-TAILSPIN"
    enterprise = snapshots["AST-CRM-ENT-TAILSPIN"]
    assert (enterprise["product_code"], enterprise["current_mrr"]) == ("CRM-ENT", "300.00")
    assert enterprise["actions"][0]["related_asset_id"] == "AST-CRM-TAILSPIN"
    help_desk = snapshots["AST-HELP-TAILSPIN"]
    assert (help_desk["auto_renew"], help_desk["next_renewal_date"]) == (True, "2026-12-01")
    renewals = [a for a in help_desk["actions"] if a["subtype"] == "auto_renewal"]
    assert [a["effective_date"] for a in renewals] == [
        "2026-07-01", "2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01",
    ]  # fmt: skip
