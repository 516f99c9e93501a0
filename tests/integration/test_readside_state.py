"""Through the API, against the real Redis: state on a date is the domain's (issue 9).

The engine computes generated assets; their snapshots go into Redis with the
projection's own write; then `GET /assets/{id}/state?as_of=` and the account
lists `GET /accounts/{id}/assets?as_of=` (read from the summaries) must answer
what `domain.snapshot.head_at` gives on the engine's fold, date by date.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import httpx

from domain.snapshot import head_at
from tests.integration.test_api import api
from tests.unit.test_web_state import LATE_AS_OF, dates_to_check, published, replayed

ASSETS = 40


def test_the_api_state_on_any_date_is_the_domain_s_current_fields_and_status(
    redis_url: str,
) -> None:
    engine = replayed(LATE_AS_OF, assets=ASSETS, seed=5)
    assets = list(published(engine))
    snapshots = tuple(snapshot for snapshot, _ in assets)

    async def scenario() -> None:
        async with api(redis_url, seed=snapshots, accounts=()) as client:
            checked = 0
            for snapshot, fold in assets:
                for day in dates_to_check(snapshot):
                    want = head_at(fold, day)
                    response = await client.get(
                        f"/assets/{snapshot['asset_id']}/state", params={"as_of": day.isoformat()}
                    )
                    assert response.status_code == 200, response.text
                    state = response.json()
                    got = (state["status"], state["quantity"], state["mrr"])
                    assert got == want, (snapshot["asset_id"], day)
                    checked += 1
            assert checked > 500

    asyncio.run(scenario())


def test_the_account_lists_on_a_date_agree_with_the_domain_asset_by_asset(redis_url: str) -> None:
    engine = replayed(LATE_AS_OF, assets=ASSETS, seed=5)
    assets = list(published(engine))
    by_account: dict[str, list[tuple[dict[str, Any], Any]]] = defaultdict(list)
    for snapshot, fold in assets:
        by_account[snapshot["account_id"]].append((snapshot, fold))
    days = sorted({d for snapshot, _ in assets for d in dates_to_check(snapshot)})[::7]

    async def rows(client: httpx.AsyncClient, account_id: str, day: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = None
        while True:
            params = {"as_of": day, "limit": "3", **({"after": after} if after else {})}
            page = (await client.get(f"/accounts/{account_id}/assets", params=params)).json()
            found += page["assets"]
            after = page["next_after"]
            if after is None:
                return found

    async def scenario() -> None:
        snapshots = tuple(snapshot for snapshot, _ in assets)
        async with api(redis_url, seed=snapshots, accounts=()) as client:
            for account_id, members in by_account.items():
                for day in days:
                    listed = {r["asset_id"]: r for r in await rows(client, account_id, str(day))}
                    assert sorted(listed) == sorted(s["asset_id"] for s, _ in members)
                    for snapshot, fold in members:
                        row = listed[snapshot["asset_id"]]
                        got = (row["status"], row["current_quantity"], row["current_mrr"])
                        assert got == head_at(fold, day), (snapshot["asset_id"], day)

    asyncio.run(scenario())
