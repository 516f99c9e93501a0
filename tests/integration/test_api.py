"""The HTTP API against the real Redis (and the real broker for /healthz).

Snapshots are written with the read model's own versioned write under a fresh
namespace per test, which is then marked complete (as a finished build is);
the app runs in-process (its lifespan opens a real Redis client) and is
called over httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from streams.readmodel import ProgressUpdate, ReadModel
from streams.web.app import ApiConfig, create_app
from tests.support.snapshots import CAPRICORN, CAPRICORN_ACCOUNT

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"

JPY_ASSET: dict[str, Any] = {
    **CAPRICORN,
    "asset_id": "AST-JPY",
    "currency": "JPY",
    "version": 1,
    "current_mrr": "25000",
    "total_lifecycle_amount": "300000",
    "state_periods": [
        {
            "start_date": "2025-08-10",
            "end_date": "2026-08-10",
            "quantity": "1",
            "mrr": "25000",
            "amount": "300000",
        }
    ],
    "actions": [],
}
SECOND_USD: dict[str, Any] = {
    **CAPRICORN,
    "asset_id": "AST-TINY",
    "version": 1,
    "current_mrr": "0.10",
}


@contextlib.asynccontextmanager
async def api(
    redis_url: str,
    *,
    token: str | None = None,
    kafka: str = "127.0.0.1:9",
    seed: tuple[dict[str, Any], ...] = (CAPRICORN, JPY_ASSET, SECOND_USD),
    accounts: tuple[dict[str, Any], ...] = (CAPRICORN_ACCOUNT,),
    namespace: str | None = None,
    complete: bool = True,
    accounts_topic: str | None = None,
    topics: tuple[str, ...] = (),
) -> AsyncIterator[httpx.AsyncClient]:
    """The app over a namespace holding `seed` and the account records `accounts`.

    `complete=False` leaves the read model without its marker (never built, or
    Redis lost its data); `topics` are the topics the (complete) build lists.
    """
    namespace = namespace or fresh_namespace()
    redis = Redis.from_url(redis_url)
    try:
        model = ReadModel(redis, namespace)
        # A stale copy (an older version seeded after a newer one) is skipped.
        for snapshot in seed:
            await model.put_snapshot(json.dumps(snapshot))
        for record in accounts:
            await model.put_account_record(json.dumps(record))
        if complete:
            await model.begin_epoch(targets={}, topics=topics)  # nothing to read: complete
    finally:
        await redis.aclose()
    app = create_app(
        ApiConfig(
            redis_url=redis_url,
            namespace=namespace,
            snapshots_topic=f"{namespace}assets.snapshots",
            kafka_kwargs={"bootstrap_servers": kafka},
            token=token,
            health_timeout_s=5.0,
            accounts_topic=accounts_topic,
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c,
    ):
        yield c


def fresh_namespace() -> str:
    return f"it-api-{uuid.uuid4().hex[:12]}:"


def run(redis_url: str, body: Callable[[httpx.AsyncClient], Awaitable[None]], **kw: Any) -> None:
    async def scenario() -> None:
        async with api(redis_url, **kw) as client:
            await body(client)

    asyncio.run(scenario())


# ---- snapshots ------------------------------------------------------------------


def test_an_asset_is_served_exactly_as_published(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/assets/AST-QBO-CAPRICORN")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == CAPRICORN
        # Money stays a string with its digits: "12.50", never 12.5.
        assert '"mrr_change": "12.50"' in response.text

    run(redis_url, body)


def test_an_unknown_asset_is_a_404_with_a_json_error(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        for path in ("/assets/AST-NOPE", "/assets/AST-NOPE/state?as_of=2026-01-01"):
            response = await c.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"] == "unknown asset 'AST-NOPE'"

    run(redis_url, body)


def test_an_asset_id_with_slashes_is_found(redis_url: str) -> None:
    transferred = {**CAPRICORN, "asset_id": "AST-QBO-CAPRICORN/transfer/evt-9"}

    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/assets/AST-QBO-CAPRICORN%2Ftransfer%2Fevt-9")
        assert response.status_code == 200
        assert response.json()["asset_id"] == "AST-QBO-CAPRICORN/transfer/evt-9"
        state = await c.get("/assets/AST-QBO-CAPRICORN/transfer/evt-9/state?as_of=2026-03-01")
        assert (state.status_code, state.json()["quantity"]) == (200, "8")
        page = await c.get("/ui/assets/AST-QBO-CAPRICORN%2Ftransfer%2Fevt-9")
        assert page.status_code == 200

    run(redis_url, body, seed=(transferred,))


# ---- state on a date --------------------------------------------------------------


def test_state_inside_the_lifecycle_gives_the_period_in_effect(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/assets/AST-QBO-CAPRICORN/state", params={"as_of": "2025-12-31"})
        assert response.status_code == 200
        assert response.json() == {
            "asset_id": "AST-QBO-CAPRICORN",
            "as_of": "2025-12-31",
            "status": "active",
            "quantity": "5",
            "mrr": "20.83",
            "currency": "USD",
            "period": CAPRICORN["state_periods"][0],
            "version": 2,
        }

    run(redis_url, body)


def test_state_before_the_start_is_scheduled_with_nothing_in_effect(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        state = (await c.get("/assets/AST-QBO-CAPRICORN/state?as_of=2025-08-09")).json()
        assert (state["status"], state["quantity"], state["mrr"], state["period"]) == (
            "scheduled",
            "0",
            "0.00",
            None,
        )

    run(redis_url, body)


def test_state_on_and_after_the_end_date_is_expired(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        for day in ("2026-08-10", "2030-01-01"):
            state = (await c.get(f"/assets/AST-QBO-CAPRICORN/state?as_of={day}")).json()
            assert (state["status"], state["quantity"], state["mrr"]) == ("expired", "0", "0.00")

    run(redis_url, body)


def test_state_without_a_date_uses_the_snapshot_as_of(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        state = (await c.get("/assets/AST-QBO-CAPRICORN/state")).json()
        assert (state["as_of"], state["quantity"], state["mrr"]) == ("2026-03-01", "8", "33.33")

    run(redis_url, body)


@pytest.mark.parametrize(
    "bad", ["2026-02-30", "2026-13-01", "tomorrow", "2026-3-1", "20260301", "", "2026-03-01T00:00"]
)
def test_a_bad_date_is_a_422_naming_the_parameter(redis_url: str, bad: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        for path in ("/assets/AST-QBO-CAPRICORN/state", "/accounts/ACC-CAPRICORN/assets"):
            response = await c.get(path, params={"as_of": bad})
            assert response.status_code == 422, (path, bad)
            assert response.json()["parameter"] == "as_of"
            assert "as_of" in response.json()["error"]

    run(redis_url, body)


# ---- accounts -----------------------------------------------------------------------


def test_an_account_lists_a_page_of_its_assets_in_id_order(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/accounts/ACC-CAPRICORN/assets")
        assert response.status_code == 200
        account = response.json()
        assert [a["asset_id"] for a in account["assets"]] == [
            "AST-JPY",
            "AST-QBO-CAPRICORN",
            "AST-TINY",
        ]
        assert (account["count"], account["limit"], account["next_after"]) == (3, 100, None)
        assert account["assets"][1] == {
            "asset_id": "AST-QBO-CAPRICORN",
            "product_code": "QBO",
            "product_name": "QuickBooks Online",
            "currency": "USD",
            "status": "active",
            "current_quantity": "8",
            "current_mrr": "33.33",
            "lifecycle_start_date": "2025-08-10",
            "lifecycle_end_date": "2026-08-10",
            "auto_renew": None,  # published before SPEC §9
            "next_renewal_date": None,
            "version": 2,
            "as_of": "2026-03-01",
        }

    run(redis_url, body)


def test_pages_follow_the_asset_ids_until_the_last_page(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        first = (await c.get("/accounts/ACC-CAPRICORN/assets", params={"limit": 2})).json()
        assert [a["asset_id"] for a in first["assets"]] == ["AST-JPY", "AST-QBO-CAPRICORN"]
        assert (first["count"], first["next_after"]) == (3, "AST-QBO-CAPRICORN")
        second = (
            await c.get(
                "/accounts/ACC-CAPRICORN/assets",
                params={"limit": 2, "after": first["next_after"]},
            )
        ).json()
        assert [a["asset_id"] for a in second["assets"]] == ["AST-TINY"]
        assert (second["after"], second["next_after"]) == ("AST-QBO-CAPRICORN", None)
        # Exactly one page's worth: the page after it is empty, not an error.
        exact = (await c.get("/accounts/ACC-CAPRICORN/assets?limit=3")).json()
        assert exact["next_after"] is None
        past = (await c.get("/accounts/ACC-CAPRICORN/assets?after=AST-TINY")).json()
        assert (past["assets"], past["count"]) == ([], 3)

    run(redis_url, body)


@pytest.mark.parametrize("bad", ["0", "1001", "ten", "-5"])
def test_a_bad_page_limit_is_a_422_naming_it(redis_url: str, bad: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/accounts/ACC-CAPRICORN/assets", params={"limit": bad})
        assert response.status_code == 422
        assert response.json()["parameter"] == "limit"

    run(redis_url, body)


def test_an_account_on_a_later_date_counts_only_what_is_in_effect(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        account = (await c.get("/accounts/ACC-CAPRICORN/assets?as_of=2027-01-01")).json()
        assert {a["status"] for a in account["assets"]} == {"expired"}
        assert {a["current_mrr"] for a in account["assets"]} == {"0", "0.00"}
        assert account["as_of"] == "2027-01-01"

    run(redis_url, body)


def test_an_unknown_account_is_a_404_with_a_json_error(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/accounts/ACC-NOPE/assets")
        assert response.status_code == 404
        assert response.json() == {"error": "unknown account 'ACC-NOPE'", "account_id": "ACC-NOPE"}

    run(redis_url, body)


def test_an_asset_moved_to_another_account_leaves_the_old_index(redis_url: str) -> None:
    moved = {**CAPRICORN, "version": 3, "account_id": "ACC-NEW"}

    async def body(c: httpx.AsyncClient) -> None:
        assert (await c.get("/accounts/ACC-CAPRICORN/assets")).status_code == 404
        ids = [a["asset_id"] for a in (await c.get("/accounts/ACC-NEW/assets")).json()["assets"]]
        assert ids == ["AST-QBO-CAPRICORN"]

    run(redis_url, body, seed=(CAPRICORN, moved))


def test_the_account_record_is_served_exactly_as_published(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/accounts/ACC-CAPRICORN")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == CAPRICORN_ACCOUNT
        assert '"current_arr": "399.96"' in response.text

    run(redis_url, body)


def test_an_unknown_account_record_is_a_404(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/accounts/ACC-NOPE")
        assert response.status_code == 404
        assert response.json() == {"error": "unknown account 'ACC-NOPE'", "account_id": "ACC-NOPE"}

    run(redis_url, body, accounts_topic="x.accounts.mrr", topics=("x.accounts.mrr",))


def test_account_records_not_projected_yet_are_a_503_naming_the_topic(redis_url: str) -> None:
    """The accounts topic does not exist yet: "unknown account" would be a lie."""

    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/accounts/ACC-NOPE")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        error = response.json()
        assert error["error"] == "account records are not projected yet"
        assert "x.accounts.mrr" in error["detail"]
        # What is there is served all the same.
        assert (await c.get("/accounts/ACC-CAPRICORN")).status_code == 200

    run(redis_url, body, accounts_topic="x.accounts.mrr", topics=("x.assets.snapshots",))


def test_an_account_record_replaced_by_an_older_version_keeps_the_newer(redis_url: str) -> None:
    older = {**CAPRICORN_ACCOUNT, "version": 1, "currencies": []}

    async def body(c: httpx.AsyncClient) -> None:
        assert (await c.get("/accounts/ACC-CAPRICORN")).json()["version"] == 2

    run(redis_url, body, accounts=(CAPRICORN_ACCOUNT, older))


# ---- token ---------------------------------------------------------------------------


def test_with_a_token_set_every_route_but_healthz_requires_it(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        for path in (
            "/assets/AST-QBO-CAPRICORN",
            "/assets/AST-QBO-CAPRICORN/state?as_of=2026-01-01",
            "/accounts/ACC-CAPRICORN/assets",
            "/accounts/ACC-CAPRICORN",
            "/ui/accounts/ACC-CAPRICORN",
            "/metrics",
            "/openapi.json",
            "/ui/assets/AST-QBO-CAPRICORN",
            "/ui/static/app.js",
        ):
            response = await c.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "error" in response.json()
        assert (await c.get("/healthz")).status_code in (200, 503)

    run(redis_url, body, token=TOKEN)


def test_a_wrong_token_is_refused_with_403(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        for headers in ({"Authorization": "Bearer nope"}, {"Cookie": "assetstream_token=nope"}):
            response = await c.get("/assets/AST-QBO-CAPRICORN", headers=headers)
            assert response.status_code == 403
            assert response.json() == {"error": "invalid token"}
        assert (await c.get("/ui/assets/AST-QBO-CAPRICORN?token=nope")).status_code == 403

    run(redis_url, body, token=TOKEN)


def test_the_right_token_is_accepted_as_header_or_cookie(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        ok = await c.get("/assets/AST-QBO-CAPRICORN", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert ok.json()["version"] == 2
        cookie = await c.get(
            "/accounts/ACC-CAPRICORN/assets", headers={"Cookie": f"assetstream_token={TOKEN}"}
        )
        assert cookie.status_code == 200

    run(redis_url, body, token=TOKEN)


def test_a_page_token_in_the_url_becomes_a_cookie_and_leaves_the_url(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get(f"/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/assets/AST-QBO-CAPRICORN"
        assert "HttpOnly" in response.headers["set-cookie"]
        page = await c.get("/ui/assets/AST-QBO-CAPRICORN")  # the client keeps the cookie
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        # The JSON API does not take the token from the URL.
        c.cookies.clear()
        assert (await c.get(f"/assets/AST-QBO-CAPRICORN?token={TOKEN}")).status_code == 401

    run(redis_url, body, token=TOKEN)


# ---- operations -------------------------------------------------------------------


def test_healthz_reports_redis_and_kafka_reachable(redis_url: str, kafka_bootstrap: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        response = await c.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        health = response.json()
        assert health["status"] == "ok"
        assert health["redis"]["ok"] is True
        assert health["redis"]["read_model"] == "complete"
        assert health["redis"]["read_model_topics"] == ["x.assets.snapshots"]
        assert health["kafka"]["ok"] is True

    run(redis_url, body, token=TOKEN, kafka=kafka_bootstrap, topics=("x.assets.snapshots",))


def test_healthz_is_503_with_details_when_kafka_is_unreachable(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/healthz")
        assert response.status_code == 503
        health = response.json()
        assert (health["status"], health["redis"]["ok"], health["kafka"]["ok"]) == (
            "unavailable",
            True,
            False,
        )
        assert health["kafka"]["error"]

    run(redis_url, body, kafka="127.0.0.1:9")


def test_requests_while_redis_is_unreachable_are_503_not_500(free_port: int) -> None:
    async def scenario() -> None:
        app = create_app(
            ApiConfig(
                redis_url=f"redis://127.0.0.1:{free_port}/0",
                namespace="x:",
                snapshots_topic="x",
                kafka_kwargs={"bootstrap_servers": "127.0.0.1:9"},
                health_timeout_s=1.0,
            )
        )
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://api") as c,
        ):
            response = await c.get("/assets/AST-1")
            assert response.status_code == 503
            assert response.json()["error"] == "read model unavailable"
            health = await c.get("/healthz")
            assert health.status_code == 503
            assert health.json()["redis"]["ok"] is False

    asyncio.run(scenario())


def test_metrics_count_requests_by_route_template(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        await c.get("/assets/AST-QBO-CAPRICORN")
        await c.get("/assets/AST-NOPE")
        text = (await c.get("/metrics")).text
        assert 'route="/assets/{asset_id}",status="200"} 1.0' in text
        assert 'route="/assets/{asset_id}",status="404"} 1.0' in text
        assert "assetstream_api_request_duration_seconds_bucket" in text

    run(redis_url, body)


def test_the_openapi_document_is_served_and_swagger_ui_is_off(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        document = (await c.get("/openapi.json")).json()
        assert {
            "/assets/{asset_id}",
            "/assets/{asset_id}/state",
            "/accounts/{account_id}",
            "/accounts/{account_id}/assets",
            "/healthz",
            "/metrics",
        } <= set(document["paths"])
        listing = document["paths"]["/accounts/{account_id}/assets"]["get"]
        parameters = {p["name"]: p for p in listing["parameters"]}
        assert parameters["limit"]["schema"]["default"] == 100
        assert parameters["limit"]["schema"]["maximum"] == 1000
        assert "after" in parameters and "next_after" in listing["description"]
        # /docs would load Swagger UI from a CDN; the API works offline instead.
        assert (await c.get("/docs")).status_code == 404

    run(redis_url, body)


def test_an_unknown_asset_page_is_a_404_page(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/ui/assets/<script>alert(1)</script>")
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]
        # The id is data, never markup.
        assert "<script>alert(1)</script>" not in response.text

    run(redis_url, body)


def test_markup_in_a_snapshot_stays_data_inside_the_page(redis_url: str) -> None:
    hostile = {**CAPRICORN, "asset_id": "AST-X", "product_name": "</script><b>x</b>&\u2028"}

    async def body(c: httpx.AsyncClient) -> None:
        page = (await c.get("/ui/assets/AST-X")).text
        assert "</script><b>" not in page
        start = page.index('<script id="page-data" type="application/json">')
        embedded = page[page.index(">", start) + 1 : page.index("</script>", start)]
        assert json.loads(embedded) == hostile

    run(redis_url, body, seed=(hostile,))


# ---- while the read model is rebuilt ---------------------------------------------------


def test_while_the_read_model_is_rebuilt_what_is_not_back_is_503_not_404(redis_url: str) -> None:
    namespace = fresh_namespace()

    async def body(c: httpx.AsyncClient) -> None:
        redis = Redis.from_url(redis_url)
        model = ReadModel(redis, namespace)
        try:
            # A build that still has records to read (a projection began it).
            epoch, began = await model.begin_epoch(targets={"t:0": 5, "t:1": 0})
            assert began and epoch.state.value == "rebuilding"
            for path in (
                "/assets/AST-NOPE",
                "/assets/AST-NOPE/state",
                "/accounts/ACC-X/assets",
                "/accounts/ACC-X",
            ):
                response = await c.get(path)
                assert response.status_code == 503, path
                assert response.json()["error"] == "read model rebuilding"
                assert response.json()["read_model"] == "rebuilding"
                assert response.headers["retry-after"] == "5"
            # What is back is served; an account may be partial, so it waits.
            assert (await c.get("/assets/AST-QBO-CAPRICORN")).status_code == 200
            assert (await c.get("/accounts/ACC-CAPRICORN/assets")).status_code == 503
            page = await c.get("/ui/assets/AST-NOPE")
            assert page.status_code == 503
            assert 'data-testid="rebuilding"' in page.text
            assert page.headers["retry-after"] == "5"
            account_page = await c.get("/ui/accounts/ACC-CAPRICORN")
            assert account_page.status_code == 503
            # The projection reaches the targets: complete, and unknown is unknown again.
            assert (await model.record_progress(ProgressUpdate(epoch.id, {"t:0": 5}))).value == (
                "completed"
            )
            assert (await c.get("/assets/AST-NOPE")).status_code == 404
            assert (await c.get("/accounts/ACC-X")).status_code == 404
            assert (await c.get("/accounts/ACC-CAPRICORN/assets")).status_code == 200
            assert (await c.get("/ui/assets/AST-NOPE")).status_code == 404
        finally:
            await redis.aclose()

    run(redis_url, body, namespace=namespace, complete=False)


def test_a_read_model_without_its_marker_is_503_rebuilding_not_404(redis_url: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        response = await c.get("/assets/AST-NOPE")
        assert response.status_code == 503
        assert response.json() == {
            "error": "read model rebuilding",
            "read_model": "missing",
            "asset_id": "AST-NOPE",
        }
        assert (await c.get("/assets/AST-QBO-CAPRICORN")).status_code == 200
        health = (await c.get("/healthz")).json()
        assert health["redis"]["read_model"] == "missing"

    run(redis_url, body, complete=False)
