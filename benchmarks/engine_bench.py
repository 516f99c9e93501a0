"""Pure-engine benchmark: events per second on a realistic mix, and cost against history length.

Run:  .venv/bin/python benchmarks/engine_bench.py [--assets 2000] [--repeat 300]

Two numbers per history length: the ledger transition alone (what the fold
costs) and transition + snapshot render (what the worker pays before
publishing; a snapshot lists every action, so rendering grows with history).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetEvent,
    AssetRenewed,
    AssetTransferred,
    Category,
    QuantityChanged,
)
from domain.ledger import AssetLedger, new_ledger, receive
from domain.ledger_types import Delivery, Source
from domain.months import add_months

AS_OF = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
SOURCE = Source("bench", 0, 0, None, "{}")


def deliver(event: AssetEvent) -> Delivery:
    return Delivery(event, f"fp-{event.action_id}", SOURCE, NOW)


def realistic_mix(assets: int, seed: int) -> list[AssetEvent]:
    """Orders of 1–10 lines, then upsells, downsells, renewals, cancellations, transfers;
    about 5% of amendments arrive backdated (shuffled before an earlier one)."""
    rnd = random.Random(seed)
    events: list[AssetEvent] = []
    clock = datetime(2025, 1, 1, tzinfo=UTC)
    created: list[AssetCreated] = []
    while len(created) < assets:
        order = f"O{len(created)}"
        for line in range(1, rnd.randint(1, 10) + 1):
            start = date(2025, 1, 1) + timedelta(days=rnd.randint(0, 364))
            event = AssetCreated(
                f"evt-{order}", str(line), f"AST-{len(created)}", clock, order, "ACC", "USD", "P",
                None, Fraction(rnd.randint(1, 50)), Fraction(rnd.randint(100, 99999), 100), 12,
                start, add_months(start, 12), 12, Category.INITIAL_SALE,
            )  # fmt: skip
            created.append(event)
            events.append(event)
        clock += timedelta(minutes=1)
    amendments: list[AssetEvent] = []
    for n, c in enumerate(created):
        day = c.start_date
        for k in range(rnd.randint(0, 6)):
            day += timedelta(days=rnd.randint(15, 60))
            eid = f"amd-{n}-{k}"
            roll = rnd.random()
            amendments.append(_amendment(roll, eid, c, clock, day, k, rnd))
            clock += timedelta(seconds=30)
    for i in range(1, len(amendments)):
        if rnd.random() < 0.05:
            amendments[i - 1], amendments[i] = amendments[i], amendments[i - 1]
    return events + amendments


def _amendment(
    roll: float, eid: str, c: AssetCreated, clock: datetime, day: date, k: int, rnd: random.Random
) -> AssetEvent:
    if roll < 0.55:
        return QuantityChanged(eid, c.asset_id, clock, day, Fraction(rnd.randint(1, 5)), None, None)
    if roll < 0.75:
        return QuantityChanged(eid, c.asset_id, clock, day, Fraction(-1), None, None)
    if roll < 0.9:
        return AssetRenewed(eid, c.asset_id, clock, c.end_date, None, None, Fraction(3), None)
    if roll < 0.95:
        target = f"{c.asset_id}/t{k}"
        return AssetTransferred(eid, c.asset_id, clock, day, Fraction(1), "ACC-2", target, None)
    return AssetCancelled(eid, c.asset_id, clock, day, None)


def run_mix(events: list[AssetEvent], render: bool) -> float:
    ledgers: dict[str, AssetLedger] = {}
    started = time.perf_counter()
    processed = 0
    for event in events:
        ledger = ledgers.get(event.asset_id) or new_ledger(event.asset_id)
        step = receive(ledger, deliver(event), as_of=AS_OF, now=NOW)
        assert isinstance(step.ledger, AssetLedger)
        ledgers[event.asset_id] = step.ledger
        if render:
            _ = step.snapshot
        processed += 1
        for target in step.transfers:
            target_ledger = ledgers.get(target.asset_id) or new_ledger(target.asset_id)
            tstep = receive(target_ledger, Delivery(target, "t", None, NOW), as_of=AS_OF, now=NOW)
            assert isinstance(tstep.ledger, AssetLedger)
            ledgers[target.asset_id] = tstep.ledger
    return processed / (time.perf_counter() - started)


def history(actions: int) -> tuple[AssetLedger, date]:
    """An asset with `actions` in-order upsells on a long term; returns it and its last date."""
    start = date(2000, 1, 1)
    ledger = new_ledger("H")
    creation = AssetCreated("c", "1", "H", NOW, "O", "ACC", "USD", "P", None, Fraction(1),
                            Fraction(4999, 100), 12, start, date(2200, 1, 1), 12,
                            Category.INITIAL_SALE)  # fmt: skip
    step = receive(ledger, deliver(creation), as_of=AS_OF, now=NOW)
    day = start
    for k in range(actions - 1):
        day += timedelta(days=20)
        up = QuantityChanged(f"u{k}", "H", NOW, day, Fraction(1), None, None)
        step = receive(step.ledger, deliver(up), as_of=AS_OF, now=NOW)  # type: ignore[arg-type]
    assert isinstance(step.ledger, AssetLedger)
    return step.ledger, day


def median_micros(fn: Callable[[int], object], repeat: int) -> float:
    samples = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e6


def per_event_costs(sizes: list[int], repeat: int) -> Iterator[tuple[int, float, float, float]]:
    for size in sizes:
        ledger, last = history(size)

        def in_order(
            i: int, render: bool = False, ledger: AssetLedger = ledger, last: date = last
        ) -> None:
            ev = QuantityChanged(
                f"n{i}", "H", NOW, last + timedelta(days=5), Fraction(1), None, None
            )
            step = receive(ledger, deliver(ev), as_of=AS_OF, now=NOW)
            if render:
                _ = step.snapshot

        def backdated(i: int, ledger: AssetLedger = ledger) -> None:
            ev = QuantityChanged(f"b{i}", "H", NOW, date(2000, 1, 11), Fraction(1), None, None)
            receive(ledger, deliver(ev), as_of=AS_OF, now=NOW)

        yield (
            size,
            median_micros(in_order, repeat),
            median_micros(lambda i: in_order(i, render=True), max(repeat // 10, 5)),
            median_micros(backdated, max(repeat // 30, 3)),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    events = realistic_mix(args.assets, args.seed)
    print(f"Realistic mix: {len(events)} events over {args.assets} assets (seed {args.seed})")
    print(f"  ledger transitions only : {run_mix(events, render=False):9.0f} events/s")
    print(f"  transitions + rendering : {run_mix(events, render=True):9.0f} events/s")
    print()
    print("Per-event cost against history length (median µs)")
    print(f"  {'actions':>8} {'in-order':>10} {'+render':>10} {'backdated':>11}")
    rows = list(per_event_costs([10, 100, 1000], args.repeat))
    for size, in_order, rendered, backdated in rows:
        print(f"  {size:>8} {in_order:>10.1f} {rendered:>10.1f} {backdated:>11.1f}")
    ratio = rows[-1][1] / rows[0][1]
    verdict = "ok" if ratio <= 2 else "OVER BUDGET"
    print(f"\nin-order cost at 1000 actions / at 10 actions: {ratio:.2f}x (budget 2x: {verdict})")
    print(f"reproduce: .venv/bin/python benchmarks/engine_bench.py --assets {args.assets} "
          f"--repeat {args.repeat} --seed {args.seed}")  # fmt: skip
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
