"""Large assets, large orders, oversized messages and lost local state, on the real broker
(issue 8).

Each of these once stopped the worker or lost a message: a table row past the
producer's limit after ~700 seat changes (a crash loop), two 600 kB upsells,
an order's lines each carrying the whole order (a 100-line order lost), a dead
letter too large to send (lost). Each must now end applied, pending or
dead-lettered, equal to `assetstream replay`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kafka_io import produce_lines, produce_raw
from tests.integration.worker_stack import Stack, replay, settled, stack

__all__ = ["stack"]  # the fixture, re-exported for pytest

AS_OF = "2026-06-01"


def _event(event_id: str, kind: str, data: dict[str, Any], minute: int = 0) -> bytes:
    hours, mins = divmod(minute, 60)
    days, hours = divmod(hours, 24)
    stamp = date(2025, 1, 1) + timedelta(days=days)
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "test",
            "type": kind,
            "time": f"{stamp}T{hours:02d}:{mins:02d}:00Z",
            "data": data,
        }
    ).encode()


def _order(event_id: str, lines: list[dict[str, Any]], account: str = "ACC-BIG") -> bytes:
    return _event(
        event_id,
        "order.fulfilled",
        {"order_id": event_id, "account_id": account, "currency": "USD", "lines": lines},
    )


def _line(line_id: str, asset_id: str, quantity: int = 10) -> dict[str, Any]:
    return {"line_id": line_id, "asset_id": asset_id, "product_code": "SEATS",
            "product_name": "Seats", "quantity": str(quantity), "unit_price": "12.50",
            "price_term_months": 1, "start_date": "2025-01-01", "end_date": "2027-01-01",
            "renewal_term_months": 12}  # fmt: skip


def _seat_change(event_id: str, asset_id: str, day: date, change: int, minute: int) -> bytes:
    return _event(
        event_id,
        "asset.quantity_changed",
        {"asset_id": asset_id, "effective_date": day.isoformat(), "quantity_change": str(change)},
        minute,
    )


def test_a_thousand_seat_changes_on_one_asset_keep_the_worker_up_and_equal_replay(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    """~717 of these once pushed the table row past 1 MB: the worker crash-looped."""
    lines = [_order("o-seats", [_line("1", "AST-SEATS", quantity=500)])]
    day = date(2025, 1, 2)
    for n in range(1000):
        lines.append(_seat_change(f"s-{n}", "AST-SEATS", day, 1 if n % 3 else -1, n))
        if n % 2:
            day += timedelta(days=1)
    worker = stack.worker(as_of=AS_OF, store="rocksdb://")
    produce_lines(stack.bootstrap, stack.prefix, lines)
    expected = replay(lines, AS_OF, tmp_path / "replay")
    assert len(expected["AST-SEATS"]["actions"]) == 1001
    settled(stack, expected, wait_until, "the 1,001-action asset to equal replay")
    assert worker.alive() and stack.dead_letters() == []


def test_two_600_kb_upsells_are_applied(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    """Valid (SPEC allows 1 MiB), large because of a field the engine ignores."""
    padding = "x" * 600_000
    lines = [_order("o-pad", [_line("1", "AST-PAD")])]
    for n in range(2):
        lines.append(
            _event(
                f"pad-{n}",
                "asset.quantity_changed",
                {
                    "asset_id": "AST-PAD",
                    "effective_date": f"2025-0{n + 2}-01",
                    "quantity_change": "1",
                    "note": padding,
                },
                n + 1,
            )
        )
    worker = stack.worker(as_of=AS_OF, store="rocksdb://")
    produce_lines(stack.bootstrap, stack.prefix, lines)
    expected = replay(lines, AS_OF, tmp_path / "replay")
    settled(stack, expected, wait_until, "the padded upsells to be applied")
    assert stack.snapshots()["AST-PAD"]["current_quantity"] == "12"
    assert worker.alive() and stack.dead_letters() == []


def test_a_500_line_order_creates_all_its_assets(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    """Orders of ~61–407 lines were once lost: each line's command carried the whole order."""
    order = _order("o-500", [_line(str(n), f"AST-L{n:03d}") for n in range(1, 501)])
    assert 80_000 < len(order) < 1024 * 1024
    stack.worker(as_of=AS_OF)
    produce_lines(stack.bootstrap, stack.prefix, [order])
    expected = replay([order], AS_OF, tmp_path / "replay")
    assert len(expected) == 500
    settled(stack, expected, wait_until, "the 500 assets of one order")
    assert stack.dead_letters() == []


def test_an_invalid_message_too_large_to_dead_letter_whole_is_cut_down_not_lost(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    """Its dead letter (payload escaped in JSON) would not fit in a message: it is truncated."""
    stack.worker(
        as_of=AS_OF,
        extra={
            "ASSETSTREAM_MAX_MESSAGE_BYTES": str(1024 * 1024),
            "ASSETSTREAM_MAX_SNAPSHOT_BYTES": str(512 * 1024),
        },
    )
    # Not JSON, and every quote doubles in the dead letter's JSON: ~1.5 MB as a record.
    garbage = b'{"not json' + b'"' * 700_000
    produce_raw(stack.bootstrap, stack.prefix + "assets.amendments", [garbage], key=b"big")
    (letter,) = wait_until(
        lambda: stack.dead_letters(), timeout=60, what="the oversized message's dead letter"
    )
    assert letter["reason_code"] == "invalid_json" and letter["key"] == "big"
    assert letter["payload_truncated"] is True
    assert letter["payload_bytes"] == len(garbage)
    assert garbage.decode().startswith(letter["payload"]) and len(letter["payload"]) > 100_000


def test_a_snapshot_past_the_size_limit_is_published_cut_down_with_every_money_field(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    """The decision for an asset whose snapshot would still be too large: every period, then
    the newest actions that fit (billing needs the periods; actions are the history)."""
    lines = [_order("o-long", [_line("1", "AST-LONG", quantity=50)])]
    lines += [_seat_change(f"l-{n}", "AST-LONG", date(2025, 1, 2) + timedelta(days=n // 10), 1, n)
              for n in range(200)]  # fmt: skip
    stack.worker(as_of=AS_OF, extra={"ASSETSTREAM_MAX_SNAPSHOT_BYTES": "20000"})
    produce_lines(stack.bootstrap, stack.prefix, lines)
    full = replay(lines, AS_OF, tmp_path / "replay")["AST-LONG"]
    assert len(json.dumps(full)) > 20000

    def published() -> dict[str, Any] | None:
        snapshot = stack.snapshots().get("AST-LONG")
        actions = snapshot["actions"] if snapshot else []
        return snapshot if actions and actions[-1]["action_id"] == "l-199" else None

    cut = wait_until(published, timeout=90, what="the last action in the published snapshot")
    assert cut["truncated"] is True and cut["actions_omitted"] > 0
    assert len(cut["actions"]) + cut["actions_omitted"] == 201
    assert cut["actions"] == full["actions"][-len(cut["actions"]) :]
    for field in ("total_lifecycle_amount", "current_mrr", "current_quantity", "status",
                  "lifecycle_end_date"):  # fmt: skip
        assert cut[field] == full[field]
    assert cut["state_periods"] == full["state_periods"] and cut["state_periods_omitted"] == 0


@pytest.mark.slow
def test_a_restart_with_the_local_data_directory_deleted_recovers_from_the_changelog(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    from tests.support.generate_events import generate

    lines = [json.dumps(e).encode() for e in generate(assets=600, seed=23)]
    data_dir = tmp_path / "rocks"
    first = stack.worker(as_of=AS_OF, store="rocksdb://", data_dir=data_dir, name="worker-1")
    produce_lines(stack.bootstrap, stack.prefix, lines[: len(lines) // 2])
    wait_until(lambda: len(stack.snapshots()) > 300, timeout=120, what="half the assets")
    first.kill()
    shutil.rmtree(data_dir)  # state now lives only in the changelog topics
    stack.worker(
        as_of=AS_OF, store="rocksdb://", data_dir=data_dir, name="worker-2", ready_timeout=90
    )
    produce_lines(stack.bootstrap, stack.prefix, lines[len(lines) // 2 :])
    expected = replay(lines, AS_OF, tmp_path / "replay")
    settled(stack, expected, wait_until, "snapshots after a restart without local state")
    assert stack.dead_letters() == []


def test_one_event_id_on_two_assets_is_a_conflict_dead_lettered_once(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    """SPEC §3: the id is the idempotency key across assets, not per asset."""
    lines = [_order("o-a", [_line("1", "AST-A")]), _order("o-b", [_line("1", "AST-B")]),
             _seat_change("same-id", "AST-A", date(2025, 3, 1), 2, 1),
             _seat_change("same-id", "AST-B", date(2025, 3, 1), 5, 2)]  # fmt: skip
    stack.worker(as_of=AS_OF)
    produce_lines(stack.bootstrap, stack.prefix, lines[:3])
    wait_until(
        lambda: stack.snapshots().get("AST-A", {}).get("current_quantity") == "12",
        timeout=60,
        what="the first use of the id",
    )
    produce_lines(stack.bootstrap, stack.prefix, lines[3:])
    (letter,) = wait_until(lambda: stack.dead_letters(), timeout=60, what="the conflict")
    assert (letter["event_id"], letter["reason_code"]) == ("same-id", "duplicate_conflict")
    expected = replay(lines, AS_OF, tmp_path / "replay")
    settled(stack, expected, wait_until, "both assets to equal replay")
    assert stack.snapshots()["AST-B"]["current_quantity"] == "10"
