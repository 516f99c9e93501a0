"""`assetstream inspect` against the real broker: readable views, --key, --json, --follow.

Each test writes to its own uuid-prefixed topics and runs the command as a
subprocess with ASSETSTREAM_TOPIC_PREFIX set, so base names resolve to them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.integration

INSPECT_TIMEOUT_S = 60.0  # a subprocess run: start-up + --timeout 3 + slack

SNAPSHOT = {
    "asset_id": "AST-QBO-CAPRICORN", "account_id": "ACC-CAPRICORN", "currency": "USD",
    "version": 2, "as_of": "2026-03-01", "status": "active",
    "current_quantity": "8", "current_mrr": "33.33",
    "lifecycle_start_date": "2025-08-10", "lifecycle_end_date": "2026-08-10",
    "total_lifecycle_amount": "328.56",
    "state_periods": [
        {"start_date": "2025-08-10", "end_date": "2026-02-01", "quantity": "5", "mrr": "20.83",
         "amount": "118.93"},
        {"start_date": "2026-02-01", "end_date": "2026-08-10", "quantity": "8", "mrr": "33.33",
         "amount": "209.63"}],
    "actions": [
        {"action_id": "evt-capricorn-0001/1", "category": "initial_sale", "subtype": None,
         "effective_date": "2025-08-10", "action_time": "2025-08-10T15:00:00Z",
         "quantity_change": "5", "mrr_change": "20.83", "amount_change": "249.95"},
        {"action_id": "evt-capricorn-0002", "category": "upsell", "subtype": None,
         "effective_date": "2026-02-01", "action_time": "2026-01-20T10:00:00Z",
         "quantity_change": "3", "mrr_change": "12.50", "amount_change": "78.61"}],
    "pending_events": [{"event_id": "evt-capricorn-0009", "reason_code": "outside_lifecycle"}],
}  # fmt: skip
OTHER_SNAPSHOT = {**SNAPSHOT, "asset_id": "AST-OTHER", "account_id": "ACC-OTHER",
                  "pending_events": []}  # fmt: skip
DEAD_LETTER = {
    "event_id": "evt-bad-0001", "reason_code": "schema_violation",
    "reason": "data.lines[0].quantity: must be > 0", "source_topic": "orders.fulfilled",
    "source_partition": 2, "source_offset": 17, "key": "ORD-9",
    "payload": '{"specversion":"1.0","id":"evt-bad-0001"' + ' ' * 400 + "}",
    "dead_lettered_at": "2026-11-26T12:00:00Z",
}  # fmt: skip
BINARY = b"\xff\x00\x9cnot utf-8\x80"

Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]  # key, value, headers


async def _create_and_produce(bootstrap: str, topics: dict[str, list[Message]]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 3, 1) for t in topics])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, messages in topics.items():
            for key, value, headers in messages:
                await producer.send_and_wait(topic, value, key=key, headers=headers or None)
    finally:
        await producer.stop()


def produce(bootstrap: str, topics: dict[str, list[Message]]) -> None:
    asyncio.run(_create_and_produce(bootstrap, topics))


def _send(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(go())


async def _list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


def inspect(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "inspect", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=INSPECT_TIMEOUT_S,
        check=False,
    )


def _j(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def loaded(kafka_bootstrap: str, topic_prefix: str) -> str:
    """Snapshots (two keys, a header, a tombstone), a dead letter and a binary record."""
    produce(
        kafka_bootstrap,
        {
            f"{topic_prefix}assets.snapshots": [
                (b"AST-QBO-CAPRICORN", _j(SNAPSHOT), [("producer", b"test-suite")]),
                (b"AST-OTHER", _j(OTHER_SNAPSHOT), []),
                (b"AST-GONE", None, []),
            ],
            f"{topic_prefix}assets.deadletter": [(b"ORD-9", _j(DEAD_LETTER), [])],
            f"{topic_prefix}raw.bytes": [(b"bin-1", BINARY, [])],
        },
    )
    return topic_prefix


def test_a_snapshot_is_shown_with_its_money_periods_actions_and_pending_events(
    loaded: str, stack_env: dict[str, str]
) -> None:
    result = inspect(stack_env, "assets.snapshots", "--from-beginning", "--timeout", "3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for needle in (
        f"{loaded}assets.snapshots",
        "key AST-QBO-CAPRICORN",
        "header producer: test-suite",
        "ACC-CAPRICORN",
        "version    2   status active",
        "quantity 8   MRR 33.33 USD",
        "2025-08-10 → 2026-08-10   total 328.56 USD",
        "2026-02-01  2026-08-10         8  33.33  209.63",
        "evt-capricorn-0002",
        "upsell",
        "78.61",
        "evt-capricorn-0009",
        "outside_lifecycle",
        "key AST-OTHER",
        "key AST-GONE",
        "(tombstone)",
    ):
        assert needle in out, f"{needle!r} missing from:\n{out}"


def test_a_dead_letter_shows_reason_source_and_a_truncated_payload(
    loaded: str, stack_env: dict[str, str]
) -> None:
    # The full topic name works as well as the base name.
    result = inspect(stack_env, f"{loaded}assets.deadletter", "--from-beginning", "--timeout", "3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for needle in (
        "DEAD LETTER schema_violation",
        "evt-bad-0001",
        "data.lines[0].quantity: must be > 0",
        "orders.fulfilled  partition 2  offset 17  key ORD-9",
        "… (",  # the 440-character payload is cut
    ):
        assert needle in out, f"{needle!r} missing from:\n{out}"


def test_bytes_that_are_not_utf8_get_a_hex_and_base64_preview(
    loaded: str, stack_env: dict[str, str]
) -> None:
    result = inspect(stack_env, "raw.bytes", "--from-beginning", "--timeout", "3")
    assert result.returncode == 0, result.stderr
    assert "(13 bytes, not UTF-8)" in result.stdout
    assert "hex     ff 00 9c 6e 6f 74" in result.stdout
    assert "base64  /wCcbm90IHV0Zi04gA==" in result.stdout


def test_key_filters_records(loaded: str, stack_env: dict[str, str]) -> None:
    result = inspect(
        stack_env, "assets.snapshots", "--from-beginning", "--timeout", "3", "--key", "AST-OTHER"
    )
    assert result.returncode == 0, result.stderr
    assert "key AST-OTHER" in result.stdout
    assert "AST-QBO-CAPRICORN" not in result.stdout
    assert "AST-GONE" not in result.stdout


def test_json_lines_keep_money_as_strings_and_max_stops_early(
    loaded: str, stack_env: dict[str, str]
) -> None:
    result = inspect(stack_env, "assets.snapshots", "--from-beginning", "--timeout", "3", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_key = {line["key"]: line for line in lines}
    assert set(by_key) == {"AST-QBO-CAPRICORN", "AST-OTHER", "AST-GONE"}
    assert by_key["AST-QBO-CAPRICORN"]["value"] == SNAPSHOT
    assert by_key["AST-QBO-CAPRICORN"]["headers"] == {"producer": "test-suite"}
    assert by_key["AST-GONE"]["value"] is None
    assert by_key["AST-GONE"]["value_encoding"] == "tombstone"

    one = inspect(stack_env, "assets.snapshots", "--from-beginning", "--json", "--max", "1")
    assert one.returncode == 0, one.stderr
    assert len(one.stdout.splitlines()) == 1


def test_a_missing_topic_is_an_error_and_is_not_created(
    kafka_bootstrap: str, topic_prefix: str, stack_env: dict[str, str]
) -> None:
    result = inspect(stack_env, "no.such.topic", "--timeout", "1")
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert f"{topic_prefix}no.such.topic" not in asyncio.run(_list_topics(kafka_bootstrap))


def test_follow_starts_at_the_end_and_prints_new_records_until_ctrl_c(
    loaded: str,
    kafka_bootstrap: str,
    stack_env: dict[str, str],
    start_process: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    follower = start_process(
        ["python", "-m", "streams.cli", "inspect", "assets.snapshots", "--follow"],
        env=stack_env,
        name="inspect --follow",
    )
    sent: list[str] = []

    def new_record_shown() -> bool:
        # Keep sending: a record sent before the consumer took its end position is not shown.
        key = f"AST-NEW-{len(sent)}"
        _send(kafka_bootstrap, f"{loaded}assets.snapshots", key.encode(), b'{"hello": 1.50}')
        sent.append(key)
        return any(f"key {k}" in follower.log_text() for k in sent)

    wait_until(new_record_shown, timeout=30, what="a new record in inspect --follow", interval=1)
    assert '"hello": 1.50' in follower.log_text()
    assert "AST-QBO-CAPRICORN" not in follower.log_text()  # older than the start: not shown
    follower.process.send_signal(signal.SIGINT)
    assert follower.process.wait(15) == 0


@pytest.mark.parametrize("argv", [["--max", "0"]])
def test_bad_arguments_are_refused(argv: Sequence[str], stack_env: dict[str, str]) -> None:
    result = inspect(stack_env, "assets.snapshots", *argv)
    assert result.returncode == 2


def test_topology_names_the_prefixed_topics_agents_and_read_side(
    stack_env: dict[str, str], topic_prefix: str
) -> None:
    # Companion command: no Kafka connection, names from the same settings as inspect.
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "topology"],
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=INSPECT_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in ("orders.fulfilled", "assets.amendments", "assets.by-event", "assets.commands",
                 "assets.snapshots", "assets.deadletter", "assetstream-assets-changelog",
                 "assetstream-event-fingerprints-changelog", "assetstream-projection",
                 "accounts.mrr", "assets.account-changes",
                 "assetstream-accounts-changelog"):  # fmt: skip
        assert f"{topic_prefix}{name}" in result.stdout, name
    for agent in ("intake-orders", "intake-amendments", "registry", "fold-assets", "accounts",
                  "wake-assets"):  # fmt: skip
        assert f"agent {agent}" in result.stdout or f"timer {agent}" in result.stdout, agent
    assert "Redis" in result.stdout and "assetstream api" in result.stdout


HOSTILE_KEY = "AST-\x1b]0;pwned\x07-\x1b[2J-\x9b31m"


def test_hostile_keys_and_ids_are_printed_escaped_not_executed(
    kafka_bootstrap: str, topic_prefix: str, stack_env: dict[str, str]
) -> None:
    snapshot = {**SNAPSHOT, "asset_id": HOSTILE_KEY, "pending_events": [
        {"event_id": f"evt-{HOSTILE_KEY}", "reason_code": "outside_lifecycle"}]}  # fmt: skip
    letter = {**DEAD_LETTER, "event_id": HOSTILE_KEY, "key": HOSTILE_KEY}
    produce(kafka_bootstrap, {
        f"{topic_prefix}assets.snapshots": [
            (HOSTILE_KEY.encode(), json.dumps(snapshot, ensure_ascii=False).encode(),
             [("trace\x1b[8m", HOSTILE_KEY.encode())])],
        f"{topic_prefix}assets.deadletter": [
            (HOSTILE_KEY.encode(), json.dumps(letter, ensure_ascii=False).encode(), [])],
    })  # fmt: skip
    shown = "AST-\\x1b]0;pwned\\x07-\\x1b[2J-\\x9b31m"
    for topic in ("assets.snapshots", "assets.deadletter"):
        result = inspect(stack_env, topic, "--from-beginning", "--timeout", "3")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert not [c for c in out if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F]
        assert f"key {shown}" in out
    as_json = inspect(stack_env, "assets.snapshots", "--from-beginning", "--timeout", "3", "--json")
    assert as_json.returncode == 0, as_json.stderr
    (line,) = as_json.stdout.splitlines()
    assert not [c for c in line if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]
    record = json.loads(line)
    assert (record["key"], record["value"]["asset_id"]) == (HOSTILE_KEY, HOSTILE_KEY)


def test_account_records_are_shown_per_currency_with_timeline_and_movements(
    kafka_bootstrap: str, topic_prefix: str, stack_env: dict[str, str]
) -> None:
    from tests.support.snapshots import CAPRICORN_ACCOUNT

    produce(
        kafka_bootstrap,
        {f"{topic_prefix}accounts.mrr": [(b"ACC-CAPRICORN", _j(CAPRICORN_ACCOUNT), [])]},
    )
    result = inspect(
        stack_env, "accounts.mrr", "--from-beginning", "--key", "ACC-CAPRICORN", "--timeout", "3"
    )
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "ACCOUNT ACC-CAPRICORN   version 2   as of 2026-03-01" in lines
    assert "USD  current MRR 33.33   ARR 399.96   active assets 1" in lines
    assert "2026-08-10  (open)       0.00" in lines
    churn = next(line for line in lines if line.startswith("2026-08-10  churn"))
    assert churn.split()[-2:] == ["-33.33", "scheduled"]
