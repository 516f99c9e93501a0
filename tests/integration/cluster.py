"""Fixtures for the 3-broker cluster and the SASL_SSL broker that scripts/kafka.sh runs.

Not a conftest: a test module imports the fixtures it uses, e.g.

    from tests.integration.cluster import KafkaCluster, kafka_cluster_fixture  # noqa: F401

Fixtures (session-scoped; each starts its Kafka through the script unless it is already
running, and stops at the end of the session only what it started):

    kafka_cluster   a `KafkaCluster`: ``bootstrap``, ``kill(n)`` (SIGKILL node n),
                    ``start(n)``, ``stop(n)``, ``restart_all()``, ``broker_ids()``,
                    ``heal()`` (every node up again), ``settings(**overrides)``
    secure_kafka    the client environment of the SASL/SCRAM-SHA-512-over-TLS broker
                    (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*,
                    KAFKA_SSL_CA_FILE), as printed by ``scripts/kafka.sh secure start``

A script that cannot start its Kafka FAILS the test (with the script's output), never
skips it. Helpers: `create_topic`, `describe_partitions`, `run_script`.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.connectivity import KafkaConnectError, check_kafka
from streams.settings import Settings, aiokafka_kwargs, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO_ROOT / "scripts" / "kafka.sh"
NODES = (1, 2, 3)
# Starting three JVMs on a shared 2-core machine: generous, the script has its own limit.
SCRIPT_TIMEOUT_S = 300.0
_SECURITY_VARIABLES = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CA_FILE",
)


class ScriptError(AssertionError):
    """scripts/kafka.sh exited non-zero; the message carries its output."""


def run_script(*args: str, timeout: float = SCRIPT_TIMEOUT_S, check: bool = True) -> str:
    """Run ``scripts/kafka.sh ARGS`` and return its stdout; raise ScriptError on failure."""
    env = {k: v for k, v in os.environ.items() if k not in _SECURITY_VARIABLES}
    try:
        done = subprocess.run(
            ["bash", str(KAFKA_SCRIPT), *args],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise ScriptError(f"scripts/kafka.sh {' '.join(args)} ran over {timeout:.0f}s") from exc
    if check and done.returncode != 0:
        raise ScriptError(
            f"scripts/kafka.sh {' '.join(args)} exited {done.returncode}:\n"
            f"{done.stderr[-4000:]}{done.stdout[-2000:]}"
        )
    return done.stdout


def _succeeds(*args: str) -> bool:
    try:
        run_script(*args, timeout=60)
    except ScriptError:
        return False
    return True


def parse_env(text: str) -> dict[str, str]:
    """``KEY=value`` lines (values shell-quoted, as the scripts print them) as a dict."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        if "=" not in line:
            continue
        (word,) = shlex.split(line)
        key, _, value = word.partition("=")
        env[key] = value
    return env


def _poll(predicate: Any, *, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class KafkaCluster:
    """The local 3-node cluster (scripts/kafka-cluster.sh); node n is broker id n."""

    bootstrap: str
    env: dict[str, str]

    def settings(self, **overrides: Any) -> Settings:
        """Settings for this cluster (PLAINTEXT, replication factor 3 unless overridden)."""
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": self.bootstrap,
            "kafka_security_protocol": "PLAINTEXT",
            "replication_factor": 3,
        }
        values.update(overrides)
        return load_settings(**values)

    def broker_ids(self, timeout: float = 10.0) -> list[int]:
        """Broker ids a Metadata request lists (live, unfenced brokers)."""
        return asyncio.run(check_kafka(self.settings(), timeout))

    def _ids_or_none(self) -> list[int] | None:
        try:
            return self.broker_ids(timeout=5.0)
        except KafkaConnectError:
            return None

    def wait_for_brokers(self, wanted: set[int], *, timeout: float = 90.0) -> list[int]:
        """Wait until Metadata lists exactly ``wanted``; return the ids."""

        def listed() -> list[int] | None:
            ids = self._ids_or_none()
            return ids if ids is not None and set(ids) == wanted else None

        found: list[int] = _poll(
            listed, timeout=timeout, what=f"Metadata to list brokers {sorted(wanted)}"
        )
        return found

    def kill(self, n: int) -> None:
        """SIGKILL node n (broker and controller): a crash, no controlled shutdown."""
        run_script("cluster", "kill", str(n))

    def stop(self, n: int) -> None:
        """SIGTERM node n: a clean, controlled shutdown."""
        run_script("cluster", "stop-node", str(n))

    def start(self, n: int) -> None:
        """Start node n again and wait until Metadata lists it."""
        run_script("cluster", "start-node", str(n))
        _poll(
            lambda: n in (self._ids_or_none() or []),
            timeout=90,
            what=f"broker {n} to be listed again",
        )

    def restart_all(self) -> None:
        """Stop every node (SIGTERM, in parallel), start them all, wait for 3 brokers."""
        run_script("cluster", "restart")
        self.wait_for_brokers(set(NODES))

    def heal(self) -> None:
        """Every node running and listed (after a test that killed or stopped one)."""
        run_script("cluster", "start")
        self.wait_for_brokers(set(NODES))


@pytest.fixture(scope="session", name="kafka_cluster")
def kafka_cluster_fixture() -> Iterator[KafkaCluster]:
    """The 3-broker KRaft cluster, started by ``scripts/kafka.sh cluster start`` if needed."""
    already_running = _succeeds("cluster", "status")
    try:
        run_script("cluster", "start")
        env = parse_env(run_script("cluster", "env"))
    except ScriptError as exc:
        pytest.fail(f"could not start the 3-broker Kafka cluster: {exc}", pytrace=False)
    cluster = KafkaCluster(bootstrap=env["KAFKA_BOOTSTRAP_SERVERS"], env=env)
    cluster.wait_for_brokers(set(NODES))
    yield cluster
    if not already_running:
        run_script("cluster", "stop", check=False)


@pytest.fixture(scope="session", name="secure_kafka")
def secure_kafka_fixture() -> Iterator[dict[str, str]]:
    """Client env of the SASL_SSL broker, started by ``scripts/kafka.sh secure start``."""
    already_running = _succeeds("secure", "status")
    try:
        env = parse_env(run_script("secure", "start"))
    except ScriptError as exc:
        pytest.fail(f"could not start the SASL_SSL Kafka broker: {exc}", pytrace=False)
    missing = {"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SSL_CA_FILE", *_SECURITY_VARIABLES} - set(env)
    if missing:
        pytest.fail(f"scripts/kafka.sh secure start did not print {sorted(missing)}")
    yield env
    if not already_running:
        run_script("secure", "stop", check=False)


async def create_topic(
    settings: Settings,
    name: str,
    *,
    partitions: int,
    replication_factor: int,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create one topic and fail with the broker's error code when it is refused."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor, topic_configs=dict(configs or {}))]
        )
        for topic_error in response.topic_errors:
            code = topic_error[1]
            if code != 0:
                raise AssertionError(f"creating {name} failed: {topic_error}")
    finally:
        await admin.close()


async def describe_partitions(settings: Settings, name: str) -> dict[int, dict[str, Any]]:
    """partition -> {"leader", "replicas", "isr"} as Metadata reports them."""
    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        (topic,) = await admin.describe_topics([name])
    finally:
        await admin.close()
    return {
        p["partition"]: {"leader": p["leader"], "replicas": p["replicas"], "isr": p["isr"]}
        for p in topic["partitions"]
    }
