"""Hypothesis strategies: one asset's event set, with awkward anchors and dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from hypothesis import strategies as st

from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetEvent,
    AssetRenewed,
    AssetTransferred,
    Category,
    QuantityChanged,
)
from domain.months import add_months

CURRENCIES = ("USD", "JPY", "KWD")
# Month ends and a leap day make anchored month counting earn its keep.
START_DAYS = [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 30), date(2025, 8, 10),
              date(2024, 12, 31), date(2025, 1, 1), date(2025, 5, 29)]  # fmt: skip

prices = st.builds(lambda cents: Fraction(cents, 100), st.integers(0, 99_999))
quantities = st.builds(lambda tenths: Fraction(tenths, 2), st.integers(1, 40))
times = st.builds(
    lambda s: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=s), st.integers(0, 10**8)
)


@st.composite
def creations(draw: st.DrawFn, asset_id: str = "A") -> AssetCreated:
    start = draw(st.sampled_from(START_DAYS))
    months = draw(st.integers(1, 24))
    return AssetCreated(
        event_id=draw(st.sampled_from(["c1", "c2"])), line_id="1", asset_id=asset_id,
        time=draw(times), order_id="O", account_id="ACC",
        currency=draw(st.sampled_from(CURRENCIES)),
        product_code="P", product_name=None, quantity=draw(quantities), unit_price=draw(prices),
        price_term_months=draw(st.sampled_from([1, 3, 12])), start_date=start,
        end_date=add_months(start, months),
        renewal_term_months=draw(st.sampled_from([None, 1, 12])),
        category=Category.INITIAL_SALE,
    )  # fmt: skip


def _day(draw: st.DrawFn, creation: AssetCreated) -> date:
    span = (creation.end_date - creation.start_date).days
    return creation.start_date + timedelta(days=draw(st.integers(-20, span + 400)))


@st.composite
def amendments(draw: st.DrawFn, creation: AssetCreated, index: int) -> AssetEvent:
    event_id = f"e{index}"
    kind = draw(st.sampled_from(["up", "down", "renew", "cancel", "transfer"]))
    time = draw(times)
    if kind == "up":
        price = draw(st.none() | prices)
        return QuantityChanged(
            event_id, "A", time, _day(draw, creation), draw(quantities), price, None
        )
    if kind == "down":
        return QuantityChanged(
            event_id, "A", time, _day(draw, creation), -draw(quantities), None, None
        )
    if kind == "renew":
        # Mostly contiguous: renew at the end of the initial term or of a following one.
        start = add_months(creation.end_date, draw(st.sampled_from([0, 0, 0, 1, 12])))
        pricing = draw(st.sampled_from(["same", "price", "uplift"]))
        return AssetRenewed(
            event_id, "A", time, start, None,
            draw(prices) if pricing == "price" else None,
            Fraction(draw(st.integers(-50, 50)), 4) if pricing == "uplift" else None, None,
        )  # fmt: skip
    if kind == "cancel":
        return AssetCancelled(event_id, "A", time, _day(draw, creation), None)
    return AssetTransferred(
        event_id, "A", time, _day(draw, creation), draw(quantities), "ACC-2", f"B-{event_id}", None
    )


@st.composite
def event_sets(draw: st.DrawFn, max_amendments: int = 8) -> list[AssetEvent]:
    creation = draw(creations())
    count = draw(st.integers(0, max_amendments))
    events: list[AssetEvent] = [creation]
    events += [draw(amendments(creation, i)) for i in range(count)]
    return events
