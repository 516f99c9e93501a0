"""Hypothesis strategies: one asset's event set, with awkward anchors and dates.

`event_sets` draws a creation and amendments of every kind the fold sorts (SPEC §4.2,
§9.1, §9.2), the creation sometimes auto-renewing (§9.4); `with_voids` adds voids of
drawn events, of unknown ids and of voids (§9.3); `as_of_dates` spans the lifecycle
and a few terms past it, so automatic renewals happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from hypothesis import strategies as st

from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetEvent,
    AssetRenewed,
    AssetRepriced,
    AssetSwapped,
    AssetTransferred,
    Category,
    EventVoided,
    FoldEvent,
    Movement,
    QuantityChanged,
    TargetRefusal,
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


uplifts = st.builds(lambda quarters: Fraction(quarters, 4), st.integers(-50, 50))


@st.composite
def creations(draw: st.DrawFn, asset_id: str = "A", auto: bool | None = False) -> AssetCreated:
    """A creation; `auto` None draws whether it auto-renews."""
    start = draw(st.sampled_from(START_DAYS))
    months = draw(st.integers(1, 24))
    auto_renew = draw(st.booleans()) if auto is None else auto
    return AssetCreated(
        event_id=draw(st.sampled_from(["c1", "c2"])), line_id="1", asset_id=asset_id,
        time=draw(times), order_id="O", account_id="ACC",
        currency=draw(st.sampled_from(CURRENCIES)),
        product_code="P", product_name=None, quantity=draw(quantities), unit_price=draw(prices),
        price_term_months=draw(st.sampled_from([1, 3, 12])), start_date=start,
        end_date=add_months(start, months),
        renewal_term_months=draw(st.sampled_from([None, 1, 3, 12])),
        category=Category.INITIAL_SALE, auto_renew=auto_renew,
        renewal_uplift_percent=draw(uplifts) if auto_renew else Fraction(0),
    )  # fmt: skip


def _day(draw: st.DrawFn, creation: AssetCreated) -> date:
    span = (creation.end_date - creation.start_date).days
    return creation.start_date + timedelta(days=draw(st.integers(-20, span + 400)))


BASIC_KINDS = ("up", "down", "renew", "cancel", "transfer")
SECTION_9_KINDS = (*BASIC_KINDS, "reprice", "swap", "notice", "boundary")


def _boundary(draw: st.DrawFn, creation: AssetCreated) -> date:
    """A date on the anchor's grid at or after the first term's end: where automatic
    renewals of 1-, 3- and 12-month terms start."""
    start = creation.start_date
    months = next(m for m in range(1, 25) if add_months(start, m) == creation.end_date)
    return add_months(start, months + draw(st.sampled_from([0, 0, 1, 3, 12])))


def _quantity(draw: st.DrawFn, creation: AssetCreated) -> Fraction:
    """Mostly a drawn quantity; sometimes all the creation's units (a full transfer or swap)."""
    return creation.quantity if draw(st.integers(0, 3)) == 0 else draw(quantities)


@st.composite
def amendments(
    draw: st.DrawFn, creation: AssetCreated, index: int, kinds: tuple[str, ...] = BASIC_KINDS
) -> FoldEvent:
    event_id = f"e{index}"
    kind = draw(st.sampled_from(kinds))
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
    if kind == "notice":  # a cancellation at the end of the first term or of a later one
        return AssetCancelled(event_id, "A", time, _boundary(draw, creation), None)
    if kind == "boundary":  # a change on the day a term ends, where a renewal may start
        return QuantityChanged(event_id, "A", time, _boundary(draw, creation), draw(quantities),
                               None, None)  # fmt: skip
    if kind == "reprice":
        fixed = draw(st.booleans())
        return AssetRepriced(
            event_id, "A", time, _day(draw, creation), draw(prices) if fixed else None,
            None if fixed else draw(uplifts), None,
        )  # fmt: skip
    if kind == "swap":
        movement = draw(st.sampled_from([Movement.SWAP, Movement.UPGRADE, Movement.DOWNGRADE]))
        return AssetSwapped(
            event_id, "A", time, _day(draw, creation), _quantity(draw, creation), movement, "P2",
            "P2", draw(prices), f"S-{event_id}", None,
        )  # fmt: skip
    return AssetTransferred(
        event_id, "A", time, _day(draw, creation), draw(quantities), "ACC-2", f"B-{event_id}", None
    )


@st.composite
def event_sets(
    draw: st.DrawFn, max_amendments: int = 8, section_9: bool = False
) -> list[FoldEvent]:
    """A creation and amendments; `section_9` adds price changes, swaps, notices of
    non-renewal and auto-renewing creations."""
    creation = draw(creations(auto=None if section_9 else False))
    count = draw(st.integers(0, max_amendments))
    kinds = SECTION_9_KINDS if section_9 else BASIC_KINDS
    events: list[FoldEvent] = [creation]
    events += [draw(amendments(creation, i, kinds)) for i in range(count)]
    return events


@st.composite
def with_voids(draw: st.DrawFn, events: Sequence[AssetEvent], most: int = 3) -> list[AssetEvent]:
    """`events` plus voids of some of them, of an id never sent, and of another void."""
    voids: list[AssetEvent] = []
    for index in range(draw(st.integers(0, most))):
        known = [e.event_id for e in events] + [v.event_id for v in voids]
        target = draw(st.sampled_from([*known, "never-sent"]))
        voids.append(EventVoided(f"v{index}", "A", draw(times), target, None, None))
    return [*events, *voids]


@st.composite
def renewal_boundaries(draw: st.DrawFn) -> list[AssetEvent]:
    """An auto-renewing asset with events crowded on its term boundaries: changes, explicit
    renewals and notices of non-renewal at the dates automatic renewals start (SPEC §9.4)."""
    creation = draw(creations(auto=True))
    events: list[AssetEvent] = [creation]
    for index in range(draw(st.integers(1, 6))):
        event_id, time, day = f"b{index}", draw(times), _boundary(draw, creation)
        kind = draw(st.sampled_from(["up", "reprice", "renew", "notice", "cancel"]))
        if kind == "up":
            events.append(QuantityChanged(event_id, "A", time, day, draw(quantities), None, None))
        elif kind == "reprice":
            events.append(AssetRepriced(event_id, "A", time, day, None, draw(uplifts), None))
        elif kind == "renew":
            events.append(AssetRenewed(event_id, "A", time, day, None, None, None, None))
        elif kind == "notice":
            events.append(AssetCancelled(event_id, "A", time, day, None))
        else:
            events.append(AssetCancelled(event_id, "A", time, day - timedelta(days=1), None))
    return events


@st.composite
def outgoing_sets(draw: st.DrawFn) -> list[AssetEvent]:
    """An asset whose units leave by transfers and swaps inside its term, with amendments
    around them and its targets' reports on each (SPEC §9.2, §9.5)."""
    creation = draw(creations(auto=None))
    events: list[AssetEvent] = [creation]
    span = (creation.end_date - creation.start_date).days
    for index in range(draw(st.integers(1, 3))):
        day = creation.start_date + timedelta(days=draw(st.integers(0, span - 1)))
        quantity = _quantity(draw, creation) / draw(st.sampled_from([1, 1, 2, 4]))
        if draw(st.booleans()):
            events.append(AssetTransferred(f"t{index}", "A", draw(times), day, quantity, "ACC-2",
                                           f"B-t{index}", None))  # fmt: skip
        else:
            kind = draw(st.sampled_from([Movement.SWAP, Movement.UPGRADE, Movement.DOWNGRADE]))
            events.append(AssetSwapped(f"t{index}", "A", draw(times), day, quantity, kind, "P2",
                                       "P2", draw(prices), f"S-t{index}", None))  # fmt: skip
    events += [
        draw(amendments(creation, i, SECTION_9_KINDS)) for i in range(draw(st.integers(0, 4)))
    ]
    for event in list(events):
        if isinstance(event, AssetTransferred | AssetSwapped) and draw(st.booleans()):
            refused = draw(st.booleans())
            events.append(TargetRefusal(event.event_id, "A", event.target_asset_id, refused, 1,
                                        "refused" if refused else "accepted"))  # fmt: skip
    return events


@st.composite
def with_refusals(draw: st.DrawFn, events: Sequence[AssetEvent]) -> list[AssetEvent]:
    """`events` plus targets' reports (SPEC §9.5) on some of their transfers and swaps."""
    reports: list[AssetEvent] = []
    for event in events:
        if isinstance(event, AssetTransferred | AssetSwapped) and draw(st.integers(0, 2)) == 0:
            refused = draw(st.booleans())
            reports.append(TargetRefusal(event.event_id, "A", event.target_asset_id, refused, 1,
                                         "refused" if refused else "accepted"))  # fmt: skip
    return [*events, *reports]


@st.composite
def as_of_dates(draw: st.DrawFn, events: Sequence[AssetEvent]) -> date:
    """A date from before the first creation's start to a few years after its end."""
    creation = next(e for e in events if isinstance(e, AssetCreated))
    return creation.start_date + timedelta(days=draw(st.integers(-30, 365 * 3)))
