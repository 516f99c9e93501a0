"""`assetstream produce` against the real broker: right topic and key, refusals reported."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.integration.kafka_io import _read_all

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"


def _produce(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", "produce", *args], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip


def test_valid_lines_go_to_their_topic_with_their_key_and_invalid_ones_are_reported(
    stack_env: dict[str, str], kafka_bootstrap: str, topic_prefix: str
) -> None:
    result = _produce(stack_env, str(SCENARIOS / "bad-input.events.jsonl"))
    assert result.returncode == 1
    assert "line 3 (bad-2): refused, unknown_type" in result.stderr
    assert "refused 4 invalid line(s)" in result.stderr
    orders = asyncio.run(_read_all(kafka_bootstrap, topic_prefix + "orders.fulfilled"))
    amendments = asyncio.run(_read_all(kafka_bootstrap, topic_prefix + "assets.amendments"))
    assert sorted(r.key for r in orders) == [b"G1", b"G1"]  # order_id, the duplicate too
    assert sorted(r.key for r in amendments) == [b"AST-G", b"AST-NOWHERE"]  # asset_id


def test_a_2_mib_raw_line_gets_the_brokers_refusal_as_a_clear_error(
    stack_env: dict[str, str], tmp_path: Path, topic_prefix: str
) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}\n' + b"{}\n")
    result = _produce(stack_env, "--raw", "--topic", "assets.amendments", str(big))
    assert result.returncode == 1
    assert "line 1: the broker refused it" in result.stderr
    assert "MessageSizeTooLarge" in result.stderr
    assert f"sent 1 to {topic_prefix}assets.amendments" in result.stdout  # the next line went


ORDER_LINE = (
    '{"specversion":"1.0","id":"__ID__","source":"s","type":"order.fulfilled",'
    '"time":"2025-08-10T15:00:00Z","x-extension":__X__,"data":{"order_id":"O-1",'
    '"account_id":"ACC","currency":"USD","lines":[{"line_id":"1","product_code":"QBO",'
    '"quantity":"5","unit_price":"49.99","start_date":"2025-08-10","end_date":"__END__"}]}}'
)


def _order(event_id: str, extension: str = "null", end: str = "2026-08-10") -> str:
    return (
        ORDER_LINE.replace("__ID__", event_id).replace("__X__", extension).replace("__END__", end)
    )


def test_adversarial_lines_are_refused_with_a_reason_and_the_good_ones_still_sent(
    stack_env: dict[str, str], kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    # Each of these crashed produce with a traceback before anything was sent (issue 12).
    lines = [
        _order("huge-exponent", extension="1e10000000000000000000"),
        _order("deep-surrogate", extension="[" * 991 + '"\\ud800"' + "]" * 991),
        _order("year-9999", end="9999-12-15"),
        # An id that is a terminal escape sequence, on a line that is refused: it is printed.
        _order("evt-\\u001b]0;pwned\\u0007-\\u009b31m", end="2025-01-01"),
        _order("good-1"),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _produce(stack_env, str(events))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "line 1 (no id): refused, invalid_json: the JSON number 1e1000" in result.stderr
    assert "line 2 (no id): refused, invalid_json: JSON nested deeper than 64" in result.stderr
    assert "line 3 (year-9999): refused, schema_violation: data.lines[0].end_date:" in result.stderr
    assert "line 4 (evt-\\x1b]0;pwned\\x07-\\x9b31m): refused, schema_violation" in result.stderr
    assert "refused 4 invalid line(s)" in result.stderr
    assert f"sent 1 to {topic_prefix}orders.fulfilled" in result.stdout
    assert not [c for c in result.stdout + result.stderr if ord(c) < 0x20 and c != "\n"]
    assert not [c for c in result.stdout + result.stderr if 0x7F <= ord(c) <= 0x9F]
    orders = asyncio.run(_read_all(kafka_bootstrap, topic_prefix + "orders.fulfilled"))
    assert [r.key for r in orders] == [b"O-1"]  # good-1 only
