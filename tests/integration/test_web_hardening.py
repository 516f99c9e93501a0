"""Holes in the web layer found in review (issue 12), against the real Redis.

A stray cookie, /healthz (cost and what it tells strangers), the `?token=`
redirect with odd ids, the cookie's `Secure` flag, `nosniff` on every
response, and ids echoed into logs. The app runs in-process over httpx's
ASGI transport with a real Redis client; the shared Redis is only read and
written under a fresh namespace per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from redis.asyncio import Redis

from streams.readmodel import ReadModel
from streams.web.app import ApiConfig, create_app
from tests.support.snapshots import CAPRICORN

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
GUARDED = (
    "/assets/AST-QBO-CAPRICORN",
    "/assets/AST-QBO-CAPRICORN/state?as_of=2026-01-01",
    "/accounts/ACC-CAPRICORN/assets",
    "/metrics",
    "/openapi.json",
    "/ui/assets/AST-QBO-CAPRICORN",
    "/ui/static/app.js",
)
# An asset id with every character that means something else in a URL.
ODD_ID = "AST-#1?x=y%25z&token=no"
LOG_TIMEOUT_S = 15.0  # > the outage log's rate-limit interval (5 s)
CHECK_EXPIRY_TIMEOUT_S = 10.0
BURST = 20


@contextlib.asynccontextmanager
async def api(
    redis_url: str,
    *,
    token: str | None = TOKEN,
    kafka: str = "127.0.0.1:9",
    seed: tuple[dict[str, Any], ...] = (CAPRICORN,),
    base_url: str = "http://api",
    **config: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app over a fresh, complete namespace holding `seed`, and a client bound to it."""
    namespace = f"it-web-{uuid.uuid4().hex[:12]}:"
    redis = Redis.from_url(redis_url)
    try:
        model = ReadModel(redis, namespace)
        for snapshot in seed:
            assert await model.put_snapshot(json.dumps(snapshot))
        await model.begin_epoch(targets={})  # nothing left to read: complete
    finally:
        await redis.aclose()
    app = create_app(
        ApiConfig(
            redis_url=redis_url,
            namespace=namespace,
            snapshots_topic=f"{namespace}assets.snapshots",
            kafka_kwargs={"bootstrap_servers": kafka},
            token=token,
            health_timeout_s=2.0,
            **config,
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


class CountingListener:
    """A TCP port that accepts and drops connections, counting them: a broker that never
    answers, to see how often the API tries to reach Kafka."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self.accepted = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
            conn.close()

    def count(self) -> int:
        with self._lock:
            return self.accepted

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def kafka_listener() -> Iterator[CountingListener]:
    listener = CountingListener()
    try:
        yield listener
    finally:
        listener.close()


# ---- cookies --------------------------------------------------------------------


def test_a_stray_cookie_with_an_unusual_name_does_not_break_the_token_check(
    redis_url: str,
) -> None:
    async def scenario() -> None:
        async with api(redis_url) as c:
            for path in GUARDED:
                alone = await c.get(path, headers={"Cookie": "a@b=1"})
                assert alone.status_code == 401, (path, alone.status_code)
                with_token = await c.get(
                    path, headers={"Cookie": f"a@b=1; assetstream_token={TOKEN}; x y=2"}
                )
                assert with_token.status_code == 200, (path, with_token.status_code)
                wrong = await c.get(path, headers={"Cookie": "a@b=1; assetstream_token=nope"})
                assert wrong.status_code == 403, (path, wrong.status_code)

    asyncio.run(scenario())


# ---- /healthz ---------------------------------------------------------------------


def test_healthz_without_the_token_says_only_up_or_down(redis_url: str) -> None:
    async def scenario() -> None:
        async with api(redis_url, kafka="127.0.0.1:9") as c:
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Cookie": "a@b=1"}):
                response = await c.get("/healthz", headers=headers)
                assert response.status_code == 503
                assert response.json() == {"status": "unavailable"}
                assert "127.0.0.1" not in response.text
            detailed = await c.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
            assert detailed.status_code == 503
            body = detailed.json()
            assert (body["redis"]["ok"], body["kafka"]["ok"]) == (True, False)
            assert body["kafka"]["error"]
            assert body["redis"]["read_model"] == "complete"

    asyncio.run(scenario())


def test_healthz_shows_details_when_the_api_has_no_token(
    redis_url: str, kafka_bootstrap: str
) -> None:
    async def scenario() -> None:
        async with api(redis_url, token=None, kafka=kafka_bootstrap) as c:
            response = await c.get("/healthz")
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["status"] == "ok"
            assert (body["redis"]["ok"], body["kafka"]["ok"]) == (True, True)

    asyncio.run(scenario())


def test_a_burst_of_healthz_requests_shares_one_kafka_check(
    redis_url: str, kafka_listener: CountingListener
) -> None:
    async def scenario() -> None:
        async with api(redis_url, kafka=kafka_listener.address) as c:
            burst = await asyncio.gather(*(c.get("/healthz") for _ in range(BURST)))
            assert {r.status_code for r in burst} == {503}
            # One check (aiokafka may connect once or twice in it), not one per request.
            assert 1 <= kafka_listener.count() <= 3

    asyncio.run(scenario())


def test_healthz_reaches_kafka_once_per_cache_period_not_once_per_request(
    redis_url: str, kafka_listener: CountingListener
) -> None:
    async def scenario() -> None:
        async with api(redis_url, kafka=kafka_listener.address, health_cache_s=60.0) as c:
            assert (await c.get("/healthz")).status_code == 503
            after_one = kafka_listener.count()
            for _ in range(BURST):
                assert (await c.get("/healthz")).status_code == 503
            assert kafka_listener.count() == after_one

    asyncio.run(scenario())


def test_healthz_checks_again_once_its_cached_result_expires(
    redis_url: str, kafka_listener: CountingListener
) -> None:
    async def scenario() -> None:
        async with api(redis_url, kafka=kafka_listener.address, health_cache_s=0.2) as c:
            await c.get("/healthz")
            after_one = kafka_listener.count()

            async def checked_again() -> bool:
                await c.get("/healthz")
                return kafka_listener.count() > after_one

            deadline = asyncio.get_running_loop().time() + CHECK_EXPIRY_TIMEOUT_S
            while not await checked_again():
                assert asyncio.get_running_loop().time() < deadline, "no second check"
                await asyncio.sleep(0.1)

    asyncio.run(scenario())


# ---- the ?token= redirect and its cookie ---------------------------------------------


def test_the_token_redirect_keeps_ids_with_hash_question_mark_and_percent(redis_url: str) -> None:
    odd = {**CAPRICORN, "asset_id": ODD_ID}

    async def scenario() -> None:
        async with api(redis_url, seed=(odd,)) as c:
            encoded = quote(ODD_ID, safe="")
            response = await c.get(f"/ui/assets/{encoded}?token={TOKEN}&view=full")
            assert response.status_code == 303
            location = response.headers["location"]
            assert location == f"/ui/assets/{quote(ODD_ID, safe='/')}?view=full"
            page = await c.get(location)  # the client keeps the cookie
            assert page.status_code == 200
            start = page.text.index('<script id="page-data" type="application/json">')
            embedded = page.text[
                page.text.index(">", start) + 1 : page.text.index("</script>", start)
            ]
            assert json.loads(embedded)["asset_id"] == ODD_ID

    asyncio.run(scenario())


def test_the_token_cookie_is_secure_over_https_and_stays_usable_on_plain_http(
    redis_url: str,
) -> None:
    path = f"/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}"

    async def scenario() -> None:
        async with api(redis_url, base_url="https://api") as c:
            cookie = (await c.get(path)).headers["set-cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie
        async with api(redis_url) as c:
            # Behind a TLS-terminating proxy the scheme arrives in a header.
            proxied = await c.get(path, headers={"X-Forwarded-Proto": "https"})
            assert "Secure" in proxied.headers["set-cookie"]
            # Plain http://localhost keeps a cookie the browser will send back.
            plain = (await c.get(path)).headers["set-cookie"]
            assert "Secure" not in plain

    asyncio.run(scenario())


def test_a_forwarded_http_does_not_strip_secure_from_a_tls_request(redis_url: str) -> None:
    async def scenario() -> None:
        async with api(redis_url, base_url="https://api") as c:
            response = await c.get(
                f"/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}", headers={"X-Forwarded-Proto": "http"}
            )
            assert "Secure" in response.headers["set-cookie"]

    asyncio.run(scenario())


# ---- headers on every response ----------------------------------------------------------


def test_every_response_says_nosniff(redis_url: str, free_port: int) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    requests: list[tuple[str, dict[str, str], int]] = [
        ("/assets/AST-QBO-CAPRICORN", bearer, 200),
        ("/assets/AST-NOPE", bearer, 404),
        ("/assets/AST-QBO-CAPRICORN/state?as_of=2026-02-30", bearer, 422),
        ("/accounts/ACC-CAPRICORN/assets", bearer, 200),
        ("/ui/assets/AST-QBO-CAPRICORN", bearer, 200),
        ("/ui/assets/AST-NOPE", bearer, 404),
        ("/ui/static/style.css", bearer, 200),
        ("/metrics", bearer, 200),
        ("/openapi.json", bearer, 200),
        ("/healthz", {}, 503),
        ("/assets/AST-QBO-CAPRICORN", {}, 401),
        ("/assets/AST-QBO-CAPRICORN", {"Authorization": "Bearer nope"}, 403),
        (f"/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}", {}, 303),
        ("/no/such/route", bearer, 404),
    ]

    async def scenario() -> None:
        async with api(redis_url) as c:
            for path, headers, status in requests:
                response = await c.get(path, headers=headers)
                assert response.status_code == status, (path, response.status_code)
                assert response.headers.get("x-content-type-options") == "nosniff", path
        # Redis unreachable: the 503 carries it too.
        down = create_app(
            ApiConfig(
                redis_url=f"redis://127.0.0.1:{free_port}/0",
                namespace="x:",
                snapshots_topic="x",
                kafka_kwargs={"bootstrap_servers": "127.0.0.1:9"},
            )
        )
        async with (
            down.router.lifespan_context(down),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=down), base_url="http://api") as c,
        ):
            response = await c.get("/assets/AST-1")
            assert response.status_code == 503
            assert response.headers.get("x-content-type-options") == "nosniff"

    asyncio.run(scenario())


# ---- logs ---------------------------------------------------------------------------------


def test_ids_echoed_into_logs_have_control_characters_escaped(
    free_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A forged id must not rewrite a log line (CR, bidi override) or reach the terminal (ESC).

    (A newline never gets this far: no route matches a path holding one.)
    """
    caplog.set_level(logging.WARNING, logger="streams.web")
    forged = "AST-1\r2026-01-01 INFO all good\x1b[31m\u202e\\"

    async def scenario() -> None:
        app = create_app(
            ApiConfig(
                redis_url=f"redis://127.0.0.1:{free_port}/0",
                namespace="x:",
                snapshots_topic="x",
                kafka_kwargs={"bootstrap_servers": "127.0.0.1:9"},
            )
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c,
        ):

            async def logged() -> list[logging.LogRecord]:
                # The outage log lets one line through every few seconds; ask until it does.
                response = await c.get(f"/assets/{quote(forged, safe='')}")
                assert response.status_code == 503
                return [r for r in caplog.records if "AST-1" in r.getMessage()]

            deadline = asyncio.get_running_loop().time() + LOG_TIMEOUT_S
            while not (records := await logged()):
                assert asyncio.get_running_loop().time() < deadline, "the outage was never logged"
                await asyncio.sleep(0.2)
            message = records[0].getMessage()
            assert "/assets/AST-1\\x0d2026-01-01 INFO all good\\x1b[31m\\u202e\\\\" in message
            assert not any(c in message for c in "\r\x1b\u202e")

    asyncio.run(scenario())
