"""assetstream on a replicated 3-broker cluster: a broker SIGKILLed, then the whole cluster
restarted.

RF 3, min ISR 2, acks=all (issue 12). Two workers in one group process 10,000+
events while one broker is killed and later restarted, then all three restart
mid-stream; a worker that stops meanwhile is started again, as a supervisor
would. The final snapshots must equal `assetstream replay`: nothing missing,
nothing doubled.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cluster import (  # noqa: F401  (fixtures are found by name)
    KafkaCluster,
    describe_partitions,
    kafka_cluster_fixture,
)
from tests.integration.conftest import RunningProcess
from tests.integration.kafka_io import produce_lines
from tests.integration.worker_stack import Stack, replay, replayed_accounts, settled
from tests.support.generate_events import generate

AS_OF = "2026-06-01"
PROCESSED = re.compile(r'^assetstream_messages_total\{outcome="(applied|pending|duplicate)"'
                       r',reason="[^"]*"\} (\S+)$', re.M)  # fmt: skip


def _processed(stack: Stack, worker: RunningProcess) -> float:
    try:
        return sum(float(v) for _, v in PROCESSED.findall(stack.metrics(worker)))
    except OSError:
        return 0.0


@pytest.mark.slow
def test_two_workers_on_a_replicated_cluster_survive_a_broker_kill_and_a_cluster_restart(
    kafka_cluster: KafkaCluster,
    stack_env: dict[str, str],
    topic_prefix: str,
    tmp_path: Path,
    start_process: Callable[..., RunningProcess],
    wait_until: Callable[..., Any],
) -> None:
    env = {**stack_env, "KAFKA_BOOTSTRAP_SERVERS": kafka_cluster.bootstrap,
           "ASSETSTREAM_REPLICATION_FACTOR": "3", "ASSETSTREAM_MIN_INSYNC_REPLICAS": "2",
           "ASSETSTREAM_STANDBY_REPLICAS": "1"}  # fmt: skip
    stack = Stack(env, topic_prefix, kafka_cluster.bootstrap, tmp_path, start_process)
    lines = [json.dumps(e).encode() for e in generate(assets=2000, seed=31)]
    assert len(lines) >= 10_000
    half = len(lines) // 2
    workers = {name: stack.worker(as_of=AS_OF, store="rocksdb://", name=name,
                                  data_dir=tmp_path / name, ready_timeout=120)
               for name in ("worker-a", "worker-b")}  # fmt: skip
    # The topics the app created are replicated as configured.
    for topic in ("assets.commands", "assets.snapshots", "assetstream-assets-changelog"):
        partitions = asyncio.run(describe_partitions(kafka_cluster.settings(),
                                                     topic_prefix + topic))  # fmt: skip
        assert {len(p["replicas"]) for p in partitions.values()} == {3}, topic

    produce_lines(stack.bootstrap, stack.prefix, lines[:half])
    wait_until(lambda: len(stack.snapshots()) > 300, timeout=180, what="300 assets published")
    kafka_cluster.kill(2)  # a broker crash under acks=all writes: 2 in-sync replicas remain
    produce_lines(stack.bootstrap, stack.prefix, lines[half:])
    wait_until(lambda: len(stack.snapshots()) > 1200, timeout=300,
               what="1,200 assets published with a broker down")  # fmt: skip
    kafka_cluster.start(2)
    kafka_cluster.restart_all()  # the whole cluster, mid-stream
    for name, process in list(workers.items()):
        if not process.alive():  # a supervisor restarts a worker that gave up meanwhile
            workers[name] = stack.worker(as_of=AS_OF, store="rocksdb://", data_dir=tmp_path / name,
                                         name=f"{name}-again", ready_timeout=180)  # fmt: skip
    expected = replay(lines, AS_OF, tmp_path / "replay")
    accounts = replayed_accounts(tmp_path / "replay")
    settled(stack, expected, wait_until, "the cluster's snapshots to equal replay", accounts)
    # Both workers took part: each processed deliveries (not merely subscribed).
    assert all(_processed(stack, w) > 0 for w in workers.values() if w.alive())
