"""Helpers of the browser tests: the API in a thread over a seeded Redis, pages, cells.

Debian's headless Chromium driven by Playwright (no browser is downloaded:
Playwright drives /usr/bin/chromium). The API runs on a free loopback port
against a private redis-server; each test module seeds its own namespace with
`serve_api` and opens pages with `open_page`. Screenshots go to test-output/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
STARTUP_TIMEOUT_S = 15.0
PAGE_TIMEOUT_MS = 10_000
TOKEN = "e2e-secret-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def serve_api(
    redis_url: str,
    namespace: str,
    snapshots: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]] = (),
) -> Iterator[str]:
    """The API (token on) on a free port, in a thread, over `namespace` holding the seed.

    The read model is marked complete (a finished build), so unknown ids are 404.
    """
    import uvicorn
    from redis.asyncio import Redis

    from streams.readmodel import ReadModel
    from streams.web.app import ApiConfig, create_app

    async def seed() -> None:
        client = Redis.from_url(redis_url)
        model = ReadModel(client, namespace)
        for snapshot in snapshots:
            await model.put_snapshot(json.dumps(snapshot))
        for record in records:
            await model.put_account_record(json.dumps(record))
        await model.begin_epoch(targets={})
        await client.aclose()

    # Playwright's sync API owns an event loop on this thread; seed on another.
    seeder = threading.Thread(target=asyncio.run, args=(seed(),))
    seeder.start()
    seeder.join(timeout=STARTUP_TIMEOUT_S)
    config = ApiConfig(
        redis_url=redis_url,
        namespace=namespace,
        snapshots_topic="e2e.assets.snapshots",
        kafka_kwargs={"bootstrap_servers": "127.0.0.1:9"},
        token=TOKEN,
        health_timeout_s=1,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, STARTUP_TIMEOUT_S, "the API to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def open_page(browser: Any, url: str, width: int = 1280, height: int = 900) -> Any:
    """A new page at `url` (with `?token=` once: it becomes a cookie), drawn and ready."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("[data-testid=app][data-ready=true]")
    if errors:
        raise AssertionError(f"the page's script failed: {errors}")
    return page


def cell_texts(page: Any, row_testid: str, field: str, within: Any = None) -> list[str]:
    scope = within if within is not None else page
    texts: list[str] = scope.locator(
        f"[data-testid={row_testid}] td[data-field={field}]"
    ).all_text_contents()
    return texts


def screenshot(page: Any, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / name), full_page=True)


def kafka_bootstrap() -> str:
    """KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092); fails the test when nothing listens."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(2)
        if sock.connect_ex((host, int(port))) != 0:
            pytest.fail(f"no Kafka broker at {bootstrap}: start one with `make up`")
    return bootstrap


class Process:
    """A subprocess of this test, its output in a log file, stopped with SIGTERM."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout_s: float, what: str) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"{what} exited early:\n{self.output()[-3000:]}")
            return needle in self.output()

        wait_until(seen, timeout_s, what)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
