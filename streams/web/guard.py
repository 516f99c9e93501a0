"""Pure ASGI middleware in front of every route: the bearer token, safe headers, metrics.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: it adds no task or
stream per request, which keeps GET /assets/{id} cheap. Every response leaves
through it, so it adds `X-Content-Type-Options: nosniff` to all of them, and
an error no handler answered becomes a JSON 500 (logged, path escaped).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode

from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import cookie_parser

from streams.web.logs import log, printable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE: Final = "assetstream_token"
# Set in the scope by the guard: True when the request may see everything
# (valid credentials, or no token configured). /healthz shows details only then.
AUTHENTICATED: Final = "assetstream.authenticated"
_NOSNIFF: Final = (b"x-content-type-options", b"nosniff")


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
    """Pure ASGI middleware: bearer-token check, `nosniff`, request metrics.

    Credentials, in order: `Authorization: Bearer <token>`, the `assetstream_token`
    cookie, and (pages under /ui/ only) a `token` query parameter, which is moved
    into the cookie by a redirect so it does not stay in the address bar.
    No credentials → 401; wrong ones → 403. `/healthz` is always answered;
    the route shows details only to an authenticated request (`AUTHENTICATED`).
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
        response_started = False

        async def send_and_record(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                message["headers"] = [*message.get("headers", ()), _NOSNIFF]
            await send(message)

        method = str(scope.get("method", ""))
        try:
            refusal, authenticated = self._decide(scope)
            scope[AUTHENTICATED] = authenticated
            if refusal is None:
                await self.app(scope, receive, send_and_record)
            else:
                await refusal(scope, receive, send_and_record)
        except Exception:
            log.exception(
                "api: unhandled error answering %s %s", method, printable(scope.get("path", ""))
            )
            if response_started:
                raise
            # Answered here rather than by Starlette's outermost handler, so it
            # is JSON like every other error and carries the same headers.
            error = JSONResponse({"error": "internal error"}, status_code=500)
            await error(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            # The template without converters ("/assets/{asset_id}"): bounded label values.
            label = getattr(route, "path_format", None) or "unmatched"
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - started)

    def _decide(self, scope: Scope) -> tuple[Response | None, bool]:
        """The refusal (None: the request may proceed) and whether it is authenticated."""
        if self.token is None:
            return None, True
        headers = _headers(scope)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        offered: str | None = None
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            offered = credentials.strip()
        elif "cookie" in headers:
            # Browsers' lenient parsing: a stray cookie with an unusual name
            # (`a@b=1`, set by another app on the host) must not break ours.
            offered = cookie_parser(headers["cookie"]).get(TOKEN_COOKIE)
        tokens = [v for k, v in query if k == "token"]
        from_query = scope["path"].startswith("/ui/") and bool(tokens)
        if from_query:
            offered = tokens[-1]
        valid = offered is not None and hmac.compare_digest(offered.encode(), self.token.encode())
        if scope["path"] == "/healthz":
            return None, valid
        if offered is None:
            return JSONResponse(
                {
                    "error": "authentication required",
                    "hint": "send 'Authorization: Bearer <token>'; in a browser open "
                    "/ui/...?token=<token> once",
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="assetstream"'},
            ), False
        if not valid:
            return JSONResponse(
                {"error": "invalid token"},
                status_code=403,
                headers={"WWW-Authenticate": 'Bearer realm="assetstream", error="invalid_token"'},
            ), False
        if from_query:
            return _token_redirect(scope, headers, query, offered), True
        return None, True


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; repeated Cookie headers (HTTP/2) are joined."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name == "cookie" and name in headers:
            headers[name] = f"{headers[name]}; {value}"
        else:
            headers[name] = value
    return headers


def _token_redirect(
    scope: Scope, headers: dict[str, str], query: Sequence[tuple[str, str]], token: str
) -> Response:
    """303 to the same page without the token, which moves into the cookie."""
    # The path arrives decoded: re-encode it, or an id holding '#', '?' or '%'
    # would end at the fragment or query, or decode twice. Only '/' stays
    # literal (ids may contain it; the routes take it either way).
    location = quote(scope["path"], safe="/")
    rest = [(k, v) for k, v in query if k != "token"]
    if rest:
        location += "?" + urlencode(rest)
    redirect = RedirectResponse(location, 303)
    redirect.set_cookie(
        TOKEN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/",
        secure=_served_over_https(scope, headers),
    )
    return redirect


def _served_over_https(scope: Scope, headers: dict[str, str]) -> bool:
    """Whether the browser reached us over TLS, directly or through a proxy.

    uvicorn already sets the scheme from X-Forwarded-Proto for proxies it
    trusts (FORWARDED_ALLOW_IPS, loopback by default). The header is read
    here too, for proxies elsewhere, because it can only *add* `Secure`: a
    forged "https" costs the forger their own cookie over plain http, and no
    header can take `Secure` away from a request that came over TLS.
    """
    if scope.get("scheme") == "https":
        return True
    forwarded = headers.get("x-forwarded-proto", "")
    return "https" in (p.strip().lower() for p in forwarded.split(","))
