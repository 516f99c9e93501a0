"""`assetstream inspect`'s readable views of §9 snapshots and §10 account records."""

from __future__ import annotations

import json
from typing import Any

from streams.commands.inspect import render_value
from tests.support.snapshots import (
    CAPRICORN,
    CAPRICORN_ACCOUNT,
    FAB_PRIORITY,
    NORTHWIND_REPRICED,
    PHONE_SWAP_TARGET,
    PHONE_SWAPPED,
    SWAP_TARGET_ID,
)


def view(record: dict[str, Any]) -> list[str]:
    return [line.rstrip() for line in render_value(json.dumps(record).encode())]


def row(lines: list[str], first: str) -> list[str]:
    """The cells of the table row that starts with `first`."""
    return next(line.split() for line in lines if line.strip().startswith(first))


def test_an_account_record_shows_each_currency_s_figures_timeline_and_movements() -> None:
    eur = {
        "currency": "EUR", "current_mrr": "0.00", "current_arr": "0.00", "active_assets": 0,
        "mrr_timeline": [], "movements": [],
    }  # fmt: skip
    record = {**CAPRICORN_ACCOUNT, "currencies": [eur, *CAPRICORN_ACCOUNT["currencies"]]}
    lines = view(record)
    assert lines[0] == "ACCOUNT ACC-CAPRICORN   version 2   as of 2026-03-01"
    assert "EUR  current MRR 0.00   ARR 0.00   active assets 0" in lines
    assert "USD  current MRR 33.33   ARR 399.96   active assets 1" in lines
    assert row(lines, "2025-08-10  2026-02-01") == ["2025-08-10", "2026-02-01", "20.83"]
    assert row(lines, "2026-08-10  (open)") == ["2026-08-10", "(open)", "0.00"]
    assert row(lines, "2025-08-10  new_business") == [
        "2025-08-10", "new_business", "0.00", "20.83", "+20.83",
    ]  # fmt: skip
    assert row(lines, "2026-08-10  churn")[-2:] == ["-33.33", "scheduled"]
    assert row(lines, "2026-02-01  expansion")[-1] == "+12.50"  # not scheduled: no marker


def test_a_swap_shows_what_ended_it_and_the_asset_on_the_other_side() -> None:
    source = view(PHONE_SWAPPED)
    assert "renewal    auto-renew no   next renewal -   ended by swap" in source
    assert row(source, "2025-09-15  swap/swap_out")[-1] == SWAP_TARGET_ID
    target = view(PHONE_SWAP_TARGET)
    assert row(target, "2025-09-15  swap/swap_in")[-1] == "AST-CTO-PHONE"


def test_voided_events_and_auto_renewal_are_shown() -> None:
    lines = view(NORTHWIND_REPRICED)
    voided = next(line.strip() for line in lines if line.strip().startswith("nw-0002"))
    assert voided == "nw-0002   nw-0003    order NW-1002 was entered in error"
    assert row(lines, "nw-0006") == ["nw-0006", "nw-0007", "-"]
    assert row(lines, "2025-06-16  price_change")[:2] == ["2025-06-16", "price_change"]
    renewing = view(FAB_PRIORITY)
    assert "renewal    auto-renew yes   next renewal 2026-01-01   ended by -" in renewing
    assert "voided events: none" in renewing


def test_a_snapshot_from_before_section_9_shows_no_renewal_line() -> None:
    lines = view(CAPRICORN)
    assert not any(line.startswith("renewal") for line in lines)
    assert not any(line.startswith("voided") for line in lines)
    assert "related asset" not in " ".join(lines)


def test_an_account_id_cannot_drive_the_terminal() -> None:
    lines = view({**CAPRICORN_ACCOUNT, "account_id": "ACC-\x1b[31mRED"})
    assert "\x1b" not in lines[0] and "\\x1b" in lines[0]


def test_a_waiting_pending_event_says_its_grace_has_not_started() -> None:
    waiting = {
        "event_id": "fab-0009", "action_id": "fab-0009", "type": "asset.quantity_changed",
        "effective_date": "2026-02-01", "reason_code": "outside_lifecycle", "reason": "after end",
        "waiting": True,
    }  # fmt: skip
    running = {**waiting, "event_id": "fab-0010", "waiting": False}
    lines = view({**FAB_PRIORITY, "pending_events": [waiting, running]})
    assert " ".join(row(lines, "fab-0009")) == "fab-0009 outside_lifecycle waiting for the renewal"
    assert row(lines, "fab-0010") == ["fab-0010", "outside_lifecycle"]
