"""SPEC §9 in the worker, on the real broker, with a clock the test moves (issue 10).

The worker's date comes from ``ASSETSTREAM_AS_OF_FILE`` (streams.clock): the file is
read on every look at the date, so rewriting it moves the clock while the worker runs;
its timer (``ASSETSTREAM_TICK_SECONDS=0.5``, set by `Stack`) notices the boundaries the
move crossed. Grace periods stay real time (``ASSETSTREAM_PENDING_GRACE=2s``).

Each test ends where `assetstream replay` of the same lines at the final date ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import RunningProcess
from tests.integration.kafka_io import _read_all, produce_lines
from tests.integration.worker_stack import Stack, replay, settled, stack

__all__ = ["stack"]  # the fixture, re-exported for pytest

pytestmark = pytest.mark.integration

PUBLISHED_TIMEOUT = 45.0  # an event's snapshot (or dead letter) reaches its topic
BOUNDARY_TIMEOUT = 30.0  # a moved clock's boundary is published (ticks every 0.5 s)
GRACE = "2s"
QUIET_SECONDS = 3.0  # how long "nothing more happens" is watched: six ticks, past the grace
API_READY_TIMEOUT = 45.0
READ_MODEL_TIMEOUT = 60.0


# ---- the clock ----------------------------------------------------------------------


class DateFile:
    """The worker's clock: a date in a file, moved by renaming a new file over it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def env(self) -> dict[str, str]:
        return {"ASSETSTREAM_AS_OF_FILE": str(self.path)}

    def move_to(self, day: str) -> None:
        fresh = self.path.with_name(self.path.name + ".new")
        fresh.write_text(day + "\n")
        os.replace(fresh, self.path)  # atomic: the worker never reads half a date


@pytest.fixture
def clock(tmp_path: Path) -> DateFile:
    return DateFile(tmp_path / "as-of")


# ---- workers ------------------------------------------------------------------------

WORKER_START_ATTEMPTS = 3


def _worker(stack: Stack, **kwargs: Any) -> RunningProcess:
    """`stack.worker(...)`, tried again on another web port when the one Stack chose was
    taken: its ports lie in Linux's ephemeral range, so an outgoing connection can hold one."""
    for attempt in range(1, WORKER_START_ATTEMPTS + 1):
        try:
            return stack.worker(**kwargs)
        except AssertionError as exc:
            if "address already in use" not in str(exc) or attempt == WORKER_START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


# ---- events -------------------------------------------------------------------------


def _event(
    event_id: str, kind: str, data: dict[str, Any], stamp: str = "2024-12-20T10:00:00Z"
) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "test.section9",
            "type": kind,
            "time": stamp,
            "data": data,
        }
    ).encode()


def _order(
    event_id: str,
    asset_id: str,
    *,
    start: str,
    end: str,
    renewal_term: int,
    account: str = "ACC-S9",
    quantity: str = "10",
    unit_price: str = "20.00",
    price_term: int = 1,
    auto_renew: bool = False,
) -> bytes:
    line: dict[str, Any] = {
        "line_id": "1",
        "asset_id": asset_id,
        "product_code": "SEAT",
        "product_name": "Seat",
        "quantity": quantity,
        "unit_price": unit_price,
        "price_term_months": price_term,
        "start_date": start,
        "end_date": end,
        "renewal_term_months": renewal_term,
    }
    if auto_renew:
        line["auto_renew"] = True
    return _event(
        event_id,
        "order.fulfilled",
        {"order_id": f"ORD-{event_id}", "account_id": account, "currency": "USD", "lines": [line]},
    )


def _upsell(
    event_id: str, asset_id: str, day: str, change: str, stamp: str = "2025-02-01T10:00:00Z"
) -> bytes:
    return _event(
        event_id,
        "asset.quantity_changed",
        {"asset_id": asset_id, "effective_date": day, "quantity_change": change},
        stamp,
    )


# ---- reading the topics -------------------------------------------------------------


def _history(stack: Stack, asset_id: str) -> list[dict[str, Any] | None]:
    """Every record published for the asset, in order (one key: one partition); None: a
    tombstone."""
    records = asyncio.run(_read_all(stack.bootstrap, stack.prefix + "assets.snapshots"))
    return [
        None if r.value is None else json.loads(r.value)
        for r in records
        if r.key == asset_id.encode()
    ]


def _actions(snapshot: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(a["action_id"], a["category"], a["subtype"]) for a in snapshot["actions"]]


def _pending(snapshot: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(p["event_id"], p["reason_code"], p["waiting"]) for p in snapshot["pending_events"]]


def _quantity_on(snapshot: dict[str, Any], day: str) -> int:
    """The quantity of the period containing `day` (0 outside the lifecycle)."""
    for period in snapshot["state_periods"]:
        if period["start_date"] <= day < period["end_date"]:
            return int(period["quantity"])
    return 0


def _letters_for(stack: Stack, event_id: str) -> list[dict[str, Any]]:
    return [d for d in stack.dead_letters() if d["event_id"] == event_id]


def _holds(predicate: Callable[[], bool], *, seconds: float, what: str) -> None:
    """Poll for `seconds`: `predicate` must be true at every look (at least two looks)."""
    deadline = time.monotonic() + seconds
    looks = 0
    while looks < 2 or time.monotonic() < deadline:
        assert predicate(), f"{what} stopped holding after {looks} look(s)"
        looks += 1
        time.sleep(0.25)


def _metric(text: str, name: str, **labels: str) -> float:
    """One sample of the worker's Prometheus exposition (0 when it is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{wanted}}}" if labels else name) + r" ([0-9.e+-]+)$"
    for line in text.splitlines():
        found = re.match(pattern, line)
        if found:
            return float(found.group(1))
    return 0.0


# ---- 1. an automatic renewal at the clock's boundary --------------------------------


def test_an_auto_renewing_asset_renews_when_the_clock_crosses_its_end_published_once(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, clock: DateFile
) -> None:
    """SPEC §9.4, §4.5: the clock crossing E is a boundary; one publication per crossing, even
    when one crossing passes two ends, and none while the clock moves inside a term."""
    asset = "AST-S9-AUTO"
    lines = [
        _order(
            "s9-auto", asset, start="2025-01-01", end="2025-04-01", renewal_term=3, auto_renew=True
        )
    ]
    clock.move_to("2025-03-15")
    _worker(stack, as_of="2025-03-15", extra=clock.env)
    produce_lines(stack.bootstrap, stack.prefix, lines)
    first = wait_until(
        lambda: stack.snapshots().get(asset),
        timeout=PUBLISHED_TIMEOUT,
        what="the initial sale's snapshot",
    )
    assert first["auto_renew"] is True and first["next_renewal_date"] == "2025-04-01"
    assert _actions(first) == [("s9-auto/1", "initial_sale", None)]
    published = len(_history(stack, asset))
    _holds(
        lambda: len(_history(stack, asset)) == published,
        seconds=QUIET_SECONDS,
        what="no publication while the clock stands still",
    )

    clock.move_to("2025-04-01")
    renewed = wait_until(
        lambda: (s := stack.snapshots()[asset])["next_renewal_date"] == "2025-07-01" and s,
        timeout=BOUNDARY_TIMEOUT,
        what="the automatic renewal at 2025-04-01",
    )
    assert _actions(renewed) == [
        ("s9-auto/1", "initial_sale", None),
        (f"{asset}/auto-renewal/2025-04-01", "renewal", "auto_renewal"),
    ]
    auto = renewed["actions"][1]
    assert (auto["effective_date"], auto["action_time"]) == ("2025-04-01", "2025-04-01T00:00:00Z")
    assert (renewed["as_of"], renewed["status"], renewed["lifecycle_end_date"]) == (
        "2025-04-01",
        "active",
        "2025-07-01",
    )
    assert renewed["version"] == first["version"] + 1
    assert len(_history(stack, asset)) == published + 1
    _holds(
        lambda: len(_history(stack, asset)) == published + 1,
        seconds=QUIET_SECONDS,
        what="the renewal published once (not once per tick)",
    )

    clock.move_to("2025-05-15")  # inside the renewed term: no boundary
    _holds(
        lambda: len(_history(stack, asset)) == published + 1,
        seconds=QUIET_SECONDS,
        what="no publication for a move inside the term",
    )

    clock.move_to("2025-10-15")  # past two ends at once: both renewals, one publication
    twice = wait_until(
        lambda: (s := stack.snapshots()[asset])["next_renewal_date"] == "2026-01-01" and s,
        timeout=BOUNDARY_TIMEOUT,
        what="the renewals at 2025-07-01 and 2025-10-01",
    )
    assert [a[0] for a in _actions(twice)][2:] == [
        f"{asset}/auto-renewal/2025-07-01",
        f"{asset}/auto-renewal/2025-10-01",
    ]
    _holds(
        lambda: len(_history(stack, asset)) == published + 2,
        seconds=QUIET_SECONDS,
        what="one publication for the move past two ends",
    )
    assert stack.dead_letters() == []
    expected = replay(lines, "2025-10-15", tmp_path / "replay")
    settled(stack, expected, wait_until, "the renewed asset to equal replay at 2025-10-15")


def test_an_explicit_renewal_replaces_a_published_automatic_one_and_a_notice_stops_it(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, clock: DateFile
) -> None:
    """SPEC §9.4: an explicit renewal at E takes the automatic one's place even after it was
    published; a cancellation at E (a notice of non-renewal) means no renewal at the boundary."""
    explicit, notice = "AST-S9-EXPLICIT", "AST-S9-NOTICE"
    lines = [
        _order(
            "s9-explicit",
            explicit,
            start="2025-01-01",
            end="2025-04-01",
            renewal_term=3,
            auto_renew=True,
        ),
        _order(
            "s9-notice",
            notice,
            start="2025-01-01",
            end="2025-04-01",
            renewal_term=3,
            auto_renew=True,
        ),
        _event(
            "s9-notice-end",
            "asset.cancelled",
            {"asset_id": notice, "effective_date": "2025-04-01"},
            "2025-03-01T10:00:00Z",
        ),
        _event(
            "s9-explicit-renewal",
            "asset.renewed",
            {"asset_id": explicit, "start_date": "2025-04-01", "unit_price": "25.00"},
            "2025-04-03T10:00:00Z",
        ),
    ]
    clock.move_to("2025-03-15")
    _worker(stack, as_of="2025-03-15", extra=clock.env)
    produce_lines(stack.bootstrap, stack.prefix, lines[:3])
    noticed = wait_until(
        lambda: (s := stack.snapshots().get(notice)) and len(s["actions"]) == 2 and s,
        timeout=PUBLISHED_TIMEOUT,
        what="the notice of non-renewal applied",
    )
    assert noticed["next_renewal_date"] is None and noticed["status"] == "active"

    clock.move_to("2025-04-01")
    wait_until(
        lambda: stack.snapshots()[explicit]["next_renewal_date"] == "2025-07-01",
        timeout=BOUNDARY_TIMEOUT,
        what="the automatic renewal published",
    )
    ended = wait_until(
        lambda: (s := stack.snapshots()[notice])["status"] == "cancelled" and s,
        timeout=BOUNDARY_TIMEOUT,
        what="the noticed asset ended at the boundary",
    )
    assert _actions(ended) == [
        ("s9-notice/1", "initial_sale", None),
        ("s9-notice-end", "cancellation", None),
    ]
    assert (ended["current_quantity"], ended["lifecycle_end_date"]) == ("0", "2025-04-01")

    produce_lines(stack.bootstrap, stack.prefix, lines[3:])
    replaced = wait_until(
        lambda: (
            (s := stack.snapshots()[explicit])["actions"][-1]["action_id"] == "s9-explicit-renewal"
            and s
        ),
        timeout=PUBLISHED_TIMEOUT,
        what="the explicit renewal in the automatic one's place",
    )
    assert _actions(replaced) == [
        ("s9-explicit/1", "initial_sale", None),
        ("s9-explicit-renewal", "renewal", None),
    ]
    assert (replaced["current_mrr"], replaced["next_renewal_date"]) == ("250.00", "2025-07-01")
    assert stack.dead_letters() == []
    expected = replay(lines, "2025-04-01", tmp_path / "replay")
    settled(stack, expected, wait_until, "both assets to equal replay at 2025-04-01")


def test_swap_and_transfer_targets_of_an_auto_renewing_source_renew_with_it(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, clock: DateFile
) -> None:
    """SPEC §9.2, §9.4: targets inherit auto-renewal and renew on their own at the boundary;
    each asset is published once per crossing and units are conserved in every period."""
    source, swapped, moved = "AST-S9-PARENT", "AST-S9-SWAPPED", "AST-S9-MOVED"
    lines = [
        _order(
            "s9-parent",
            source,
            start="2025-01-01",
            end="2025-04-01",
            renewal_term=3,
            auto_renew=True,
        ),
        _event(
            "s9-swap",
            "asset.swapped",
            {
                "asset_id": source,
                "effective_date": "2025-02-01",
                "quantity": "4",
                "kind": "swap",
                "product_code": "SEAT-X",
                "unit_price": "30.00",
                "target_asset_id": swapped,
            },
            "2025-01-20T10:00:00Z",
        ),
        _event(
            "s9-transfer",
            "asset.transferred",
            {
                "asset_id": source,
                "effective_date": "2025-03-01",
                "quantity": "2",
                "target_account_id": "ACC-S9-T",
                "target_asset_id": moved,
            },
            "2025-02-20T10:00:00Z",
        ),
    ]
    assets = (source, swapped, moved)
    clock.move_to("2025-03-15")
    _worker(stack, as_of="2025-03-15", extra=clock.env)
    produce_lines(stack.bootstrap, stack.prefix, lines)
    replayed = replay(lines, "2025-03-15", tmp_path / "before")
    settled(stack, replayed, wait_until, "the three assets before the boundary")
    counts = {a: len(_history(stack, a)) for a in assets}

    for day in ("2025-04-01", "2025-07-01"):
        clock.move_to(day)
        expected = replay(lines, day, tmp_path / day)
        assert all(s["next_renewal_date"] != day for s in expected.values())
        settled(stack, expected, wait_until, f"the three assets renewed at {day}")
        counts = {a: n + 1 for a, n in counts.items()}

        def once(want: dict[str, int] = counts) -> bool:
            return {a: len(_history(stack, a)) for a in assets} == want

        _holds(once, seconds=QUIET_SECONDS, what=f"each asset published once at {day}")
    snapshots = stack.snapshots()
    for asset in assets:
        assert [a[0] for a in _actions(snapshots[asset])][-2:] == [
            f"{asset}/auto-renewal/2025-04-01",
            f"{asset}/auto-renewal/2025-07-01",
        ]
    for day in ("2025-01-15", "2025-02-15", "2025-03-15", "2025-04-15", "2025-09-30"):
        assert sum(_quantity_on(snapshots[a], day) for a in assets) == 10, day
    assert [_quantity_on(snapshots[a], "2025-09-30") for a in assets] == [4, 4, 2]
    assert stack.dead_letters() == []


def test_a_boundary_crossed_while_the_worker_is_down_is_published_after_its_restart(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, clock: DateFile
) -> None:
    """The wake-up index is rebuilt from the table at start: the renewal a stopped worker
    missed is applied and published once when it is back (RocksDB store, SPEC §4.5)."""
    asset = "AST-S9-RESTART"
    lines = [
        _order(
            "s9-restart",
            asset,
            start="2025-01-01",
            end="2025-04-01",
            renewal_term=3,
            auto_renew=True,
        ),
    ]
    data_dir = tmp_path / "rocks"
    clock.move_to("2025-03-15")
    first = _worker(
        stack,
        as_of="2025-03-15",
        store="rocksdb://",
        data_dir=data_dir,
        name="worker-1",
        extra=clock.env,
    )
    produce_lines(stack.bootstrap, stack.prefix, lines)
    wait_until(
        lambda: stack.snapshots().get(asset),
        timeout=PUBLISHED_TIMEOUT,
        what="the initial sale's snapshot",
    )
    published = len(_history(stack, asset))
    assert first.stop() == 0
    clock.move_to("2025-04-01")
    _worker(
        stack,
        as_of="2025-03-15",
        store="rocksdb://",
        data_dir=data_dir,
        name="worker-2",
        extra=clock.env,
    )
    renewed = wait_until(
        lambda: (s := stack.snapshots()[asset])["next_renewal_date"] == "2025-07-01" and s,
        timeout=PUBLISHED_TIMEOUT,
        what="the missed renewal published after the restart",
    )
    assert _actions(renewed)[-1] == (f"{asset}/auto-renewal/2025-04-01", "renewal", "auto_renewal")
    _holds(
        lambda: len(_history(stack, asset)) == published + 1,
        seconds=QUIET_SECONDS,
        what="the missed renewal published once",
    )
    expected = replay(lines, "2025-04-01", tmp_path / "replay")
    settled(stack, expected, wait_until, "the renewed asset to equal replay")


# ---- 2. a waiting upsell for the next term ------------------------------------------


def test_a_waiting_upsell_for_the_next_term_outlives_the_grace_and_applies_at_the_renewal(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, clock: DateFile
) -> None:
    """SPEC §9.4: its grace starts only when as_of reaches its date. A control on an asset
    that does not renew shows the grace running out for the same event meanwhile; a downsell
    that waits, then cannot be covered by the renewed term, is dead-lettered after it."""
    waiting, control, over = "AST-S9-WAIT", "AST-S9-FIXED", "AST-S9-OVER"
    lines = [
        _order(
            "s9-wait",
            waiting,
            start="2025-01-01",
            end="2025-04-01",
            renewal_term=3,
            auto_renew=True,
        ),
        _upsell("s9-wait-up", waiting, "2025-05-01", "5"),
        _order("s9-fixed", control, start="2025-01-01", end="2025-04-01", renewal_term=3),
        _upsell("s9-fixed-up", control, "2025-05-01", "5"),
        _order(
            "s9-over", over, start="2025-01-01", end="2025-04-01", renewal_term=3, auto_renew=True
        ),
        _upsell("s9-over-down", over, "2025-05-01", "-20"),
    ]
    clock.move_to("2025-03-15")
    _worker(stack, as_of="2025-03-15", grace=GRACE, extra=clock.env)
    produce_lines(stack.bootstrap, stack.prefix, lines)
    (late,) = wait_until(
        lambda: _letters_for(stack, "s9-fixed-up"),
        timeout=PUBLISHED_TIMEOUT,
        what="the control's upsell dead-lettered after the grace",
    )
    assert late["reason_code"] == "outside_lifecycle"

    def still_waiting() -> bool:
        snapshots, letters = stack.snapshots(), stack.dead_letters()
        return (
            _pending(snapshots[waiting]) == [("s9-wait-up", "outside_lifecycle", True)]
            and _pending(snapshots[over]) == [("s9-over-down", "outside_lifecycle", True)]
            and snapshots[waiting]["next_renewal_date"] == "2025-04-01"
            and [d["event_id"] for d in letters] == ["s9-fixed-up"]
        )

    wait_until(still_waiting, timeout=PUBLISHED_TIMEOUT, what="both events pending, waiting")
    _holds(still_waiting, seconds=QUIET_SECONDS, what="the waiting events past the grace")

    clock.move_to("2025-04-01")  # the renewal covers 2025-05-01: the upsell applies on it
    renewed = wait_until(
        lambda: (s := stack.snapshots()[waiting])["pending_events"] == [] and s,
        timeout=BOUNDARY_TIMEOUT,
        what="the renewal and the upsell applied at 2025-04-01",
    )
    assert _actions(renewed) == [
        ("s9-wait/1", "initial_sale", None),
        (f"{waiting}/auto-renewal/2025-04-01", "renewal", "auto_renewal"),
        ("s9-wait-up", "upsell", None),
    ]
    assert (renewed["current_quantity"], renewed["next_renewal_date"]) == ("10", "2025-07-01")
    # The downsell no longer waits (the renewed term cannot cover it): its grace starts now.
    (short,) = wait_until(
        lambda: _letters_for(stack, "s9-over-down"),
        timeout=PUBLISHED_TIMEOUT,
        what="the uncoverable downsell dead-lettered a grace after the renewal",
    )
    assert short["reason_code"] == "insufficient_quantity"

    clock.move_to("2025-05-01")  # the upsell's date: a period boundary
    wait_until(
        lambda: stack.snapshots()[waiting]["current_quantity"] == "15",
        timeout=BOUNDARY_TIMEOUT,
        what="the upsell in effect on 2025-05-01",
    )
    for snapshot in filter(None, _history(stack, waiting)):  # its grace never started early
        assert all(p[2] for p in _pending(snapshot) if p[0] == "s9-wait-up"), snapshot
    assert sorted(d["event_id"] for d in stack.dead_letters()) == ["s9-fixed-up", "s9-over-down"]
    expected = replay(lines, "2025-05-01", tmp_path / "replay")
    settled(stack, expected, wait_until, "the three assets to equal replay at 2025-05-01")


def test_a_walk_of_the_clock_through_late_notices_renewals_and_voids_equals_replay_each_step(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, clock: DateFile
) -> None:
    """SPEC §9.4 with the worker's clock moving: an uplifted renewal compounding; a notice of
    non-renewal arriving after the automatic renewal was published (the renewal is withdrawn);
    an explicit renewal taking its place, then voided (the automatic one is back); a waiting
    explicit renewal of the next term and a waiting price change that apply at the boundary.
    After every step the published snapshots equal `replay` of the lines so far."""

    def order(name: str, uplift: str | None = None) -> bytes:
        raw = json.loads(
            _order(
                f"s9-walk-{name}",
                f"AST-S9-WALK-{name}",
                start="2025-01-01",
                end="2025-04-01",
                renewal_term=3,
                auto_renew=True,
            )
        )
        if uplift is not None:
            raw["data"]["lines"][0]["renewal_uplift_percent"] = uplift
        return json.dumps(raw).encode()

    def amend(event_id: str, kind: str, name: str, stamp: str, **data: str) -> bytes:
        return _event(event_id, kind, {"asset_id": f"AST-S9-WALK-{name}", **data}, stamp)

    ordered = [
        order("A", uplift="5"),
        order("B"),
        order("C"),
        order("D"),
        order("E"),
        amend(
            "s9-walk-d-renewal",
            "asset.renewed",
            "D",
            "2025-03-10T10:00:00Z",
            start_date="2025-07-01",
            unit_price="22.00",
        ),
        amend(
            "s9-walk-e-price",
            "asset.repriced",
            "E",
            "2025-03-10T10:00:00Z",
            effective_date="2025-05-01",
            uplift_percent="10",
        ),
    ]
    late = [
        amend(
            "s9-walk-b-notice",
            "asset.cancelled",
            "B",
            "2025-04-02T10:00:00Z",
            effective_date="2025-04-01",
        ),
        amend(
            "s9-walk-c-renewal",
            "asset.renewed",
            "C",
            "2025-04-02T10:00:00Z",
            start_date="2025-04-01",
            unit_price="30.00",
        ),
    ]
    void = [
        amend(
            "s9-walk-c-void",
            "asset.event_voided",
            "C",
            "2025-04-03T10:00:00Z",
            voided_event_id="s9-walk-c-renewal",
            reason="wrong price",
        )
    ]
    steps = [
        ("2025-03-15", ordered),
        ("2025-04-01", []),
        ("2025-04-01", late),
        ("2025-04-01", void),
        ("2025-07-01", []),
    ]
    clock.move_to(steps[0][0])
    _worker(stack, as_of=steps[0][0], grace=GRACE, extra=clock.env)
    lines: list[bytes] = []
    seen: dict[str, dict[str, Any]] = {}
    for number, (day, new) in enumerate(steps, 1):
        clock.move_to(day)
        lines += new
        produce_lines(stack.bootstrap, stack.prefix, new)
        expected = replay(lines, day, tmp_path / f"step-{number}")
        seen = settled(stack, expected, wait_until, f"step {number} ({day}) to equal replay")
    walk = {k.removeprefix("AST-S9-WALK-"): v for k, v in seen.items()}
    assert (walk["A"]["current_mrr"], walk["B"]["status"], walk["C"]["current_mrr"]) == (
        "220.50",
        "cancelled",
        "200.00",
    )
    assert [a[0] for a in _actions(walk["B"])] == ["s9-walk-B/1", "s9-walk-b-notice"]
    assert _actions(walk["C"])[1:] == [
        ("AST-S9-WALK-C/auto-renewal/2025-04-01", "renewal", "auto_renewal"),
        ("AST-S9-WALK-C/auto-renewal/2025-07-01", "renewal", "auto_renewal"),
    ]
    assert [a[0] for a in _actions(walk["D"])][-1] == "s9-walk-d-renewal"
    assert "s9-walk-e-price" in [a[0] for a in _actions(walk["E"])]
    assert stack.dead_letters() == []


def test_a_waiting_event_that_still_cannot_apply_on_its_date_is_dead_lettered_a_grace_later(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, clock: DateFile
) -> None:
    """SPEC §9.4: an explicit renewal off the term grid waits through the automatic renewal
    (its date is still ahead); when the clock reaches its date its grace starts, and it ends
    in the dead-letter topic a grace later, not before."""
    asset = "AST-S9-GRID"
    lines = [
        _order(
            "s9-grid", asset, start="2025-01-01", end="2025-04-01", renewal_term=3, auto_renew=True
        ),
        _event(
            "s9-grid-renewal",
            "asset.renewed",
            {"asset_id": asset, "start_date": "2025-06-15"},
            "2025-03-01T10:00:00Z",
        ),
    ]
    clock.move_to("2025-03-15")
    _worker(stack, as_of="2025-03-15", grace=GRACE, extra=clock.env)
    produce_lines(stack.bootstrap, stack.prefix, lines)
    waits = ("s9-grid-renewal", "renewal_not_contiguous", True)
    wait_until(
        lambda: (s := stack.snapshots().get(asset)) is not None and _pending(s) == [waits],
        timeout=PUBLISHED_TIMEOUT,
        what="the off-grid renewal pending, waiting",
    )
    clock.move_to("2025-04-01")
    wait_until(
        lambda: stack.snapshots()[asset]["next_renewal_date"] == "2025-07-01",
        timeout=BOUNDARY_TIMEOUT,
        what="the automatic renewal at 2025-04-01",
    )
    _holds(
        lambda: _pending(stack.snapshots()[asset]) == [waits] and stack.dead_letters() == [],
        seconds=QUIET_SECONDS,
        what="the renewal still waiting after the automatic one (its date is ahead)",
    )
    clock.move_to("2025-06-15")
    (letter,) = wait_until(
        lambda: _letters_for(stack, "s9-grid-renewal"),
        timeout=BOUNDARY_TIMEOUT,
        what="the renewal dead-lettered a grace after the clock reached its date",
    )
    assert letter["reason_code"] == "renewal_not_contiguous"
    stopped = [
        s
        for s in filter(None, _history(stack, asset))
        if _pending(s) == [("s9-grid-renewal", "renewal_not_contiguous", False)]
    ]
    assert stopped and stopped[0]["as_of"] == "2025-06-15", "its grace started before its date"
    expected = replay(lines, "2025-06-15", tmp_path / "replay")
    settled(stack, expected, wait_until, "the asset to equal replay at 2025-06-15")


# ---- 3. a void before its event -----------------------------------------------------


def test_a_void_that_arrives_before_its_event_voids_the_event_at_once(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    """SPEC §9.3: pending `unknown_event` until the event arrives, then the event is never
    applied in any published snapshot."""
    asset = "AST-S9-VOID"
    lines = [
        _order("s9-void", asset, start="2025-01-01", end="2026-01-01", renewal_term=12),
        _event(
            "s9-void-fix",
            "asset.event_voided",
            {"asset_id": asset, "voided_event_id": "s9-void-oops", "reason": "entered in error"},
            "2025-02-02T09:00:00Z",
        ),
        _upsell("s9-void-oops", asset, "2025-03-01", "5", "2025-02-01T09:00:00Z"),
    ]
    worker = _worker(stack, as_of="2025-06-01")
    produce_lines(stack.bootstrap, stack.prefix, lines[:2])
    wait_until(
        lambda: (
            _pending(stack.snapshots().get(asset) or {"pending_events": []})
            == [("s9-void-fix", "unknown_event", False)]
        ),
        timeout=PUBLISHED_TIMEOUT,
        what="the void pending unknown_event",
    )
    produce_lines(stack.bootstrap, stack.prefix, lines[2:])
    voided = wait_until(
        lambda: (s := stack.snapshots()[asset])["voided_events"] and s,
        timeout=PUBLISHED_TIMEOUT,
        what="the late event voided",
    )
    assert voided["voided_events"] == [
        {"event_id": "s9-void-oops", "voided_by": "s9-void-fix", "reason": "entered in error"}
    ]
    assert _actions(voided) == [("s9-void/1", "initial_sale", None)]
    assert (voided["current_quantity"], voided["pending_events"]) == ("10", [])
    history = [s for s in _history(stack, asset) if s is not None]
    assert len(history) >= 2
    for snapshot in history:
        assert "s9-void-oops" not in [a["action_id"] for a in snapshot["actions"]]
        assert "s9-void-oops" not in [p["event_id"] for p in snapshot["pending_events"]]
    assert stack.dead_letters() == []
    assert (
        _metric(stack.metrics(worker), "assetstream_messages_total", outcome="voided", reason="")
        == 1
    )
    expected = replay(lines, "2025-06-01", tmp_path / "replay")
    settled(stack, expected, wait_until, "the voided asset to equal replay")


def test_a_voided_creation_tombstones_the_asset_and_the_void_is_never_dead_lettered(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    """SPEC §9.3: the asset is left without a creation: its snapshot is tombstoned, its other
    events become pending `unknown_asset` (dead-lettered a grace later); the void applies."""
    asset = "AST-S9-GONE"
    lines = [
        _order("s9-gone", asset, start="2025-01-01", end="2026-01-01", renewal_term=12),
        _upsell("s9-gone-up", asset, "2025-03-01", "2"),
        _event(
            "s9-gone-void",
            "asset.event_voided",
            {"asset_id": asset, "voided_event_id": "s9-gone", "reason": "duplicate order"},
            "2025-02-10T10:00:00Z",
        ),
    ]
    _worker(stack, as_of="2025-06-01", grace=GRACE)
    produce_lines(stack.bootstrap, stack.prefix, lines[:2])
    wait_until(
        lambda: (s := stack.snapshots().get(asset)) is not None and s["current_quantity"] == "12",
        timeout=PUBLISHED_TIMEOUT,
        what="the asset with its upsell",
    )
    produce_lines(stack.bootstrap, stack.prefix, lines[2:])
    wait_until(
        lambda: (h := _history(stack, asset)) and h[-1] is None,
        timeout=PUBLISHED_TIMEOUT,
        what="the asset's tombstone",
    )
    (letter,) = wait_until(
        lambda: _letters_for(stack, "s9-gone-up"),
        timeout=PUBLISHED_TIMEOUT,
        what="the orphaned upsell dead-lettered after the grace",
    )
    assert letter["reason_code"] == "unknown_asset"
    _holds(
        lambda: (
            [d["event_id"] for d in stack.dead_letters()] == ["s9-gone-up"]
            and _history(stack, asset)[-1] is None
        ),
        seconds=QUIET_SECONDS,
        what="the void never dead-lettered, the asset gone",
    )
    expected = replay(lines, "2025-06-01", tmp_path / "replay")
    assert expected == {}
    settled(stack, expected, wait_until, "no asset, as in replay")


# ---- 4. a swap withdrawn by a backdated cancellation, down to the API ---------------


def test_a_backdated_cancellation_of_a_swap_source_withdraws_the_target_down_to_the_api(
    stack: Stack,
    wait_until: Callable[..., Any],
    tmp_path: Path,
    free_port: int,
    start_process: Callable[..., RunningProcess],
) -> None:
    """SPEC §9.2/§4.2: the target follows its source; a swap that stops applying withdraws it
    (a tombstone on assets.snapshots, deleted from Redis, 404 from the API)."""
    source, target = "AST-S9-SRC", "AST-S9-TGT"
    lines = [
        _order(
            "s9-src",
            source,
            start="2025-01-01",
            end="2026-01-01",
            renewal_term=12,
            unit_price="240.00",
            price_term=12,
        ),
        _event(
            "s9-upgrade",
            "asset.swapped",
            {
                "asset_id": source,
                "effective_date": "2025-06-01",
                "quantity": "4",
                "kind": "upgrade",
                "product_code": "SEAT-PRO",
                "unit_price": "480.00",
                "target_asset_id": target,
            },
            "2025-05-20T10:00:00Z",
        ),
        _event(
            "s9-cancel",
            "asset.cancelled",
            {"asset_id": source, "effective_date": "2025-03-01"},
            "2025-07-01T10:00:00Z",
        ),
    ]
    worker = _worker(stack, as_of="2025-08-01", grace=GRACE)
    start_process(["python", "-m", "streams.cli", "project"], env=stack.env, name="projection")
    api = start_process(
        ["python", "-m", "streams.cli", "api", "--port", str(free_port)], env=stack.env, name="api"
    )
    api.wait_for_log("assetstream api: http://", timeout=API_READY_TIMEOUT)
    base = f"http://127.0.0.1:{free_port}"

    def get(path: str) -> httpx.Response | None:
        try:
            return httpx.get(base + path, timeout=5.0)
        except httpx.TransportError:
            return None  # uvicorn not listening yet

    produce_lines(stack.bootstrap, stack.prefix, lines[:2])
    served = wait_until(
        lambda: (r := get(f"/assets/{target}")) is not None and r.status_code == 200 and r.json(),
        timeout=READ_MODEL_TIMEOUT,
        what="the upgrade's target served by the API",
    )
    assert _actions(served) == [("s9-upgrade/to", "upgrade", "upgrade_to")]
    assert (served["current_quantity"], served["product_code"]) == ("4", "SEAT-PRO")

    produce_lines(stack.bootstrap, stack.prefix, lines[2:])
    wait_until(
        lambda: (h := _history(stack, target)) and h[-1] is None,
        timeout=PUBLISHED_TIMEOUT,
        what="the target's tombstone on assets.snapshots",
    )

    def gone() -> httpx.Response | None:
        response = get(f"/assets/{target}")
        return response if response is not None and response.status_code == 404 else None

    missing = wait_until(gone, timeout=READ_MODEL_TIMEOUT, what="the API to answer 404")
    assert missing.json() == {"error": f"unknown asset '{target}'", "asset_id": target}
    health = get("/healthz")
    assert health is not None and health.json()["redis"]["read_model"] == "complete"
    cancelled = wait_until(
        lambda: (
            (r := get(f"/assets/{source}")) is not None
            and r.status_code == 200
            and r.json()["status"] == "cancelled"
            and r.json()
        ),
        timeout=READ_MODEL_TIMEOUT,
        what="the cancelled source served by the API",
    )
    assert _actions(cancelled)[-1] == ("s9-cancel", "cancellation", None)
    assert "s9-upgrade" not in [a[0] for a in _actions(cancelled)]
    assert cancelled["lifecycle_end_date"] == "2025-03-01"

    (letter,) = wait_until(
        lambda: _letters_for(stack, "s9-upgrade"),
        timeout=PUBLISHED_TIMEOUT,
        what="the swap dead-lettered after the grace",
    )
    assert letter["reason_code"] == "outside_lifecycle"
    assert _metric(stack.metrics(worker), "assetstream_tombstones_published_total") >= 1
    expected = replay(lines, "2025-08-01", tmp_path / "replay")
    assert target not in expected
    settled(stack, expected, wait_until, "the source alone, equal to replay")


# ---- 5. a transfer into an asset id that is taken -----------------------------------


@pytest.mark.parametrize("arrival", ["target-exists-first", "transfer-first"])
def test_a_transfer_into_a_taken_asset_id_is_pending_on_its_source_and_nothing_vanishes(
    stack: Stack, wait_until: Callable[..., Any], tmp_path: Path, arrival: str
) -> None:
    """SPEC §9.5: the source keeps its units, pending `asset_already_exists`, then dead-lettered
    after the grace; the asset that owns the id keeps its own terms, in both arrival orders."""
    source, taken = "AST-S9-FROM", "AST-S9-TAKEN"
    source_order = _order("s9-from", source, start="2025-01-01", end="2026-01-01", renewal_term=12)
    owner_order = _order(
        "s9-taken",
        taken,
        start="2025-01-01",
        end="2026-01-01",
        renewal_term=12,
        account="ACC-S9-OTHER",
        quantity="2",
        unit_price="99.00",
    )
    transfer = _event(
        "s9-move",
        "asset.transferred",
        {
            "asset_id": source,
            "effective_date": "2025-03-01",
            "quantity": "3",
            "target_account_id": "ACC-S9-NEW",
            "target_asset_id": taken,
        },
        "2025-02-20T10:00:00Z",
    )
    _worker(stack, as_of="2025-06-01", grace=GRACE)
    if arrival == "target-exists-first":
        lines = [source_order, owner_order, transfer]
        produce_lines(stack.bootstrap, stack.prefix, lines[:2])
        wait_until(
            lambda: {source, taken} <= set(stack.snapshots()),
            timeout=PUBLISHED_TIMEOUT,
            what="both assets published before the transfer",
        )
        produce_lines(stack.bootstrap, stack.prefix, lines[2:])
    else:  # the transfer creates the target; the id's owner arrives after it
        lines = [source_order, transfer, owner_order]
        produce_lines(stack.bootstrap, stack.prefix, lines[:2])
        wait_until(
            lambda: (
                (s := stack.snapshots().get(taken)) is not None and s["account_id"] == "ACC-S9-NEW"
            ),
            timeout=PUBLISHED_TIMEOUT,
            what="the transfer's target published",
        )
        produce_lines(stack.bootstrap, stack.prefix, lines[2:])

    (letter,) = wait_until(
        lambda: _letters_for(stack, "s9-move"),
        timeout=PUBLISHED_TIMEOUT,
        what="the transfer dead-lettered after the grace",
    )
    assert letter["reason_code"] == "asset_already_exists"
    refused = [
        s
        for s in _history(stack, source)
        if s is not None and ("s9-move", "asset_already_exists", False) in _pending(s)
    ]
    assert refused, "no published snapshot of the source showed the transfer pending"
    assert all(
        s["current_quantity"] == "10" and [p["quantity"] for p in s["state_periods"]] == ["10"]
        for s in refused
    )

    def final() -> bool:
        snapshots = stack.snapshots()
        return (
            set(snapshots) == {source, taken}
            and snapshots[source]["pending_events"] == []
            and snapshots[taken]["account_id"] == "ACC-S9-OTHER"
        )

    wait_until(final, timeout=PUBLISHED_TIMEOUT, what="the source whole, the owner its own")
    snapshots = stack.snapshots()
    assert _actions(snapshots[source]) == [("s9-from/1", "initial_sale", None)]
    assert snapshots[source]["current_quantity"] == "10"
    assert _actions(snapshots[taken]) == [("s9-taken/1", "initial_sale", None)]
    assert (snapshots[taken]["current_quantity"], snapshots[taken]["current_mrr"]) == (
        "2",
        "198.00",
    )
    assert [d["event_id"] for d in stack.dead_letters()] == ["s9-move"]
    expected = replay(lines, "2025-06-01", tmp_path / "replay")
    settled(stack, expected, wait_until, "source and owner equal to replay")
