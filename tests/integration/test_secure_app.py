"""Every assetstream command over SASL/SCRAM-SHA-512 on TLS, against a broker our scripts set up.

The broker (scripts/kafka.sh secure) speaks only SASL_SSL, with a CA made by the
script (issue 12). The worker, produce, inspect, status and the projection all
connect with the KAFKA_* variables; a wrong password is a clear start-up error
from each, within seconds, never a hang.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.integration.cluster import secure_kafka_fixture  # noqa: F401  (fixture by name)
from tests.integration.conftest import RunningProcess
from tests.integration.worker_stack import SCENARIOS, Stack

REPO = Path(__file__).resolve().parents[2]
EVENTS = SCENARIOS / "capricorn-upsell.events.jsonl"


def _cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.mark.slow
def test_worker_produce_inspect_status_and_projection_work_over_sasl_ssl(
    secure_kafka: dict[str, str],
    stack_env: dict[str, str],
    topic_prefix: str,
    tmp_path: Path,
    start_process: Callable[..., RunningProcess],
    wait_until: Callable[..., Any],
    redis_url: str,
) -> None:
    env = {**stack_env, **secure_kafka}
    stack = Stack(env, topic_prefix, secure_kafka["KAFKA_BOOTSTRAP_SERVERS"], tmp_path,
                  start_process)  # fmt: skip
    stack.worker(as_of="2026-03-01")
    produced = _cli(env, "produce", str(EVENTS))
    assert produced.returncode == 0, produced.stderr

    def shown() -> str | None:
        result = _cli(env, "inspect", "assets.snapshots", "--from-beginning", "--max", "2",
                      "--json", timeout=30)  # fmt: skip
        return result.stdout if '"version": 2' in result.stdout or '"version":2' in result.stdout \
            else None  # fmt: skip

    text = wait_until(shown, timeout=90, what="the upsell's snapshot, read with inspect")
    assert "AST-QBO-CAPRICORN" in text and "33.33" in text
    status = _cli(env, "status", "--timeout", "20")
    assert status.returncode == 0, status.stderr
    assert "assets.snapshots" in status.stdout
    start_process(["python", "-m", "streams.cli", "project"], env=env, name="projection")
    client = redis.Redis.from_url(redis_url)
    wait_until(lambda: any(b"AST-QBO-CAPRICORN" in key for key in
                           client.scan_iter(match=f"*{topic_prefix}*AST-QBO-CAPRICORN*")),
               timeout=90, what="the projection to write the asset into Redis")  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["worker", "--no-projection"],
        ["produce", str(EVENTS)],
        ["inspect", "assets.snapshots"],
        ["status"],
        ["project"],
    ],
)
def test_a_wrong_password_stops_each_command_at_once_with_a_clear_error(
    secure_kafka: dict[str, str], stack_env: dict[str, str], command: list[str]
) -> None:
    env = {**stack_env, **secure_kafka, "KAFKA_SASL_PASSWORD": "not-the-password"}
    result = _cli(env, *command, timeout=45)
    assert result.returncode != 0
    assert "authentication" in result.stderr.lower(), result.stderr[-2000:]
    assert "not-the-password" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
