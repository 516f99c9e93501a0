"""Start-up checks against the configured Kafka: reachable, authenticated, replicated enough.

`check_kafka(settings)` opens one connection per bootstrap server, concurrently, with the
same security settings the app uses (`aiokafka_kwargs`), and returns the broker ids the
first answering server's Metadata lists. When none answers it raises `KafkaConnectError`
with one line that says why, within ``timeout`` seconds, never a hang:

- ``authentication``: the broker refused the SASL credentials or mechanism,
- ``tls``: the TLS handshake failed (an untrusted CA, a wrong host name, not a TLS port),
- ``protocol``: the broker closed the connection before answering (e.g. PLAINTEXT sent
  to a TLS listener),
- ``unreachable``: nothing accepts connections there,
- ``timeout``: connections were accepted but nothing answered in time.

aiokafka's own clients retry and log each failure, and report only "Unable to bootstrap";
these checks exist so a misconfigured process stops at once with the reason.

`check_replication(settings)` refuses a replication factor larger than the number of live
brokers, and a ``min.insync.replicas`` larger than the replication factor.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.cluster import ClusterMetadata
from aiokafka.conn import AIOKafkaConnection, create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from streams.settings import Settings, aiokafka_kwargs

__all__ = [
    "FailureKind",
    "KafkaConnectError",
    "ReplicationError",
    "check_kafka",
    "check_replication",
]

FailureKind = Literal["authentication", "tls", "protocol", "unreachable", "timeout"]

# When every server fails, the most telling reason is reported: a wrong password on one
# broker explains more than a refused connection on another.
_PRECEDENCE: tuple[FailureKind, ...] = (
    "authentication",
    "tls",
    "protocol",
    "timeout",
    "unreachable",
)

_HINTS: dict[FailureKind, str] = {
    "authentication": "check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM",
    "tls": "check KAFKA_SSL_CA_FILE (the CA that signed the brokers' certificates), the host "
    "names in KAFKA_BOOTSTRAP_SERVERS and KAFKA_SECURITY_PROTOCOL",
    "protocol": "check that KAFKA_SECURITY_PROTOCOL matches the broker's listener",
    "timeout": "check KAFKA_BOOTSTRAP_SERVERS and KAFKA_SECURITY_PROTOCOL",
    "unreachable": "check KAFKA_BOOTSTRAP_SERVERS and that the brokers are running",
}


class KafkaConnectError(RuntimeError):
    """No configured bootstrap server could be used; ``kind`` says why (see module doc)."""

    def __init__(self, message: str, kind: FailureKind) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind


class ReplicationError(RuntimeError):
    """The replication settings cannot be met by the cluster (or by each other)."""


@dataclass(frozen=True)
class _Failure:
    server: str
    kind: FailureKind
    detail: str


def _classify(exc: BaseException, settings: Settings) -> tuple[FailureKind, str]:
    """The kind of a connection failure and a short description of it."""
    mechanism = settings.kafka_sasl_mechanism
    user = settings.kafka_sasl_username
    if isinstance(exc, SaslAuthenticationFailed | AuthenticationFailedError):
        text = str(exc).strip() or "invalid credentials"
        return "authentication", f"authentication failed for user {user!r} ({mechanism}): {text}"
    if isinstance(exc, UnsupportedSaslMechanismError):
        return "authentication", f"authentication failed: the broker does not enable {mechanism}"
    if isinstance(exc, IllegalSaslStateError):
        return (
            "protocol",
            f"the listener refused the SASL handshake; is it {settings.kafka_security_protocol}?",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls", f"TLS handshake failed: {exc.verify_message or exc.reason or exc}"
    if isinstance(exc, ssl.SSLError):
        return "tls", f"TLS handshake failed ({exc.reason or exc}): is this a TLS listener?"
    if isinstance(exc, ConnectionRefusedError):
        return "unreachable", "connection refused"
    if isinstance(exc, TimeoutError):
        return "timeout", "no answer in time"
    if isinstance(exc, ConnectionResetError | KafkaConnectionError):
        tls = settings.kafka_security_protocol in ("SSL", "SASL_SSL")
        if tls and isinstance(exc, ConnectionResetError):
            reason = exc.strerror or "connection reset"
            return "tls", f"the TLS handshake was cut off ({reason}): is this a TLS listener?"
        return (
            "protocol",
            f"the broker closed the connection before answering ({exc}); is the listener "
            f"{settings.kafka_security_protocol}?",
        )
    if isinstance(exc, OSError):
        return "unreachable", exc.strerror or str(exc) or type(exc).__name__
    return "protocol", f"{type(exc).__name__}: {exc}"


def _connection_kwargs(settings: Settings, timeout: float) -> dict[str, Any]:
    kwargs = aiokafka_kwargs(settings)
    kwargs.pop("bootstrap_servers")
    kwargs["request_timeout_ms"] = max(1, int(timeout * 1000))
    kwargs["client_id"] = "assetstream-check"
    return kwargs


async def _metadata_brokers(server: str, kwargs: dict[str, Any]) -> list[int]:
    host, _, port = server.rpartition(":")
    conn: AIOKafkaConnection = await create_conn(host.strip("[]"), int(port), **kwargs)
    try:
        response = await conn.send(MetadataRequest([]))
    finally:
        conn.close()
    cluster = ClusterMetadata()
    cluster.update_metadata(response)
    return sorted(broker.nodeId for broker in cluster.brokers())


async def check_kafka(settings: Settings, timeout: float = 10.0) -> list[int]:
    """Broker ids the cluster lists, or `KafkaConnectError` within ``timeout`` seconds.

    Every bootstrap server is tried at once; the first Metadata answer wins.
    """
    servers = settings.bootstrap_servers
    kwargs = _connection_kwargs(settings, timeout)
    started = time.monotonic()
    tasks = {asyncio.ensure_future(_metadata_brokers(server, kwargs)): server for server in servers}
    failures: list[_Failure] = []
    try:
        pending = set(tasks)
        while pending:
            remaining = timeout - (time.monotonic() - started)
            if remaining <= 0:
                break
            done, pending = await asyncio.wait(
                pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                exc = task.exception()
                if exc is None:
                    brokers = task.result()
                    if brokers:
                        return brokers
                    failures.append(_Failure(tasks[task], "protocol", "Metadata lists no brokers"))
                else:
                    kind, detail = _classify(exc, settings)
                    failures.append(_Failure(tasks[task], kind, detail))
        for task in pending:
            failures.append(_Failure(tasks[task], "timeout", f"no answer within {timeout:g}s"))
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    raise _error(settings, failures, timeout)


def _error(settings: Settings, failures: Sequence[_Failure], timeout: float) -> KafkaConnectError:
    kind: FailureKind = "timeout"
    if failures:
        kind = min((f.kind for f in failures), key=_PRECEDENCE.index)
    protocol = settings.kafka_security_protocol
    where = settings.kafka_bootstrap_servers
    if kind == "unreachable":
        details = "; ".join(f"{f.server}: {f.detail}" for f in failures)
        message = f"no Kafka broker reachable at {where} ({details})"
    elif kind == "timeout":
        message = f"no answer from Kafka at {where} ({protocol}) within {timeout:g}s"
    else:
        first = next(f for f in failures if f.kind == kind)
        message = f"cannot use Kafka at {first.server} ({protocol}): {first.detail}"
    return KafkaConnectError(f"{message}; {_HINTS[kind]}", kind)


async def check_replication(
    settings: Settings, *, timeout: float = 10.0, brokers: Sequence[int] | None = None
) -> None:
    """Raise `ReplicationError` when the replication settings cannot be met.

    ``ASSETSTREAM_REPLICATION_FACTOR`` must not exceed the live brokers (topics could not
    be created), and ``min.insync.replicas`` (`Settings.insync_replicas`) must not exceed
    the replication factor (no acks=all write could ever succeed). ``brokers`` (ids from
    `check_kafka`) saves a second connection; without it the cluster is asked, and
    `KafkaConnectError` is raised when it cannot be.
    """
    factor = settings.replication_factor
    insync = settings.insync_replicas
    if insync > factor:
        raise ReplicationError(
            f"min.insync.replicas {insync} (ASSETSTREAM_MIN_INSYNC_REPLICAS) exceeds "
            f"ASSETSTREAM_REPLICATION_FACTOR={factor}: no write with acks=all could succeed; "
            "lower ASSETSTREAM_MIN_INSYNC_REPLICAS or raise the replication factor"
        )
    live = list(brokers) if brokers is not None else await check_kafka(settings, timeout)
    if factor > len(live):
        ids = ", ".join(str(b) for b in live) or "none"
        raise ReplicationError(
            f"ASSETSTREAM_REPLICATION_FACTOR={factor} but Kafka at "
            f"{settings.kafka_bootstrap_servers} has {len(live)} live broker(s) (ids {ids}): "
            f"topics cannot get {factor} replicas; start more brokers or lower "
            "ASSETSTREAM_REPLICATION_FACTOR"
        )
