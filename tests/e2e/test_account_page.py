"""The account page in a real browser (issue 11): the record's chart and movements, paging.

Account records are what `domain.accounts` computes from the engine's
snapshots of generated events (several currencies, every movement type the
generator gives), stored as the projection stores `accounts.mrr`. The page
must draw one chart point per timeline span, mark today at the record's
`as_of`, list every movement (scheduled ones marked) and page through the
account's assets.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.accounts import build_book, contribution_from_snapshot, record_to_dict, render
from streams.replay import ReplayEngine
from tests.e2e.browser import (
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
from tests.support.generate_events import generate
from tests.support.snapshots import CAPRICORN

pytestmark = pytest.mark.e2e

AS_OF = date(2025, 10, 1)
BIG = 250  # assets on one account: three pages of 100


def account_records() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Snapshots of generated assets and the account records the domain computes from them."""
    engine = ReplayEngine(as_of=AS_OF, source_name="generated")
    for number, event in enumerate(generate(160, 23), start=1):
        engine.feed(json.dumps(event).encode(), number)
    engine.finish()
    snapshots = [json.loads(engine.snapshot_json(a) or b"null") for a in engine.asset_ids()]
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for snapshot in snapshots:
        by_account[snapshot["account_id"]].append(snapshot)
    records = []
    for account_id, members in sorted(by_account.items()):
        book = build_book(account_id, [contribution_from_snapshot(s) for s in members])
        record = render(book, AS_OF)
        assert record is not None
        records.append(record_to_dict(record, version=len(members)))
    return snapshots, records


def richest(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The record with the most currencies, then the most movements."""

    def weight(record: dict[str, Any]) -> tuple[int, int]:
        parts = record["currencies"]
        return len(parts), sum(len(p["movements"]) for p in parts)

    return max(records, key=weight)


@pytest.fixture(scope="module")
def accounts() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return account_records()


@pytest.fixture(scope="module")
def api_url(
    redis_url: str, accounts: tuple[list[dict[str, Any]], list[dict[str, Any]]]
) -> Iterator[str]:
    snapshots, records = accounts
    big = [
        {**CAPRICORN, "asset_id": f"AST-MANY-{i:03d}", "account_id": "ACC-MANY"} for i in range(BIG)
    ]
    with serve_api(redis_url, "e2e-accounts:", [*snapshots, *big], records) as url:
        yield url


def signed(value: str) -> str:
    return value if value.startswith("-") or Decimal(value) == 0 else f"+{value}"


def test_the_chart_points_and_movement_rows_are_the_record_s(
    browser: Any, api_url: str, accounts: tuple[list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    record = richest(accounts[1])
    parts = record["currencies"]
    assert len(parts) >= 2 and sum(len(p["movements"]) for p in parts) >= 4, record
    page = open_page(browser, f"{api_url}/ui/accounts/{record['account_id']}?token={TOKEN}")
    screenshot(page, "account-page.png")
    for part in parts:
        cur = part["currency"]
        # Current figures.
        kpi = page.get_by_test_id(f"account-mrr-{cur}").inner_text().splitlines()
        assert kpi[1] == f"{cur} {part['current_mrr']}"
        assert page.get_by_test_id(f"account-arr-{cur}").inner_text().splitlines()[1] == (
            f"{cur} {part['current_arr']}"
        )
        assert page.get_by_test_id(f"account-active-{cur}").inner_text().splitlines()[1] == (
            str(part["active_assets"])
        )
        # One point per span of the timeline, at its start, with its MRR.
        series = f"account-mrr-{cur}"
        points = page.locator(f"[data-testid=chart-point][data-series={series}]").all()
        got = [
            (
                p.get_attribute("data-start"),
                p.get_attribute("data-end"),
                p.get_attribute("data-value"),
            )
            for p in points
        ]
        want = [(s["start_date"], s["end_date"] or "", s["mrr"]) for s in part["mrr_timeline"]]
        assert got == want, cur
        chart = page.get_by_test_id(f"chart-{series}")
        assert chart.get_by_test_id("chart-today").get_attribute("data-date") == record["as_of"]
        # A higher MRR sits higher on the screen.
        ys = [float(p.get_attribute("cy") or 0) for p in points]  # screen pixels
        mrrs = [Decimal(s["mrr"]) for s in part["mrr_timeline"]]
        for k in range(1, len(mrrs)):
            if mrrs[k] != mrrs[k - 1]:
                assert (ys[k] < ys[k - 1]) == (mrrs[k] > mrrs[k - 1]), (cur, k)
        # Every movement, in order, scheduled ones marked.
        table = page.get_by_test_id(f"movements-table-{cur}")
        moves = part["movements"]
        rows = table.locator("[data-testid=movement-row]")
        assert rows.count() == len(moves)
        assert [r.get_attribute("data-scheduled") for r in rows.all()] == [
            "true" if m["scheduled"] else "false" for m in moves
        ]
        dates = cell_texts(page, "movement-row", "date", within=table)
        assert [d.split()[0] for d in dates] == [m["date"] for m in moves]
        assert [("scheduled" in d) for d in dates] == [m["scheduled"] for m in moves]
        assert cell_texts(page, "movement-row", "type", within=table) == [
            m["type"].replace("_", " ") for m in moves
        ]
        for field in ("mrr_before", "mrr_after"):
            assert cell_texts(page, "movement-row", field, within=table) == [
                m[field] for m in moves
            ]
        assert cell_texts(page, "movement-row", "mrr_change", within=table) == [
            signed(m["mrr_change"]) for m in moves
        ]
    page.context.close()


def test_an_account_without_a_record_yet_says_so_and_lists_its_assets(
    browser: Any, api_url: str
) -> None:
    page = open_page(browser, f"{api_url}/ui/accounts/ACC-MANY?token={TOKEN}")
    assert "No MRR record" in page.get_by_test_id("no-record").inner_text()
    assert page.get_by_test_id("account-asset-row").count() == 100
    assert page.locator("[data-testid=chart-point]").count() == 0
    page.context.close()


def test_the_assets_are_paged_a_hundred_at_a_time(browser: Any, api_url: str) -> None:
    page = open_page(browser, f"{api_url}/ui/accounts/ACC-MANY?token={TOKEN}")
    seen: list[str] = []
    for expected_rows in (100, 100, 50):
        rows = cell_texts(page, "account-asset-row", "asset_id")
        assert len(rows) == expected_rows
        seen += rows
        assert f"of {BIG}" in page.get_by_test_id("assets-shown").inner_text()
        if expected_rows == 50:
            assert page.get_by_test_id("next-page").count() == 0
            break
        page.get_by_test_id("next-page").click()
        page.wait_for_selector("[data-testid=app][data-ready=true]")
    assert seen == [f"AST-MANY-{i:03d}" for i in range(BIG)]
    page.get_by_test_id("first-page").click()
    page.wait_for_selector("[data-testid=app][data-ready=true]")
    assert cell_texts(page, "account-asset-row", "asset_id")[0] == "AST-MANY-000"
    page.context.close()


def test_the_account_page_is_readable_on_a_phone_sized_screen(
    browser: Any, api_url: str, accounts: tuple[list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    record = richest(accounts[1])
    page = open_page(
        browser, f"{api_url}/ui/accounts/{record['account_id']}?token={TOKEN}", 390, 844
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "account-page-phone.png")
    page.context.close()


# ---- live: accounts.mrr -> `assetstream project` -> Redis -> `assetstream api` -> page ----

LIVE_TIMEOUT_S = 60.0


def _publish(bootstrap: str, topics: dict[str, list[tuple[str, dict[str, Any]]]]) -> None:
    """Create the compacted topics as the worker does, then send (key, value) records."""
    import asyncio
    import threading

    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def go() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [NewTopic(t, 2, 1, topic_configs={"cleanup.policy": "compact"}) for t in topics]
            )
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for topic, records in topics.items():
                for key, value in records:
                    await producer.send_and_wait(
                        topic, json.dumps(value).encode(), key=key.encode()
                    )
        finally:
            await producer.stop()

    # Playwright's sync API owns an event loop on this thread; publish on another.
    worker = threading.Thread(target=asyncio.run, args=(go(),))
    worker.start()
    worker.join(timeout=LIVE_TIMEOUT_S)


def test_a_record_published_on_accounts_mrr_reaches_the_page_through_the_projection(
    browser: Any,
    redis_url: str,
    accounts: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    import httpx

    snapshots, records = accounts
    record = richest(records)
    members = [s for s in snapshots if s["account_id"] == record["account_id"]]
    prefix = f"e2e-acc-{uuid.uuid4().hex[:10]}."
    bootstrap = kafka_bootstrap()
    _publish(
        bootstrap,
        {
            f"{prefix}assets.snapshots": [(s["asset_id"], s) for s in members],
            f"{prefix}accounts.mrr": [(record["account_id"], record)],
        },
    )
    port = free_port()
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=bootstrap, REDIS_URL=redis_url,
               ASSETSTREAM_TOPIC_PREFIX=prefix, ASSETSTREAM_API_TOKEN=TOKEN,
               PYTHONUNBUFFERED="1")  # fmt: skip
    cli = [sys.executable, "-m", "streams.cli"]
    started = [
        Process([*cli, "project"], env, tmp_path / "project.log"),
        Process([*cli, "api", "--port", str(port)], env, tmp_path / "api.log"),
    ]
    try:
        started[1].wait_for_output("Uvicorn running", LIVE_TIMEOUT_S, "the API")
        url = f"http://127.0.0.1:{port}/accounts/{record['account_id']}"
        auth = {"Authorization": f"Bearer {TOKEN}"}

        def projected() -> bool:
            response = httpx.get(url, headers=auth, timeout=5)
            return response.status_code == 200 and response.json() == record

        wait_until(projected, LIVE_TIMEOUT_S, "the account record to reach the API")
        page = open_page(
            browser, f"http://127.0.0.1:{port}/ui/accounts/{record['account_id']}?token={TOKEN}"
        )
        for part in record["currencies"]:
            series = f"account-mrr-{part['currency']}"
            values = [
                p.get_attribute("data-value")
                for p in page.locator(f"[data-testid=chart-point][data-series={series}]").all()
            ]
            assert values == [s["mrr"] for s in part["mrr_timeline"]]
        assert page.get_by_test_id("account-asset-row").count() == len(members)
        screenshot(page, "account-page-live.png")
        page.context.close()
    finally:
        for process in reversed(started):
            process.stop()
