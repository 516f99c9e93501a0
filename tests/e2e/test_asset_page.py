"""The asset page in a real browser: Debian's headless Chromium driven by Playwright.

The API runs on a free loopback port against a private redis-server holding the
Capricorn snapshot of SPEC §5 and the §9 assets of the shared scenarios; the
tests open the pages, switch tabs, check the tables and the charts against the
snapshots, and save screenshots under test-output/ (set-up: tests/e2e/browser.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import (
    ROOT,
    STARTUP_TIMEOUT_S,
    TOKEN,
    Process,
    cell_texts,
    free_port,
    kafka_bootstrap,
    open_page,
    screenshot,
    serve_api,
    wait_until,
)
from tests.support.snapshots import (
    CAPRICORN,
    CAPRICORN_ACCOUNT,
    FAB_PRIORITY,
    FAB_SEATS,
    NORTHWIND_REPRICED,
    PHONE_SWAP_TARGET,
    PHONE_SWAPPED,
    SECTION9_SNAPSHOTS,
    SWAP_TARGET_ID,
)

pytestmark = pytest.mark.e2e

SCENARIOS = ROOT / "tests" / "scenarios"
# Salesforce's lifecycle example: ramp, upsell, then a cancellation at the term end.
ENGINE_SCENARIO = "ramp-upsell-cancel"

# A second asset on the account, so the account page lists more than one.
PAYROLL = {
    **CAPRICORN,
    "asset_id": "AST-PAYROLL-CAPRICORN",
    "product_code": "PAYROLL",
    "product_name": "QuickBooks Payroll",
    "version": 1,
    "current_quantity": "2",
    "current_mrr": "90.00",
    "total_lifecycle_amount": "1080.00",
    "state_periods": [
        {
            "start_date": "2025-08-10",
            "end_date": "2026-08-10",
            "quantity": "2",
            "mrr": "90.00",
            "amount": "1080.00",
        }
    ],
    "actions": [CAPRICORN["actions"][0] | {"quantity_change": "2", "mrr_change": "90.00"}],
}


@pytest.fixture(scope="module")
def engine_snapshots(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Snapshots the domain engine computes from a golden scenario (`assetstream replay`)."""
    out = tmp_path_factory.mktemp("replay")
    events = SCENARIOS / f"{ENGINE_SCENARIO}.events.jsonl"
    as_of = json.loads((SCENARIOS / f"{ENGINE_SCENARIO}.expected.json").read_text())["as_of"]
    command = [sys.executable, "-m", "streams.cli", "replay", str(events), "--as-of", as_of]
    subprocess.run([*command, "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    lines = (out / "snapshots.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def api_url(redis_url: str, engine_snapshots: list[dict[str, Any]]) -> Iterator[str]:
    """The API (token on) over the Capricorn assets, the §9 assets and the engine's."""
    seed = (CAPRICORN, PAYROLL, *SECTION9_SNAPSHOTS, *engine_snapshots)
    with serve_api(redis_url, "e2e:", seed, [CAPRICORN_ACCOUNT]) as url:
        yield url


def test_asset_page_shows_details_related_and_dashboard_from_the_snapshot(
    browser: Any, api_url: str
) -> None:
    page = open_page(browser, f"{api_url}/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}")
    # The token moved from the URL into a cookie.
    assert "token=" not in page.url

    # Details
    assert page.get_by_test_id("panel-details").is_visible()
    details = {
        "account": "ACC-CAPRICORN",
        "product": "QuickBooks Online (QBO)",
        "status": "active",
        "current-quantity": "8",
        "current-mrr": "USD 33.33",
        "lifecycle-start": "2025-08-10",
        "lifecycle-end": "2026-08-10",
        "renewal-term": "12 months",
        "total-lifecycle-amount": "USD 328.56",
    }
    for field, expected in details.items():
        assert (page.get_by_test_id(f"detail-{field}").text_content() or "").strip() == expected, (
            field
        )
    screenshot(page, "asset-page-details.png")

    # Related
    page.get_by_test_id("tab-related").click()
    assert page.get_by_test_id("panel-related").is_visible()
    assert not page.get_by_test_id("panel-details").is_visible()
    actions = CAPRICORN["actions"]
    assert cell_texts(page, "action-row", "category") == ["initial sale", "upsell"]
    assert cell_texts(page, "action-row", "effective_date") == [
        a["effective_date"] for a in actions
    ]
    assert cell_texts(page, "action-row", "quantity_change") == ["+5", "+3"]
    assert cell_texts(page, "action-row", "mrr_change") == ["+20.83", "+12.50"]
    assert cell_texts(page, "action-row", "amount_change") == ["+249.95", "+78.61"]
    periods = CAPRICORN["state_periods"]
    for field in ("start_date", "end_date", "quantity", "mrr", "amount"):
        assert cell_texts(page, "period-row", field) == [p[field] for p in periods], field
    screenshot(page, "asset-page-related.png")

    # Dashboard: one point per period and series, at the period's start and value.
    page.get_by_test_id("tab-dashboard").click()
    assert page.get_by_test_id("panel-dashboard").is_visible()
    for series in ("quantity", "mrr"):
        points = page.locator(f"[data-testid=chart-point][data-series={series}]")
        got = [
            (
                p.get_attribute("data-start"),
                p.get_attribute("data-end"),
                p.get_attribute("data-value"),
            )
            for p in points.all()
        ]
        assert got == [(p["start_date"], p["end_date"], p[series]) for p in periods], series
    # The step goes up at the upsell: the later point sits higher on screen.
    ys = [float(p.get_attribute("cy")) for p in page.locator("[data-series=quantity]").all()]
    assert ys[1] < ys[0]
    today = page.get_by_test_id("chart-today").first
    assert today.get_attribute("data-date") == CAPRICORN["as_of"]
    assert page.get_by_test_id("kpi-mrr").inner_text().splitlines()[1] == "USD 33.33"
    screenshot(page, "asset-page-dashboard.png")
    page.context.close()


def test_asset_page_is_readable_on_a_phone_sized_screen(browser: Any, api_url: str) -> None:
    page = open_page(
        browser, f"{api_url}/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}#dashboard", 390, 844
    )
    assert page.get_by_test_id("panel-dashboard").is_visible()
    # Nothing wider than the screen: the page does not scroll sideways.
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390
    screenshot(page, "asset-page-phone.png")
    page.context.close()


def test_account_page_lists_the_assets_with_links_and_the_account_mrr(
    browser: Any, api_url: str
) -> None:
    page = open_page(browser, f"{api_url}/ui/accounts/ACC-CAPRICORN?token={TOKEN}")
    assert page.get_by_test_id("account-asset-row").count() == 2
    assert page.get_by_test_id("account-mrr-USD").inner_text().splitlines()[1] == "USD 33.33"
    assert page.get_by_test_id("account-arr-USD").inner_text().splitlines()[1] == "USD 399.96"
    screenshot(page, "account-page-capricorn.png")
    page.get_by_role("link", name="AST-QBO-CAPRICORN").click()
    page.wait_for_selector("[data-testid=asset-title]")
    assert page.get_by_test_id("asset-id").inner_text() == "AST-QBO-CAPRICORN"
    # And back: the asset page links to its account.
    page.get_by_test_id("account-link").click()
    page.wait_for_selector("[data-testid=account-title]")
    assert page.get_by_test_id("account-title").inner_text() == "ACC-CAPRICORN"
    page.context.close()


# ---- SPEC §9 on the asset page -------------------------------------------------------------


def detail(page: Any, field: str) -> str:
    return (page.get_by_test_id(f"detail-{field}").text_content() or "").strip()


def test_details_show_auto_renewal_and_the_next_renewal_date(browser: Any, api_url: str) -> None:
    page = open_page(browser, f"{api_url}/ui/assets/{FAB_PRIORITY['asset_id']}?token={TOKEN}")
    assert (detail(page, "auto-renew"), detail(page, "next-renewal")) == ("Yes", "2026-01-01")
    assert detail(page, "ended-by") == "—"
    page.get_by_test_id("tab-dashboard").click()
    note = page.get_by_test_id("kpi-status").inner_text()
    assert "renews automatically" in note and "2026-01-01" in note
    page.context.close()
    # A snapshot from before §9 has neither: shown as unknown, not as "No".
    old = open_page(browser, f"{api_url}/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}")
    assert (detail(old, "auto-renew"), detail(old, "next-renewal")) == ("—", "—")
    old.context.close()


def test_a_swap_links_its_source_and_target_both_ways(browser: Any, api_url: str) -> None:
    page = open_page(browser, f"{api_url}/ui/assets/AST-CTO-PHONE?token={TOKEN}#related")
    assert (page.get_by_test_id("status-badge").first.inner_text() or "").lower() == "replaced"
    assert cell_texts(page, "action-row", "category") == ["initial sale", "swap"]
    assert cell_texts(page, "action-row", "subtype") == ["—", "swap out"]
    screenshot(page, "asset-page-swap-source.png")
    page.get_by_test_id("related-link").click()
    page.wait_for_selector("[data-testid=asset-title]")
    assert page.get_by_test_id("asset-id").inner_text() == SWAP_TARGET_ID
    assert detail(page, "lifecycle-start") == PHONE_SWAP_TARGET["lifecycle_start_date"]
    page.get_by_test_id("tab-related").click()
    assert cell_texts(page, "action-row", "subtype") == ["swap in"]
    page.get_by_test_id("related-link").click()
    page.wait_for_selector("[data-testid=asset-title]")
    assert page.get_by_test_id("asset-id").inner_text() == PHONE_SWAPPED["asset_id"]
    assert detail(page, "ended-by") == "swap"
    page.context.close()


def test_voided_events_are_listed_with_who_voided_them_and_why(browser: Any, api_url: str) -> None:
    asset = NORTHWIND_REPRICED
    page = open_page(browser, f"{api_url}/ui/assets/{asset['asset_id']}?token={TOKEN}#related")
    voided = asset["voided_events"]
    assert cell_texts(page, "voided-row", "event_id") == [v["event_id"] for v in voided]
    assert cell_texts(page, "voided-row", "voided_by") == [v["voided_by"] for v in voided]
    assert cell_texts(page, "voided-row", "reason") == [v["reason"] or "—" for v in voided]
    assert "price change" in cell_texts(page, "action-row", "category")
    screenshot(page, "asset-page-voided.png")
    page.context.close()
    # A snapshot from before §9 shows no voided-events table at all.
    old = open_page(browser, f"{api_url}/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}#related")
    assert old.get_by_test_id("voided-table").count() == 0
    old.context.close()


def markers(page: Any, series: str) -> list[tuple[str | None, str | None]]:
    found = page.locator(f"[data-testid=chart-marker][data-series={series}]").all()
    return [(m.get_attribute("data-kind"), m.get_attribute("data-date")) for m in found]


def test_the_dashboard_marks_renewals_and_price_changes(browser: Any, api_url: str) -> None:
    page = open_page(
        browser, f"{api_url}/ui/assets/{FAB_SEATS['asset_id']}?token={TOKEN}#dashboard"
    )
    renewals = [("auto_renewal", "2025-04-01"), ("auto_renewal", "2025-07-01")]
    assert markers(page, "mrr") == renewals
    assert markers(page, "quantity") == renewals
    screenshot(page, "asset-page-auto-renewal-dashboard.png")
    page.context.close()
    page = open_page(
        browser, f"{api_url}/ui/assets/{NORTHWIND_REPRICED['asset_id']}?token={TOKEN}#dashboard"
    )
    assert markers(page, "mrr") == [("price_change", "2025-06-16")]
    # The marker stands where the MRR steps up: at the second period's start.
    point = page.locator("[data-testid=chart-point][data-series=mrr][data-start='2025-06-16']")
    line = page.locator("[data-testid=chart-marker][data-series=mrr] line")
    assert float(point.get_attribute("cx")) == float(line.get_attribute("x1"))
    page.context.close()


def test_page_without_the_token_is_refused(browser: Any, api_url: str) -> None:
    context = browser.new_context()
    response = context.new_page().goto(f"{api_url}/ui/assets/AST-QBO-CAPRICORN")
    assert response is not None and response.status == 401
    context.close()


def test_unknown_asset_page_says_not_found(browser: Any, api_url: str) -> None:
    page = open_page(browser, f"{api_url}/ui/assets/AST-NOPE?token={TOKEN}")
    assert "Asset not found" in page.get_by_test_id("not-found").inner_text()
    page.context.close()


def test_asset_page_draws_a_snapshot_computed_by_the_engine(
    browser: Any, api_url: str, engine_snapshots: list[dict[str, Any]]
) -> None:
    snapshot = engine_snapshots[0]
    page = open_page(browser, f"{api_url}/ui/assets/{snapshot['asset_id']}?token={TOKEN}#related")
    assert cell_texts(page, "action-row", "category") == [
        a["category"].replace("_", " ") for a in snapshot["actions"]
    ]
    assert cell_texts(page, "action-row", "effective_date") == [
        a["effective_date"] for a in snapshot["actions"]
    ]
    for field in ("start_date", "end_date", "quantity", "mrr", "amount"):
        expected = [p[field] for p in snapshot["state_periods"]]
        assert cell_texts(page, "period-row", field) == expected, field
    page.get_by_test_id("tab-dashboard").click()
    values = [
        p.get_attribute("data-value")
        for p in page.locator("[data-testid=chart-point][data-series=mrr]").all()
    ]
    assert values == [p["mrr"] for p in snapshot["state_periods"]]
    screenshot(page, "asset-page-engine-dashboard.png")
    page.context.close()


# ---- the whole read side, live: worker -> snapshots -> projection -> API -> page ----

WORKER_READY_TIMEOUT_S = 120.0
PIPELINE_TIMEOUT_S = 90.0
LIVE_SCENARIO = "capricorn-upsell"


@pytest.fixture(scope="module")
def live_api(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`assetstream worker` (projection in-process) and `assetstream api`, fed the scenario."""
    tmp = tmp_path_factory.mktemp("live")
    as_of = json.loads((SCENARIOS / f"{LIVE_SCENARIO}.expected.json").read_text())["as_of"]
    api_port = free_port()
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap(),
        REDIS_URL=redis_url,
        ASSETSTREAM_TOPIC_PREFIX=f"e2e-{uuid.uuid4().hex[:10]}.",
        ASSETSTREAM_PARTITIONS="2",
        ASSETSTREAM_AS_OF=as_of,
        ASSETSTREAM_STORE="memory://",
        ASSETSTREAM_DATA_DIR=str(tmp / "data"),
        ASSETSTREAM_WEB_PORT=str(free_port()),
        ASSETSTREAM_TICK_SECONDS="0.5",
        ASSETSTREAM_API_TOKEN=TOKEN,
        PYTHONUNBUFFERED="1",
    )
    cli = [sys.executable, "-m", "streams.cli"]
    started: list[Process] = []
    try:
        worker = Process([*cli, "worker"], env, tmp / "worker.log")
        started.append(worker)
        worker.wait_for_output("Worker ready", WORKER_READY_TIMEOUT_S, "the worker")
        events = str(SCENARIOS / f"{LIVE_SCENARIO}.events.jsonl")
        subprocess.run([*cli, "produce", events], env=env, cwd=ROOT, check=True)
        api = Process([*cli, "api", "--port", str(api_port)], env, tmp / "api.log")
        started.append(api)
        api.wait_for_output("Uvicorn running", STARTUP_TIMEOUT_S, "the API")
        yield f"http://127.0.0.1:{api_port}"
    finally:
        for process in reversed(started):
            process.stop()


def test_the_page_shows_what_the_worker_computed_from_produced_events(
    browser: Any, live_api: str
) -> None:
    import httpx

    expected = json.loads((SCENARIOS / f"{LIVE_SCENARIO}.expected.json").read_text())
    want = expected["assets"][0]
    url = f"{live_api}/assets/{want['asset_id']}"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def projected() -> bool:
        response = httpx.get(url, headers=auth, timeout=5)
        return response.status_code == 200 and (
            response.json()["total_lifecycle_amount"] == want["total_lifecycle_amount"]
        )

    wait_until(projected, PIPELINE_TIMEOUT_S, "the worker's snapshot to reach the API")
    snapshot = httpx.get(url, headers=auth, timeout=5).json()
    assert [p["mrr"] for p in snapshot["state_periods"]] == [
        p["mrr"] for p in want["state_periods"]
    ]

    page = open_page(browser, f"{live_api}/ui/assets/{want['asset_id']}?token={TOKEN}")
    assert (page.get_by_test_id("detail-current-mrr").text_content() or "").strip() == (
        f"{want['currency']} {want['current_mrr']}"
    )
    page.get_by_test_id("tab-related").click()
    assert cell_texts(page, "period-row", "amount") == [p["amount"] for p in want["state_periods"]]
    page.get_by_test_id("tab-dashboard").click()
    points = page.locator("[data-testid=chart-point][data-series=quantity]").all()
    assert [p.get_attribute("data-value") for p in points] == [
        p["quantity"] for p in want["state_periods"]
    ]
    screenshot(page, "asset-page-live.png")
    page.context.close()
