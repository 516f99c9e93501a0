"""The demo events `make run` loads: valid, unique ids, and the expected replay as of 2026-11-26."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from schemas.decode import Decoded, decode
from streams.cli import main
from streams.demo import DEMO_ASSETS, EVENTS_PATH

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
    assert {"cross_sell", "upsell", "downsell", "renewal", "cancellation", "transfer"} <= categories
