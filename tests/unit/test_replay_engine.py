"""`assetstream replay`'s engine across assets: transfers, pending at the end, bad lines."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from domain.ledger_types import Source
from streams.replay import ReplayEngine


def line(
    event_id: str, kind: str, data: dict[str, Any], time: str = "2025-01-01T00:00:00Z"
) -> bytes:
    envelope = {"specversion": "1.0", "id": event_id, "source": "test", "type": kind,
                "time": time, "data": data}  # fmt: skip
    return json.dumps(envelope).encode()


ORDER = line("o1", "order.fulfilled", {
    "order_id": "O1", "account_id": "ACC-A", "currency": "USD",
    "lines": [{"line_id": "1", "asset_id": "SRC", "product_code": "P", "quantity": "4",
               "unit_price": "120", "start_date": "2025-01-01", "end_date": "2026-01-01"}],
})  # fmt: skip
TRANSFER = line("t1", "asset.transferred", {
    "asset_id": "SRC", "effective_date": "2025-07-01", "quantity": "1",
    "target_account_id": "ACC-B",
})  # fmt: skip


def replay(*lines: bytes, as_of: str = "2025-08-01") -> ReplayEngine:
    engine = ReplayEngine(as_of=date.fromisoformat(as_of), source_name="events.jsonl")
    for number, raw in enumerate(lines, start=1):
        engine.feed(raw, number)
    engine.finish()
    return engine


def test_transfer_creates_the_target_asset_on_the_target_account() -> None:
    engine = replay(ORDER, TRANSFER)
    target = engine.snapshots["SRC/transfer/t1"]
    assert (target.account_id, target.current_quantity, target.current_mrr) == (
        "ACC-B",
        "1",
        "10.00",
    )
    assert target.billing_anchor_date == date(2025, 1, 1)
    assert engine.snapshots["SRC"].current_quantity == "3"
    source_total = engine.snapshots["SRC"].total_lifecycle_amount
    assert float(source_total) + float(target.total_lifecycle_amount) == 480.0


def test_transfer_arriving_before_its_source_order_still_lands() -> None:
    engine = replay(TRANSFER, ORDER)
    assert engine.snapshots["SRC/transfer/t1"].current_quantity == "1"
    assert engine.rejected == []


def test_events_still_pending_at_the_end_of_input_are_rejected_with_their_reason() -> None:
    data = {"asset_id": "NOPE", "effective_date": "2025-03-01", "quantity_change": "1"}
    upsell_nowhere = line("u1", "asset.quantity_changed", data)
    engine = replay(ORDER, upsell_nowhere)
    rejected = [
        (r.event_id, r.reason_code.value, r.source and r.source.offset) for r in engine.rejected
    ]
    assert rejected == [("u1", "unknown_asset", 2)]
    assert "NOPE" not in engine.snapshots


def test_a_bad_line_is_rejected_and_the_replay_goes_on() -> None:
    engine = replay(b"\xff\xfe not utf-8", ORDER)
    assert [r.reason_code.value for r in engine.rejected] == ["invalid_json"]
    assert engine.rejected[0].source is not None
    assert engine.rejected[0].source.payload_encoding == "base64"
    assert "SRC" in engine.snapshots


def test_lines_of_a_huge_order_carry_their_own_excerpt_not_the_whole_order() -> None:
    from schemas.decode import Decoded, decode
    from service.intake import FULL_PAYLOAD_LIMIT, deliveries_for

    lines = [{"line_id": str(i), "product_code": "P" * 300, "quantity": "1", "unit_price": "1",
              "start_date": "2025-01-01", "end_date": "2026-01-01"}
             for i in range(300)]  # fmt: skip
    order = line("big", "order.fulfilled", {"order_id": "O", "account_id": "A", "currency": "USD",
                                            "lines": lines})  # fmt: skip
    decoded = decode(order)
    assert isinstance(decoded, Decoded) and len(order) > FULL_PAYLOAD_LIMIT
    source = Source.from_bytes("orders.fulfilled", 0, 7, "O", order)
    deliveries = deliveries_for(decoded, source, datetime.now(UTC))
    assert len(deliveries) == 300
    excerpt = json.loads(deliveries[5].source.payload)  # type: ignore[union-attr]
    assert [item["line_id"] for item in excerpt["data"]["lines"]] == ["5"]
    assert deliveries[5].source.offset == 7  # type: ignore[union-attr]


def test_the_summary_s_heads_are_the_snapshots_without_their_rows() -> None:
    from dataclasses import replace

    engine = replay(ORDER, TRANSFER)
    heads, full = engine.headers(), engine.snapshots
    assert sorted(heads) == sorted(full) == ["SRC", "SRC/transfer/t1"]
    for asset_id, snapshot in full.items():
        rowless = replace(snapshot, state_periods=(), actions=(), pending_events=())
        assert heads[asset_id] == rowless
