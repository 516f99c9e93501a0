"""The stream processor end to end against the real broker (SPEC §5–§7, issue 4)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kafka_io import _read_all, produce_lines, produce_raw, write_outputs
from tests.integration.worker_stack import (
    READY_TIMEOUT,
    SCENARIOS,
    SETTLE_TIMEOUT,
    Stack,
    compare_module,
    replay,
    replayed_accounts,
    settled,
    stack,
)
from tests.support.generate_events import generate

__all__ = ["stack"]  # the fixture, re-exported for pytest
CRASH_AFTER_ASSETS = 400


@pytest.mark.parametrize("name", sorted(p.name.removesuffix(".events.jsonl")
                                        for p in SCENARIOS.glob("*.events.jsonl")))  # fmt: skip
def test_golden_scenario_through_kafka_matches_expected(
    name: str, stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    expected_path = SCENARIOS / f"{name}.expected.json"
    expected = json.loads(expected_path.read_text())
    stack.worker(as_of=expected["as_of"], grace="2s")
    lines = [
        line
        for line in (SCENARIOS / f"{name}.events.jsonl").read_bytes().splitlines()
        if line.strip()
    ]
    produce_lines(stack.bootstrap, stack.prefix, lines)
    compare = compare_module()

    def judged() -> bool:
        write_outputs(tmp_path / "out", stack.snapshots(), stack.dead_letters(), stack.accounts())
        with contextlib.redirect_stdout(io.StringIO()):
            return bool(compare.main(str(tmp_path / "out"), str(expected_path)) == 0)

    try:
        wait_until(judged, timeout=90, what=f"scenario {name} to match", interval=1.0)
    except AssertionError:
        report = io.StringIO()
        with contextlib.redirect_stdout(report):
            compare.main(str(tmp_path / "out"), str(expected_path))
        raise AssertionError(report.getvalue()) from None


def test_kafka_and_replay_agree_even_when_the_worker_is_killed_mid_stream(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    lines = [json.dumps(e).encode() for e in generate(assets=2000, seed=11)]
    assert len(lines) >= 10_000
    as_of = "2026-06-01"

    data_dir = tmp_path / "rocks"
    first = stack.worker(as_of=as_of, store="rocksdb://", data_dir=data_dir, name="worker-1")
    started = time.monotonic()
    produce_lines(stack.bootstrap, stack.prefix, lines)
    # Kill it hard once it is visibly mid-stream: some, not all, of ~3,300 assets out.
    wait_until(lambda: len(stack.snapshots()) > CRASH_AFTER_ASSETS, timeout=SETTLE_TIMEOUT,
               what=f"{CRASH_AFTER_ASSETS} assets to be published before the crash")  # fmt: skip
    first.kill()
    # The dead member holds its partitions until its session times out: allow for it.
    stack.worker(as_of=as_of, store="rocksdb://", data_dir=data_dir, name="worker-2",
                 ready_timeout=READY_TIMEOUT + 30)  # fmt: skip
    # The reference, computed while the restarted worker catches up (another core).
    expected = replay(lines, as_of, tmp_path / "replay")
    accounts = replayed_accounts(tmp_path / "replay")
    assert len(expected) >= 1000
    got = settled(
        stack, expected, wait_until, "Kafka's snapshots to equal replay's after a crash", accounts
    )
    elapsed = time.monotonic() - started
    assert stack.dead_letters() == []
    assert set(got) == set(expected)
    print(f"\n{len(lines)} events over {len(expected)} assets through Kafka (with one SIGKILL "
          f"and restart) in {elapsed:.1f}s: {len(lines) / elapsed:.0f} events/s")  # fmt: skip


def test_two_workers_in_one_group_share_partitions_and_agree_withreplay(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    lines = [json.dumps(e).encode() for e in generate(assets=300, seed=5)]
    as_of = "2026-06-01"
    expected = replay(lines, as_of, tmp_path / "replay")
    accounts = replayed_accounts(tmp_path / "replay")
    one = stack.worker(as_of=as_of, name="worker-a")
    two = stack.worker(as_of=as_of, name="worker-b")
    produce_lines(stack.bootstrap, stack.prefix, lines)
    settled(stack, expected, wait_until, "two workers' snapshots to equal replay's", accounts)
    # Both took part: each applied deliveries itself (a topic name in the log would only
    # show that it subscribed, which faust prints whether or not it got partitions).
    counts = [_applied(stack, process) for process in (one, two)]
    assert all(count > 0 for count in counts), counts


def _applied(stack: Stack, process: Any) -> float:
    prefix = 'assetstream_messages_total{outcome="applied",reason=""} '
    rows = stack.metrics(process).splitlines()
    return sum(float(row.removeprefix(prefix)) for row in rows if row.startswith(prefix))


def test_a_message_produced_by_kcat_is_processed(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    stack.worker(as_of="2025-09-01")
    line = (SCENARIOS / "capricorn-initial.events.jsonl").read_text().strip()
    import subprocess

    subprocess.run(["kcat", "-P", "-b", stack.bootstrap, "-t", stack.prefix + "orders.fulfilled",
                    "-k", "ORD-1001"], input=line.encode(), check=True, timeout=30)  # fmt: skip
    snapshot = wait_until(lambda: stack.snapshots().get("AST-QBO-CAPRICORN"), timeout=60,
                          what="the kcat-produced order's snapshot")  # fmt: skip
    assert (snapshot["current_mrr"], snapshot["total_lifecycle_amount"]) == ("20.83", "249.95")


def test_garbage_is_dead_lettered_and_the_worker_keeps_going(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    worker = stack.worker(as_of="2025-09-01")
    topic = stack.prefix + "assets.amendments"
    valid = (SCENARIOS / "capricorn-initial.events.jsonl").read_bytes().strip()
    garbage = [os.urandom(64), valid[: len(valid) // 2],
               b'{"specversion":"1.0","id":"w1","source":"s","type":"asset.cancelled",'
               b'"time":"2025-01-01T00:00:00Z","data":{"asset_id":5,"effective_date":"x"}}',
               b"", b"[]"]  # fmt: skip
    produce_raw(stack.bootstrap, topic, garbage, key=b"junk")
    produce_lines(stack.bootstrap, stack.prefix, [valid])
    wait_until(lambda: "AST-QBO-CAPRICORN" in stack.snapshots(), timeout=60,
               what="a valid order after the garbage")  # fmt: skip
    letters = wait_until(lambda: (dl := stack.dead_letters()) and len(dl) >= 5 and dl, timeout=60,
                         what="five dead letters")  # fmt: skip
    # Random bytes, truncated JSON, empty and a JSON array are not CloudEvent JSON objects.
    assert sorted(dl["reason_code"] for dl in letters) == [
        "invalid_json", "invalid_json", "invalid_json", "invalid_json", "schema_violation"
    ]  # fmt: skip
    binary = next(dl for dl in letters if dl.get("payload_encoding") == "base64")
    assert binary["key"] == "junk" and binary["source_topic"] == topic
    assert worker.alive()
    metrics = stack.metrics(worker)
    counter = "assetstream_messages_total"
    assert f'{counter}{{outcome="dead_lettered",reason="invalid_json"}} 4.0' in metrics
    assert f'{counter}{{outcome="applied",reason=""}} 1.0' in metrics
    assert "assetstream_snapshots_published_total 1.0" in metrics
    assert "assetstream_processing_seconds_count" in metrics


def _records_for(stack: Stack, key: str) -> int:
    records = asyncio.run(_read_all(stack.bootstrap, stack.prefix + "assets.snapshots"))
    return sum(1 for r in records if r.key == key.encode())


@pytest.mark.parametrize("window", ["0", "100ms"])
def test_loading_the_same_events_twice_is_harmless_with_the_rocksdb_store(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, window: str
) -> None:
    """Event ids make reloads duplicates, not conflicts (the fingerprint table is bytes on disk).

    Each duplicate re-publishes the current snapshot, unchanged; with a publication window
    the re-publications of one asset within it are coalesced into one.
    """
    stack.worker(as_of="2026-09-01", store="rocksdb://", data_dir=tmp_path / "rocks",
                 extra={"ASSETSTREAM_PUBLISH_WINDOW": window})  # fmt: skip
    lines = (SCENARIOS / "capricorn-renewal.events.jsonl").read_bytes().splitlines()
    produce_lines(stack.bootstrap, stack.prefix, lines)
    wait_until(lambda: len(stack.snapshots().get("AST-QBO-CAPRICORN", {}).get("actions", [])) == 3,
               timeout=60, what="the first load to be applied")  # fmt: skip
    before = stack.snapshots()["AST-QBO-CAPRICORN"]
    published = _records_for(stack, "AST-QBO-CAPRICORN")
    produce_lines(stack.bootstrap, stack.prefix, lines)
    more = 3 if window == "0" else 1
    wait_until(lambda: _records_for(stack, "AST-QBO-CAPRICORN") >= published + more, timeout=60,
               what=f"{more} re-published snapshot(s) after the reload")  # fmt: skip
    assert stack.dead_letters() == []
    after = stack.snapshots()["AST-QBO-CAPRICORN"]
    assert after == before  # same version, same as_of, same content
    assert after["total_lifecycle_amount"] == "728.48"


def test_a_partition_count_mismatch_stops_the_worker_at_start_with_a_clear_error(
    stack: Stack,
) -> None:
    import asyncio
    import subprocess
    import sys

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    commands = stack.prefix + "assets.commands"

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(commands, 3, 1)])
        finally:
            await admin.close()

    asyncio.run(create())
    env = {**stack.env, "ASSETSTREAM_PARTITIONS": "4", "ASSETSTREAM_STORE": "memory://",
           "ASSETSTREAM_DATA_DIR": str(stack.tmp / "mismatch")}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "streams.cli", "worker", "--no-projection"],
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    changelog = f"{stack.prefix}assetstream-assets-changelog"
    assert f"{commands} has 3 partitions but {changelog} has 4" in result.stderr


def test_the_worker_web_server_listens_on_loopback_unless_told_otherwise(stack: Stack) -> None:
    """Health and metrics are for the operator's scraper, not for the whole network."""
    import subprocess

    worker = stack.worker(as_of="2025-09-01")
    port = stack.web_ports[worker.name]
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True,
                               text=True, check=True).stdout.split()  # fmt: skip
    assert f"127.0.0.1:{port}" in listening
    assert f"0.0.0.0:{port}" not in listening and f"*:{port}" not in listening
