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
