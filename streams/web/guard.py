"""Pure ASGI middleware in front of every route: the bearer token and request metrics.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: it adds no task or
stream per request, which keeps GET /assets/{id} cheap.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE: Final = "assetstream_token"


@dataclass(slots=True)
class RequestMetrics:
    """Request counts and latency by route template, in a registry of their own."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> RequestMetrics:
        # One registry per app, so several apps (tests) can live in one process.
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "assetstream_api_requests_total",
                "HTTP requests answered, by method, route template and status.",
                ["method", "route", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "assetstream_api_request_duration_seconds",
                "Time to answer an HTTP request, by method and route template.",
                ["method", "route"],
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            ),
        )


class Guard:
    """Pure ASGI middleware: bearer-token check and request metrics.

    Credentials, in order: `Authorization: Bearer <token>`, the `assetstream_token`
    cookie, and (pages under /ui/ only) a `token` query parameter, which is moved
    into the cookie by a redirect so it does not stay in the address bar.
    No credentials → 401; wrong ones → 403. `/healthz` is always open.
    """

    def __init__(self, app: ASGIApp, token: str | None, metrics: RequestMetrics) -> None:
        self.app = app
        self.token = token
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None:
                await self.app(scope, receive, send_and_record)
            else:
                await refusal(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            # The template without converters ("/assets/{asset_id}"): bounded label values.
            label = getattr(route, "path_format", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - started)

    def _refusal(self, scope: Scope) -> Response | None:
        """None when the request may proceed, else the response that refuses it."""
        if self.token is None or scope["path"] == "/healthz":
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        offered: str | None = None
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            offered = credentials.strip()
        elif "cookie" in headers:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(headers["cookie"])
            if TOKEN_COOKIE in cookie:
                offered = cookie[TOKEN_COOKIE].value
        from_query = scope["path"].startswith("/ui/") and "token" in query
        if from_query:
            offered = query["token"]
        if offered is None:
            return JSONResponse(
                {
                    "error": "authentication required",
                    "hint": "send 'Authorization: Bearer <token>'; in a browser open "
                    "/ui/...?token=<token> once",
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="assetstream"'},
            )
        if not hmac.compare_digest(offered.encode(), self.token.encode()):
            return JSONResponse(
                {"error": "invalid token"},
                status_code=403,
                headers={"WWW-Authenticate": 'Bearer realm="assetstream", error="invalid_token"'},
            )
        if from_query:
            rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
            redirect = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), 303)
            redirect.set_cookie(TOKEN_COOKIE, offered, httponly=True, samesite="strict", path="/")
            return redirect
        return None
