"""The asset page in a real browser: Debian's headless Chromium driven by Playwright.

The API runs on a free loopback port against a private redis-server holding the
Capricorn snapshot of SPEC §5; the test opens the page, switches tabs, checks
the tables and the chart against the snapshot, and saves screenshots under
test-output/. No browser is downloaded: Playwright drives /usr/bin/chromium.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.snapshots import CAPRICORN

pytestmark = pytest.mark.e2e

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
SCENARIOS = ROOT / "tests" / "scenarios"
# Salesforce's lifecycle example: ramp, upsell, then a cancellation at the term end.
ENGINE_SCENARIO = "ramp-upsell-cancel"
STARTUP_TIMEOUT_S = 15.0
PAGE_TIMEOUT_MS = 10_000
TOKEN = "e2e-secret-token"

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


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free port, stopped at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _accepts(port), STARTUP_TIMEOUT_S, f"redis-server on port {port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


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
    """The API (token on) on a free port, in a thread, over the seeded Redis."""
    import uvicorn
    from redis.asyncio import Redis

    from streams.readmodel import ReadModel
    from streams.web.app import ApiConfig, create_app

    namespace = "e2e:"

    async def seed() -> None:
        client = Redis.from_url(redis_url)
        model = ReadModel(client, namespace)
        for snapshot in (CAPRICORN, PAYROLL, *engine_snapshots):
            await model.put_snapshot(json.dumps(snapshot))
        await model.begin_epoch(targets={})  # a finished build: unknown ids are 404
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
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium.sh")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Any, url: str, width: int = 1280, height: int = 900) -> Any:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("[data-testid=app][data-ready=true]")
    return page


def cell_texts(page: Any, row_testid: str, field: str) -> list[str]:
    texts: list[str] = page.locator(
        f"[data-testid={row_testid}] td[data-field={field}]"
    ).all_text_contents()
    return texts


def test_asset_page_shows_details_related_and_dashboard_from_the_snapshot(
    browser: Any, api_url: str
) -> None:
    OUTPUT.mkdir(exist_ok=True)
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
    page.screenshot(path=str(OUTPUT / "asset-page-details.png"), full_page=True)

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
    page.screenshot(path=str(OUTPUT / "asset-page-related.png"), full_page=True)

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
    page.screenshot(path=str(OUTPUT / "asset-page-dashboard.png"), full_page=True)
    page.context.close()


def test_asset_page_is_readable_on_a_phone_sized_screen(browser: Any, api_url: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page = open_page(
        browser, f"{api_url}/ui/assets/AST-QBO-CAPRICORN?token={TOKEN}#dashboard", 390, 844
    )
    assert page.get_by_test_id("panel-dashboard").is_visible()
    # Nothing wider than the screen: the page does not scroll sideways.
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390
    page.screenshot(path=str(OUTPUT / "asset-page-phone.png"), full_page=True)
    page.context.close()


def test_account_page_lists_the_assets_with_links_and_total_mrr(browser: Any, api_url: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page = open_page(browser, f"{api_url}/ui/accounts/ACC-CAPRICORN?token={TOKEN}")
    assert page.get_by_test_id("account-asset-row").count() == 2
    assert page.get_by_test_id("total-mrr-USD").inner_text().splitlines()[1] == "USD 123.33"
    page.screenshot(path=str(OUTPUT / "account-page.png"), full_page=True)
    page.get_by_role("link", name="AST-QBO-CAPRICORN").click()
    page.wait_for_selector("[data-testid=asset-title]")
    assert page.get_by_test_id("asset-id").inner_text() == "AST-QBO-CAPRICORN"
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
    OUTPUT.mkdir(exist_ok=True)
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
    page.screenshot(path=str(OUTPUT / "asset-page-engine-dashboard.png"), full_page=True)
    page.context.close()


# ---- the whole read side, live: worker -> snapshots -> projection -> API -> page ----

WORKER_READY_TIMEOUT_S = 120.0
PIPELINE_TIMEOUT_S = 90.0
LIVE_SCENARIO = "capricorn-upsell"


def _kafka_bootstrap() -> str:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(2)
        if sock.connect_ex((host, int(port))) != 0:
            pytest.fail(f"no Kafka broker at {bootstrap}: start one with `make up`")
    return bootstrap


class _Process:
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


@pytest.fixture(scope="module")
def live_api(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`assetstream worker` (projection in-process) and `assetstream api`, fed the scenario."""
    tmp = tmp_path_factory.mktemp("live")
    as_of = json.loads((SCENARIOS / f"{LIVE_SCENARIO}.expected.json").read_text())["as_of"]
    api_port = free_port()
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=_kafka_bootstrap(),
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
    started: list[_Process] = []
    try:
        worker = _Process([*cli, "worker"], env, tmp / "worker.log")
        started.append(worker)
        worker.wait_for_output("Worker ready", WORKER_READY_TIMEOUT_S, "the worker")
        events = str(SCENARIOS / f"{LIVE_SCENARIO}.events.jsonl")
        subprocess.run([*cli, "produce", events], env=env, cwd=ROOT, check=True)
        api = _Process([*cli, "api", "--port", str(api_port)], env, tmp / "api.log")
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

    OUTPUT.mkdir(exist_ok=True)
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
    page.screenshot(path=str(OUTPUT / "asset-page-live.png"), full_page=True)
    page.context.close()
