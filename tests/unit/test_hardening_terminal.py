"""What the CLI prints cannot drive the terminal (issue 12).

Found in review: ids carrying escape sequences were printed raw by `replay`'s summary
and by `inspect`, so an event could recolour, erase or retitle an operator's terminal.
Control characters (C0, DEL, C1) are now shown as escapes; other Unicode is kept.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.commands.inspect import render, render_json
from streams.terminal import printable, printable_json

REPO = Path(__file__).resolve().parents[2]

# A title rewrite (OSC … BEL), "clear screen" (ESC [2J), a C1 CSI, DEL, a carriage return.
HOSTILE = "AST-\x1b]0;pwned\x07-\x1b[2J-\x9b31m-\x7f-\r-end"
SHOWN = "AST-\\x1b]0;pwned\\x07-\\x1b[2J-\\x9b31m-\\x7f-\\r-end"


def control_characters(text: str) -> list[str]:
    """Every C0 (except the newlines between lines), DEL and C1 character in `text`."""
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (HOSTILE, SHOWN),
        ("\x00\x1f\x80\x9f", "\\x00\\x1f\\x80\\x9f"),
        ("line\nnext\ttab", "line\\nnext\\ttab"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    ],
)
def test_control_characters_are_shown_as_escapes(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(shown) == shown  # escaping twice changes nothing


@pytest.mark.parametrize(
    "text", ["Café Crème", "東京-資産", "Ωmega ☕ 😀", "شركة", "a\\x1b literal"]
)
def test_ordinary_unicode_and_backslashes_are_kept(text: str) -> None:
    assert printable(text) == text


def test_json_lines_keep_their_values_and_lose_their_control_characters() -> None:
    value = {"key": HOSTILE, "nested": ["\x9b", "é", "\ud800"]}
    line = printable_json(json.dumps(value, ensure_ascii=False))
    assert control_characters(line) == []
    assert json.loads(line) == value


# --- inspect ---------------------------------------------------------------------------


@dataclass
class FakeRecord:
    """The fields of an aiokafka ConsumerRecord that inspect prints."""

    value: bytes | None
    key: bytes | None = HOSTILE.encode()
    topic: str = "assets.snapshots"
    partition: int = 0
    offset: int = 7
    timestamp: int = 1_767_225_600_000
    headers: list[tuple[str, bytes]] = field(
        default_factory=lambda: [(f"h{HOSTILE}", HOSTILE.encode())]
    )


SNAPSHOT: dict[str, Any] = {
    "asset_id": HOSTILE, "account_id": "ACC-\x1b[31m", "currency": "USD", "version": 1,
    "as_of": "2026-01-01", "status": "active", "current_quantity": "5", "current_mrr": "20.83",
    "lifecycle_start_date": "2025-08-10", "lifecycle_end_date": "2026-08-10",
    "total_lifecycle_amount": "249.95", "product_code": "QBO\x9b", "product_name": "Café",
    "state_periods": [{"start_date": "2025-08-10", "end_date": "2026-08-10", "quantity": "5",
                       "mrr": "20.83", "amount": "249.95"}],
    "actions": [{"action_id": f"{HOSTILE}/1", "category": "initial_sale", "subtype": None,
                 "effective_date": "2025-08-10", "quantity_change": "5", "mrr_change": "20.83",
                 "amount_change": "249.95"}],
    "pending_events": [{"event_id": HOSTILE, "reason_code": "outside_lifecycle"}],
}  # fmt: skip
DEAD_LETTER: dict[str, Any] = {
    "event_id": HOSTILE, "reason_code": "schema_violation", "reason": f"id {HOSTILE}",
    "source_topic": "orders.fulfilled", "source_partition": 0, "source_offset": 3,
    "key": HOSTILE, "payload": f'{{"id": "{HOSTILE}"}}', "dead_lettered_at": "2026-01-01T00:00:00Z",
}  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        json.dumps(SNAPSHOT, ensure_ascii=False).encode(),
        json.dumps(DEAD_LETTER, ensure_ascii=False).encode(),
        json.dumps({"other": HOSTILE, "\x9bkey": 1}, ensure_ascii=False).encode(),
        HOSTILE.encode(),  # plain text
        b'{"id": "\\ud800 lone"}',  # JSON with a lone surrogate: unprintable as it is
        None,
    ],
    ids=["snapshot", "dead letter", "other json", "text", "lone surrogate", "tombstone"],
)
def test_inspect_shows_hostile_keys_headers_and_values_escaped(value: bytes | None) -> None:
    record = FakeRecord(value)
    shown = render(record)
    assert control_characters(shown) == []
    assert SHOWN in shown  # the key, at least, is there to read
    shown.encode("utf-8")  # printable: no lone surrogate left
    line = render_json(record)
    assert control_characters(line) == [] and "\n" not in line
    assert json.loads(line)["key"] == HOSTILE


def test_inspect_keeps_snapshot_tables_aligned_when_cells_are_escaped() -> None:
    lines = render(FakeRecord(json.dumps(SNAPSHOT).encode())).splitlines()
    header = next(i for i, line in enumerate(lines) if "event id" in line and "reason" in line)
    column = lines[header].index("reason")
    assert lines[header + 1].index("outside_lifecycle") == column
    assert "Café" in "\n".join(lines)


# --- replay ------------------------------------------------------------------------------


def test_replay_summary_shows_a_hostile_asset_id_escaped(tmp_path: Path) -> None:
    event = {
        "specversion": "1.0", "id": "evt-1", "source": "s", "type": "order.fulfilled",
        "time": "2025-08-10T15:00:00Z",
        "data": {"order_id": "O-1", "account_id": "ACC", "currency": "USD", "lines": [
            {"line_id": "1", "asset_id": HOSTILE, "product_code": "QBO", "quantity": "5",
             "unit_price": "49.99", "start_date": "2025-08-10", "end_date": "2026-08-10"}]},
    }  # fmt: skip
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(event) + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(events), "--as-of", "2026-01-01",
         "--out", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert control_characters(result.stdout) == []
    assert f"  {SHOWN}" in result.stdout
    # The file keeps the true id: escaping is for the terminal only.
    (snapshot,) = (tmp_path / "out" / "snapshots.jsonl").read_text().splitlines()
    assert json.loads(snapshot)["asset_id"] == HOSTILE
