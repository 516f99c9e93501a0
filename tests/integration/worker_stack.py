"""A test's assetstream workers on the real broker, and the replay oracle they must match."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main as cli
from tests.integration.conftest import RunningProcess
from tests.integration.kafka_io import content, dead_letters, final_snapshots

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"
READY_TIMEOUT = 60.0
SETTLE_TIMEOUT = 180.0


def compare_module() -> Any:
    spec = importlib.util.spec_from_file_location("scenario_compare", SCENARIOS / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Stack:
    """One test's worker(s), topics and helpers."""

    def __init__(self, env: dict[str, str], prefix: str, bootstrap: str, tmp: Path,
                 start_process: Callable[..., RunningProcess]) -> None:  # fmt: skip
        self.env, self.prefix, self.bootstrap, self.tmp = env, prefix, bootstrap, tmp
        self._start = start_process
        self._ports = iter(range(20000 + random.randint(0, 20000), 65000))
        self.web_ports: dict[str, int] = {}

    def worker(self, *, as_of: str, grace: str = "24h", store: str = "memory://",
               name: str = "worker", data_dir: Path | None = None,
               ready_timeout: float = READY_TIMEOUT,
               extra: dict[str, str] | None = None) -> RunningProcess:  # fmt: skip
        env = {
            **self.env,
            "ASSETSTREAM_PARTITIONS": "4",
            "ASSETSTREAM_AS_OF": as_of,
            "ASSETSTREAM_PENDING_GRACE": grace,
            "ASSETSTREAM_STORE": store,
            "ASSETSTREAM_DATA_DIR": str(data_dir or self.tmp / name),
            "ASSETSTREAM_WEB_PORT": str(next(self._ports)),
            "ASSETSTREAM_TICK_SECONDS": "0.5",
            **(extra or {}),  # a test's own settings win
        }
        process = self._start(["python", "-m", "streams.cli", "worker", "--no-projection"],
                              env=env, name=name)  # fmt: skip
        process.wait_for_log("Worker ready", timeout=ready_timeout)
        self.web_ports[process.name] = int(env["ASSETSTREAM_WEB_PORT"])
        return process

    def metrics(self, process: RunningProcess) -> str:
        """The worker's Prometheus exposition (its /metrics page)."""
        import urllib.request

        url = f"http://127.0.0.1:{self.web_ports[process.name]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text: str = response.read().decode()
            return text

    def snapshots(self) -> dict[str, dict[str, Any]]:
        return final_snapshots(self.bootstrap, self.prefix + "assets.snapshots")

    def accounts(self) -> dict[str, dict[str, Any]]:
        """The latest account record per account (SPEC §10), tombstones applied."""
        return final_snapshots(self.bootstrap, self.prefix + "accounts.mrr")

    def dead_letters(self) -> list[dict[str, Any]]:
        return dead_letters(self.bootstrap, self.prefix + "assets.deadletter")


@pytest.fixture
def stack(stack_env: dict[str, str], topic_prefix: str, kafka_bootstrap: str, tmp_path: Path,
          start_process: Callable[..., RunningProcess]) -> Stack:  # fmt: skip
    return Stack(stack_env, topic_prefix, kafka_bootstrap, tmp_path, start_process)


def replay(lines: list[bytes], as_of: str, out: Path) -> dict[str, dict[str, Any]]:
    events = out / "events.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    events.write_bytes(b"\n".join(lines) + b"\n")
    with contextlib.redirect_stdout(io.StringIO()):
        assert (
            cli(["replay", str(events), "--as-of", as_of, "--out", str(out), "--no-progress"]) == 0
        )
    return {
        s["asset_id"]: s
        for s in map(json.loads, (out / "snapshots.jsonl").read_text().splitlines())
    }


def replayed_accounts(out: Path) -> dict[str, dict[str, Any]]:
    """The account records a `replay` into `out` wrote (SPEC §10), by account id."""
    path = out / "accounts.jsonl"
    return {r["account_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def settled(stack: Stack, expected: dict[str, dict[str, Any]], wait_until: Callable[..., Any],
            what: str, accounts: dict[str, dict[str, Any]] | None = None,
            ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Wait until Kafka's final snapshots (and account records, when given) equal replay's
    (content, not versions)."""
    want = {k: content(v) for k, v in expected.items()}
    want_accounts = {k: content(v) for k, v in (accounts or {}).items()}
    seen: dict[str, dict[str, Any]] = {}

    def matches() -> bool:
        seen["assets"] = {k: content(v) for k, v in stack.snapshots().items()}
        if seen["assets"] != want:
            return False
        if accounts is None:
            return True
        seen["accounts"] = {k: content(v) for k, v in stack.accounts().items()}
        return seen["accounts"] == want_accounts

    try:
        wait_until(matches, timeout=SETTLE_TIMEOUT, what=what, interval=2.0)
    except AssertionError:
        for kind, wanted in (("assets", want), ("accounts", want_accounts)):
            got = seen.get(kind, {})
            wrong = sorted(k for k in set(wanted) | set(got) if wanted.get(k) != got.get(k))
            if wrong:
                raise AssertionError(f"{what}: {len(wrong)} {kind} differ, e.g. {wrong[:5]}"
                                     ) from None  # fmt: skip
        raise
    return stack.snapshots()
