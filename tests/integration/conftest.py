"""Fixtures for tests that talk to the real Kafka broker and Redis over TCP.

`make test` starts both (scripts/up.sh) and exports KAFKA_BOOTSTRAP_SERVERS and
REDIS_URL. A missing broker or Redis FAILS the test, never skips it.

Fixtures:
    kafka_bootstrap   "host:port" of a broker that answered a Metadata request
    redis_url         a Redis URL that answered PING
    topic_prefix      a fresh "it-<uuid>." per test, for topic names and app ids
    stack_env         os.environ + the three values above, for subprocesses
    wait_until        wait_until(predicate, timeout=, what=) polls; no bare sleeps
    start_process     start_process(argv, env=, name=) -> a running subprocess with
                      its output in a log file; stopped (SIGTERM) at teardown
    free_port         an unused loopback TCP port
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
READY_TIMEOUT_S = 10.0


class WaitTimeout(AssertionError):
    """A polled condition did not become true in time; the message names it."""


def wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> Any:
    """Poll ``predicate`` until it returns a truthy value; return that value.

    Raises WaitTimeout naming ``what`` and the timeout when it never does.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


async def _kafka_metadata(bootstrap: str) -> int:
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(client.bootstrap(), READY_TIMEOUT_S)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), READY_TIMEOUT_S)
        return len(metadata.brokers())
    finally:
        await client.close()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The broker from KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), checked by Metadata."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    try:
        brokers = asyncio.run(_kafka_metadata(bootstrap))
    except Exception as exc:
        pytest.fail(
            f"no Kafka broker answers at {bootstrap} ({type(exc).__name__}: {exc}); "
            "start one with `make up` or run the suite with `make test`",
            pytrace=False,
        )
    if brokers < 1:
        pytest.fail(f"Kafka at {bootstrap} lists no brokers", pytrace=False)
    return bootstrap


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis from REDIS_URL (default redis://127.0.0.1:6379/0), checked by PING."""
    import redis

    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        pytest.fail(
            f"no Redis answers at {url} ({type(exc).__name__}: {exc}); "
            "start one with `make up` or run the suite with `make test`",
            pytrace=False,
        )
    finally:
        client.close()
    return url


@pytest.fixture
def topic_prefix() -> str:
    """A unique prefix per test: topics and app ids never collide on a shared broker."""
    return f"it-{uuid.uuid4().hex[:12]}."


@pytest.fixture
def stack_env(kafka_bootstrap: str, redis_url: str, topic_prefix: str) -> dict[str, str]:
    """Environment for a subprocess of the app: broker, Redis and this test's prefix."""
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        REDIS_URL=redis_url,
        ASSETSTREAM_TOPIC_PREFIX=topic_prefix,
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    """`wait_until(predicate, timeout=..., what=...)`: poll with a named timeout."""
    return wait_until


@pytest.fixture
def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (e.g. for a worker's web server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningProcess:
    """A subprocess started by `start_process`, with its output captured in ``log_path``."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    def log_text(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for_log(self, needle: str, *, timeout: float) -> None:
        """Wait until ``needle`` appears in the output; fail at once if the process exits."""

        def seen() -> bool:
            if needle in self.log_text():
                return True
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode} before printing "
                    f"{needle!r}; output:\n{self.log_text()[-4000:]}"
                )
            return False

        wait_until(seen, timeout=timeout, what=f"{self.name} to print {needle!r}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a clean faust shutdown), then SIGKILL after ``timeout``; return the code."""
        if not self._stopped:
            self._stopped = True
            if self.alive():
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, for at-least-once tests (no commit, no flush)."""
        self._stopped = True
        if self.alive():
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def start_process(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., RunningProcess]]:
    """Factory: ``start_process(argv, env=..., name=...)`` runs argv from the repo root.

    ``argv[0] == "python"`` means this interpreter. Example, a faust worker:
    ``start_process(["python", "-m", "tests.integration.smoke_app", "worker", "-l", "info",
    "--without-web"], env=stack_env, name="smoke worker")``. Every process is stopped at
    teardown; when the test failed, the tail of its output is printed.
    """
    started: list[RunningProcess] = []

    def start(
        argv: Sequence[str], *, env: Mapping[str, str] | None = None, name: str | None = None
    ) -> RunningProcess:
        args = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
        label = name or " ".join(argv[:4])
        log_path = tmp_path / f"process-{len(started)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args,
                cwd=REPO_ROOT,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        running = RunningProcess(label, args, process, log_path)
        started.append(running)
        return running

    yield start

    failed = getattr(request.node, "rep_call_failed", False)
    for running in reversed(started):
        running.stop()
        if failed:
            print(f"\n----- output of {running.name} (last 4000 chars) -----")
            print(running.log_text()[-4000:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember whether the test body failed, so fixtures can print process output."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed:
        item.rep_call_failed = True  # type: ignore[attr-defined]
