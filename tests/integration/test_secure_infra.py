"""SASL/SCRAM-SHA-512 over TLS against a real broker, and the start-up checks' verdicts.

The broker (scripts/kafka.sh secure) has no plaintext listener: every byte here is TLS,
verified against the CA the script made, and every client authenticates with SCRAM.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.connectivity import (
    KafkaConnectError,
    ReplicationError,
    check_kafka,
    check_replication,
)
from streams.settings import Settings, aiokafka_kwargs, load_settings
from tests.integration.cluster import (  # noqa: F401  (fixtures are found by name)
    create_topic,
    secure_kafka_fixture,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CHECK_TIMEOUT_S = 5.0


def _settings(env: dict[str, str], **overrides: str) -> Settings:
    return load_settings(**{**env, **overrides})


def _verdict(
    settings: Settings, timeout: float = CHECK_TIMEOUT_S
) -> tuple[KafkaConnectError, float]:
    """The KafkaConnectError check_kafka raises, and how long it took."""
    started = time.monotonic()
    with pytest.raises(KafkaConnectError) as raised:
        asyncio.run(check_kafka(settings, timeout=timeout))
    return raised.value, time.monotonic() - started


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A CA PEM that did not sign the broker's certificate (made with openssl)."""
    pem = tmp_path / "other-ca.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=not the assetstream dev CA",
            "-keyout", str(tmp_path / "other-ca.key"), "-out", str(pem),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return pem


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung broker)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_produce_and_consume_over_sasl_ssl(secure_kafka: dict[str, str]) -> None:
    settings = _settings(secure_kafka)
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    topic = f"it-{uuid.uuid4().hex[:12]}.secure"
    values = [f"secret-{i:03d}" for i in range(100)]

    async def roundtrip() -> list[str]:
        assert await check_kafka(settings) == [1]
        await create_topic(settings, topic, partitions=1, replication_factor=1)
        producer = AIOKafkaProducer(acks="all", **aiokafka_kwargs(settings))
        await producer.start()
        try:
            for value in values:
                await producer.send(topic, key=value.encode(), value=value.encode())
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            auto_offset_reset="earliest", enable_auto_commit=False, **aiokafka_kwargs(settings)
        )
        await consumer.start()
        try:
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            read: list[str] = []
            deadline = time.monotonic() + 30
            while len(read) < len(values) and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    read.extend(r.value.decode() for r in records if r.value is not None)
            return read
        finally:
            await consumer.stop()

    assert asyncio.run(roundtrip()) == values


def test_wrong_password_is_an_authentication_error(secure_kafka: dict[str, str]) -> None:
    error, took = _verdict(_settings(secure_kafka, KAFKA_SASL_PASSWORD="not-the-password"))
    assert error.kind == "authentication"
    assert "authentication failed" in str(error)
    assert secure_kafka["KAFKA_SASL_USERNAME"] in str(error)
    assert "not-the-password" not in str(error)
    assert "\n" not in str(error)
    assert took < CHECK_TIMEOUT_S


def test_unknown_user_is_an_authentication_error(secure_kafka: dict[str, str]) -> None:
    error, took = _verdict(_settings(secure_kafka, KAFKA_SASL_USERNAME="mallory"))
    assert error.kind == "authentication"
    assert "authentication failed" in str(error)
    assert took < CHECK_TIMEOUT_S


def test_untrusted_ca_is_a_tls_error(secure_kafka: dict[str, str], other_ca: Path) -> None:
    error, took = _verdict(_settings(secure_kafka, KAFKA_SSL_CA_FILE=str(other_ca)))
    assert error.kind == "tls"
    assert "TLS handshake failed" in str(error)
    assert "KAFKA_SSL_CA_FILE" in str(error)
    assert took < CHECK_TIMEOUT_S


def test_plaintext_to_the_tls_listener_is_refused(secure_kafka: dict[str, str]) -> None:
    error, took = _verdict(
        load_settings(kafka_bootstrap_servers=secure_kafka["KAFKA_BOOTSTRAP_SERVERS"])
    )
    assert error.kind == "protocol"
    assert "KAFKA_SECURITY_PROTOCOL" in str(error)
    assert took < CHECK_TIMEOUT_S


def test_no_broker_is_unreachable_and_a_silent_one_times_out(
    secure_kafka: dict[str, str], silent_port: int
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    error, took = _verdict(
        _settings(secure_kafka, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port}")
    )
    assert error.kind == "unreachable"
    assert f"127.0.0.1:{closed_port}" in str(error)
    assert took < CHECK_TIMEOUT_S

    # Never a hang: a peer that accepts and says nothing is reported at the timeout.
    error, took = _verdict(
        _settings(secure_kafka, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{silent_port}"), timeout=2.0
    )
    assert error.kind == "timeout"
    assert "within 2s" in str(error)
    assert took < 2.0 + 1.0


def test_one_good_bootstrap_server_is_enough(secure_kafka: dict[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    servers = f"127.0.0.1:{closed_port},{secure_kafka['KAFKA_BOOTSTRAP_SERVERS']}"
    assert asyncio.run(check_kafka(_settings(secure_kafka, KAFKA_BOOTSTRAP_SERVERS=servers))) == [1]


def test_check_replication_refuses_more_replicas_than_brokers(
    secure_kafka: dict[str, str],
) -> None:
    asyncio.run(check_replication(_settings(secure_kafka)))
    with pytest.raises(ReplicationError, match=r"REPLICATION_FACTOR=3 .* 1 live broker"):
        asyncio.run(check_replication(_settings(secure_kafka, ASSETSTREAM_REPLICATION_FACTOR="3")))
    # A wrong password while checking replication is reported as what it is.
    with pytest.raises(KafkaConnectError, match="authentication failed"):
        asyncio.run(
            check_replication(
                _settings(secure_kafka, KAFKA_SASL_PASSWORD="nope"), timeout=CHECK_TIMEOUT_S
            )
        )


def test_check_replication_refuses_min_insync_above_the_replication_factor(
    secure_kafka: dict[str, str],
) -> None:
    # load_settings already refuses this pair; a settings object built another way
    # (model_copy skips validation) is still caught before any connection is made.
    settings = _settings(secure_kafka).model_copy(update={"min_insync_replicas": 2})
    assert settings.insync_replicas > settings.replication_factor
    with pytest.raises(ReplicationError, match=r"min\.insync\.replicas 2 .* exceeds"):
        asyncio.run(check_replication(settings, brokers=[1]))
