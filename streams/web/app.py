"""The HTTP read API and the asset pages (FastAPI), served from the Redis read model.

Routes: `/assets/{id}`, `/assets/{id}/state`, `/accounts/{id}` (the account record,
SPEC §10), `/accounts/{id}/assets` (a page of the account's assets), `/healthz`,
`/metrics`, `/openapi.json`, and the pages `/ui/assets/{id}`, `/ui/accounts/{id}`.
Swagger's `/docs` is disabled: it loads its script from a CDN, and the API must
work offline; `/openapi.json` is the document.

When a token is configured every route but `/healthz` requires it (see `guard.Guard`);
`/healthz` then says only up or down to a request without it.

While the read model is not complete (being rebuilt from the topics, or its
marker is gone because Redis lost its data), what cannot be found is answered
503 "read model rebuilding" with Retry-After instead of 404, and account views
are 503 too: they cannot know whether all their assets are back.

No route reads more than one page of anything: an account's assets come from
its index in Redis, `limit` (≤ 1,000) summaries at a time, so an account with
20,000 assets answers as fast as one with 20.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from streams.readmodel import ReadModel, ReadModelState, namespace_for
from streams.web import models
from streams.web.guard import AUTHENTICATED, Guard, RequestMetrics
from streams.web.health import HealthCheck
from streams.web.logs import outage_log, printable
from streams.web.pages import (
    PAGE_CSP,
    REBUILD_RETRY_S,
    STATIC_FILES,
    etag_of,
    read_static,
    render_page,
    render_rebuilding,
)
from streams.web.state import state_at

if TYPE_CHECKING:
    from streams.settings import Settings

# Module level: FastAPI resolves these annotations by name at request time.
AssetId = Annotated[str, Path(description="The asset's id, e.g. AST-QBO-CAPRICORN.")]
AccountId = Annotated[str, Path(description="The account's id, e.g. ACC-CAPRICORN.")]
PAGE_LIMIT_DEFAULT = 100
PAGE_LIMIT_MAX = 1000


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """What the API needs; built from Settings, or directly by tests."""

    redis_url: str
    namespace: str
    snapshots_topic: str
    kafka_kwargs: Mapping[str, Any] = field(default_factory=dict)
    # The accounts.mrr topic (full name): while the build does not list it (it does
    # not exist yet), GET /accounts/{id} says so (503) instead of a 404. None: no check.
    accounts_topic: str | None = None
    token: str | None = None
    health_timeout_s: float = 3.0
    # /healthz answers from one check for this long (a probe per second costs one check).
    health_cache_s: float = 2.0


def config_from_settings(settings: Settings) -> ApiConfig:
    from streams.settings import aiokafka_kwargs, topic_name
    from streams.sinks.redis_projection import ACCOUNTS_TOPIC, SNAPSHOTS_TOPIC

    token = settings.api_token.get_secret_value() if settings.api_token else None
    return ApiConfig(
        redis_url=settings.redis_url,
        namespace=namespace_for(settings.topic_prefix),
        snapshots_topic=topic_name(settings, SNAPSHOTS_TOPIC),
        kafka_kwargs=aiokafka_kwargs(settings),
        token=token or None,
        accounts_topic=topic_name(settings, ACCOUNTS_TOPIC),
    )


class ApiError(Exception):
    """An error answered as JSON `{"error": message, **extra}`."""

    def __init__(
        self, status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra


def rebuilding_error(state: ReadModelState, **ids: str) -> ApiError:
    """503 for what is not back yet while the read model is rebuilt."""
    return ApiError(
        503,
        "read model rebuilding",
        headers={"Retry-After": str(REBUILD_RETRY_S)},
        read_model=state.value,
        **ids,
    )


async def _missing(model: ReadModel, error: ApiError, **ids: str) -> ApiError:
    """`error` (a 404) if the read model is complete, else the 503 "rebuilding"."""
    state = await model.state()
    return error if state is ReadModelState.COMPLETE else rebuilding_error(state, **ids)


def parse_date_param(name: str, value: str | None) -> date | None:
    """A YYYY-MM-DD query parameter, or a 422 naming it."""
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            422,
            f"{name} must be a calendar date YYYY-MM-DD, got {value!r}",
            parameter=name,
        ) from None


def unknown_asset(asset_id: str) -> ApiError:
    return ApiError(404, f"unknown asset {asset_id!r}", asset_id=asset_id)


def unknown_account(account_id: str) -> ApiError:
    return ApiError(404, f"unknown account {account_id!r}", account_id=account_id)


def account_row(summary: Mapping[str, Any], on: date | None) -> dict[str, Any]:
    """A row of an account's asset list, from the asset's summary (on a date, if given)."""
    state = state_at(summary, on) if on is not None else None
    return {
        "asset_id": summary["asset_id"],
        "product_code": summary.get("product_code"),
        "product_name": summary.get("product_name"),
        "currency": summary["currency"],
        "status": state.status if state else summary["status"],
        "current_quantity": state.quantity if state else summary["current_quantity"],
        "current_mrr": state.mrr if state else summary["current_mrr"],
        "lifecycle_start_date": summary["lifecycle_start_date"],
        "lifecycle_end_date": summary["lifecycle_end_date"],
        "auto_renew": summary.get("auto_renew"),
        "next_renewal_date": summary.get("next_renewal_date"),
        "version": summary["version"],
        "as_of": on.isoformat() if on else summary["as_of"],
    }


def create_app(config: ApiConfig, redis: Any = None) -> FastAPI:
    """Build the app. `redis` (a redis.asyncio client) is opened from the URL if not given."""
    page_template = read_static("page.html").decode("utf-8")
    static = {name: read_static(name) for name in STATIC_FILES}
    static_etag = {name: etag_of(body) for name, body in static.items()}
    metrics = RequestMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = redis
        if client is None:
            from redis.asyncio import BlockingConnectionPool, Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # Fail fast: a request waits at most ~2 s for Redis, then gets a 503.
            # A burst beyond the pool waits for a free connection instead of
            # failing with "too many connections".
            pool = BlockingConnectionPool.from_url(
                config.redis_url,
                max_connections=64,
                timeout=2,
                socket_connect_timeout=1,
                socket_timeout=2,
                retry=Retry(NoBackoff(), 1),
            )
            client = Redis.from_pool(pool)
        model = ReadModel(client, config.namespace)
        app.state.model = model
        app.state.health = HealthCheck(
            model,
            config.kafka_kwargs,
            config.snapshots_topic,
            timeout_s=config.health_timeout_s,
            ttl_s=config.health_cache_s,
        )
        try:
            yield
        finally:
            if redis is None:
                await client.aclose()

    app = FastAPI(
        title="assetstream read API",
        version="1.0",
        summary="Asset snapshots, state on any date and account views, from the Redis read model.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(Guard, token=config.token, metrics=metrics)

    def model_of(request: Request) -> ReadModel:
        model: ReadModel = request.app.state.model
        return model

    # ---- errors -------------------------------------------------------------

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.message, **exc.extra}, status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        names = [str(e["loc"][-1]) for e in errors if e.get("loc")]
        first = names[0] if names else "request"
        message = f"{first}: {errors[0]['msg']}" if errors else "invalid request"
        if first == "as_of":
            message = "as_of must be a calendar date YYYY-MM-DD"
        return JSONResponse(
            {
                "error": message,
                "parameter": first,
                "detail": json.loads(json.dumps(errors, default=str)),
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        outage_log.warning(
            "api: read model unavailable answering %s %s (%s: %s)",
            request.method,
            printable(request.scope.get("path", "")),
            type(exc).__name__,
            exc,
        )
        return JSONResponse(
            {"error": "read model unavailable", "detail": f"{type(exc).__name__}: {exc}"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    not_found: dict[int | str, dict[str, Any]] = {
        404: {"model": models.ErrorModel},
        503: {"model": models.ErrorModel, "description": "Redis unreachable, or rebuilding"},
    }
    bad_date: dict[int | str, dict[str, Any]] = {422: {"model": models.ErrorModel}}

    # ---- JSON API -----------------------------------------------------------

    @app.get(
        # Before the snapshot route: ids may contain "/" (e.g. "ORD-1/1"), so
        # "{asset_id:path}" would otherwise swallow "/state".
        "/assets/{asset_id:path}/state",
        response_class=JSONResponse,
        responses={200: {"model": models.StateModel}, **not_found, **bad_date},
        summary="Quantity, MRR, status and period in effect on a date",
        tags=["assets"],
    )
    async def get_asset_state(
        request: Request,
        asset_id: AssetId,
        as_of: Annotated[
            str | None,
            Query(
                description="YYYY-MM-DD; defaults to the snapshot's own as_of.",
                examples=["2026-03-01"],
            ),
        ] = None,
    ) -> JSONResponse:
        on = parse_date_param("as_of", as_of)
        model = model_of(request)
        snapshot = await model.get_snapshot(asset_id)
        if snapshot is None:
            raise await _missing(model, unknown_asset(asset_id), asset_id=asset_id)
        day = on or date.fromisoformat(snapshot["as_of"])
        return JSONResponse(state_at(snapshot, day).to_dict())

    @app.get(
        "/assets/{asset_id:path}",
        response_class=Response,
        responses={200: {"model": models.SnapshotModel}, **not_found},
        summary="The asset's latest snapshot, as published",
        tags=["assets"],
    )
    async def get_asset(request: Request, asset_id: AssetId) -> Response:
        model = model_of(request)
        raw = await model.get_snapshot_json(asset_id)
        if raw is None:
            raise await _missing(model, unknown_asset(asset_id), asset_id=asset_id)
        return Response(raw, media_type="application/json")

    @app.get(
        # Before the record's route: "{account_id:path}" would swallow "/assets".
        "/accounts/{account_id:path}/assets",
        response_class=JSONResponse,
        responses={200: {"model": models.AccountAssetsModel}, **not_found, **bad_date},
        summary="A page of the account's assets (summaries, in asset id order)",
        description=(
            "Pages follow the asset ids: pass the answer's `next_after` as `after` for the "
            "next page; `next_after` is null on the last one. Each page costs the same "
            "whatever the account's size. The account's MRR totals are in "
            "`GET /accounts/{account_id}`."
        ),
        tags=["accounts"],
    )
    async def get_account_assets(
        request: Request,
        account_id: AccountId,
        as_of: Annotated[
            str | None,
            Query(description="YYYY-MM-DD; defaults to each snapshot's as_of."),
        ] = None,
        after: Annotated[
            str | None,
            Query(description="Start after this asset id (the previous page's `next_after`)."),
        ] = None,
        limit: Annotated[
            int,
            Query(ge=1, le=PAGE_LIMIT_MAX, description="Most assets on the page."),
        ] = PAGE_LIMIT_DEFAULT,
    ) -> JSONResponse:
        on = parse_date_param("as_of", as_of)
        return JSONResponse(await _asset_page(request, account_id, on, after, limit))

    async def _asset_page(
        request: Request, account_id: str, on: date | None, after: str | None, limit: int
    ) -> dict[str, Any]:
        model = model_of(request)
        # An account is whole only in a complete read model: while it is rebuilt
        # some of its assets may not be back, and a partial list would mislead.
        state = await model.state()
        if state is not ReadModelState.COMPLETE:
            raise rebuilding_error(state, account_id=account_id)
        page = await model.account_assets(account_id, after=after, limit=limit)
        if page.count == 0:
            raise unknown_account(account_id)
        return {
            "account_id": account_id,
            "as_of": on.isoformat() if on else None,
            "count": page.count,
            "limit": limit,
            "after": after,
            "next_after": page.next_after,
            "assets": [account_row(s, on) for s in page.summaries],
        }

    @app.get(
        "/accounts/{account_id:path}",
        response_class=Response,
        responses={200: {"model": models.AccountRecordModel}, **not_found},
        summary="The account record: MRR timeline, movements, current MRR and ARR per currency",
        description=(
            "Exactly as published on `accounts.mrr` (SPEC §10). 503 while the read model is "
            "rebuilt, or while that topic is not projected yet (it does not exist)."
        ),
        tags=["accounts"],
    )
    async def get_account(request: Request, account_id: AccountId) -> Response:
        model = model_of(request)
        raw = await model.get_account_mrr_json(account_id)
        if raw is None:
            raise await _missing_account(model, account_id)
        return Response(raw, media_type="application/json")

    async def _missing_account(model: ReadModel, account_id: str) -> ApiError:
        """404, or 503 while the build is incomplete or does not include accounts.mrr."""
        epoch = await model.epoch()
        if epoch is None or epoch.state is not ReadModelState.COMPLETE:
            state = ReadModelState.MISSING if epoch is None else epoch.state
            return rebuilding_error(state, account_id=account_id)
        topic = config.accounts_topic
        if topic is not None and topic not in epoch.topics:
            return ApiError(
                503,
                "account records are not projected yet",
                headers={"Retry-After": str(REBUILD_RETRY_S)},
                detail=f"topic {topic!r} does not exist yet: the worker creates it at start-up",
                read_model=epoch.state.value,
                account_id=account_id,
            )
        return unknown_account(account_id)

    # ---- operations ---------------------------------------------------------

    @app.get(
        "/healthz",
        response_class=JSONResponse,
        responses={200: {"model": models.HealthModel}, 503: {"model": models.HealthModel}},
        summary="Redis and Kafka reachability (never needs the token; details only with it)",
        tags=["operations"],
    )
    async def healthz(request: Request) -> JSONResponse:
        health: HealthCheck = request.app.state.health
        report = await health.report()
        body: dict[str, object] = {"status": "ok" if report.ok else "unavailable"}
        # Errors name internal hosts and ports: only for those holding the token.
        if request.scope.get(AUTHENTICATED, False):
            body.update(report.details)
        return JSONResponse(body, status_code=200 if report.ok else 503)

    @app.get(
        "/metrics",
        response_class=Response,
        summary="Prometheus metrics (text exposition format)",
        tags=["operations"],
    )
    async def get_metrics() -> Response:
        # The process-wide registry carries the projection's counters when the
        # projection runs in this process, plus process and GC metrics.
        body = generate_latest(metrics.registry) + generate_latest(REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> JSONResponse:
        return JSONResponse(
            {
                "openapi": "/openapi.json",
                "asset": "/assets/{asset_id}",
                "state": "/assets/{asset_id}/state?as_of=YYYY-MM-DD",
                "account": "/accounts/{account_id}",
                "account_assets": "/accounts/{account_id}/assets?after=&limit=",
                "asset_page": "/ui/assets/{asset_id}",
                "account_page": "/ui/accounts/{account_id}",
                "health": "/healthz",
                "metrics": "/metrics",
            }
        )

    # ---- pages --------------------------------------------------------------

    page_headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}

    def page(kind: str, title: str, data: bytes | str, status: int = 200) -> HTMLResponse:
        body = render_page(page_template, kind, title, data)
        return HTMLResponse(body, status_code=status, headers=page_headers)

    def not_found_page(kind: str, item_id: str, error: ApiError) -> HTMLResponse:
        if error.status == 503:
            return HTMLResponse(
                render_rebuilding(kind, item_id),
                status_code=503,
                headers={**page_headers, **error.headers},
            )
        missing = json.dumps({"kind": kind, "id": item_id})
        return page("notfound", f"{kind.capitalize()} {item_id} not found", missing, 404)

    @app.get("/ui/assets/{asset_id:path}", response_class=HTMLResponse, tags=["pages"])
    async def asset_page(request: Request, asset_id: AssetId) -> HTMLResponse:
        model = model_of(request)
        raw = await model.get_snapshot_json(asset_id)
        if raw is None:
            error = await _missing(model, unknown_asset(asset_id), asset_id=asset_id)
            return not_found_page("asset", asset_id, error)
        return page("asset", f"Asset {asset_id}", raw)

    @app.get("/ui/accounts/{account_id:path}", response_class=HTMLResponse, tags=["pages"])
    async def account_page(
        request: Request,
        account_id: AccountId,
        after: Annotated[str | None, Query(description="Assets after this id.")] = None,
    ) -> HTMLResponse:
        """The account record (chart, movements) and one page of its assets."""
        model = model_of(request)
        raw = await model.get_account_mrr_json(account_id)
        try:
            view = await _asset_page(request, account_id, None, after, PAGE_LIMIT_DEFAULT)
        except ApiError as exc:
            # 503 while rebuilding; 404 unless a record outlived the last asset.
            if exc.status != 404 or raw is None:
                return not_found_page("account", account_id, exc)
            view = {"account_id": account_id, "count": 0, "limit": PAGE_LIMIT_DEFAULT,
                    "after": after, "next_after": None, "assets": []}  # fmt: skip
        view["record"] = None if raw is None else json.loads(raw, parse_float=Decimal)
        return page("account", f"Account {account_id}", json.dumps(view, default=str))

    @app.get("/ui/static/{name}", include_in_schema=False)
    async def static_file(request: Request, name: str) -> Response:
        if name not in static:
            raise ApiError(404, f"no static file {name!r}")
        etag = static_etag[name]
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(
            static[name],
            media_type=STATIC_FILES[name],
            headers={"ETag": etag, "Cache-Control": "no-cache"},
        )

    return app


def app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn --factory streams.web.app:app_from_env`."""
    from streams.settings import load_settings

    return create_app(config_from_settings(load_settings()))
