"""Deterministic, realistic event streams for end-to-end and equivalence tests.

    python -m tests.support.generate_events --assets 1300 --seed 7 > events.jsonl

Orders of 1–10 lines, then upsells, downsells, renewals, cancellations and
partial transfers, some arriving before their order (other topic) or
backdated. With `section_9` (`--section-9`), also price changes, swaps,
upgrades and downgrades, voids of earlier amendments and auto-renewing lines
(SPEC §9), drawn from a second random stream so the first one's output stays
what it was. Events that would stay pending are dropped (checked with the
replay engine as of `AS_OF`, repeated until nothing more is dropped), so Kafka
and `assetstream replay` must agree exactly.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date, timedelta
from typing import Any

from domain.months import add_months

AS_OF = date(2026, 6, 1)


def _envelope(event_id: str, kind: str, data: dict[str, Any], minute: int) -> dict[str, Any]:
    hours, mins = divmod(minute, 60)
    days, hours = divmod(hours, 24)
    stamp = date(2025, 1, 1) + timedelta(days=days)
    return {"specversion": "1.0", "id": event_id, "source": "generator", "type": kind,
            "time": f"{stamp.isoformat()}T{hours:02d}:{mins:02d}:00Z", "data": data}  # fmt: skip


def generate(assets: int, seed: int, *, section_9: bool = False) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    extra = random.Random(seed + 1) if section_9 else None
    events: list[dict[str, Any]] = []
    minute = 0
    made = 0
    currencies = ["USD", "USD", "USD", "EUR", "JPY", "KWD"]
    while made < assets:
        order = f"ORD-{seed}-{made}"
        account = f"ACC-{rnd.randint(1, max(assets // 4, 1))}"
        currency = rnd.choice(currencies)
        lines: list[dict[str, Any]] = []
        for line in range(1, rnd.randint(1, 10) + 1):
            start = date(2025, 1, 1) + timedelta(days=rnd.randint(0, 400))
            months = rnd.choice([1, 6, 12, 12, 12, 24])
            lines.append({
                "line_id": str(line), "asset_id": f"AST-{seed}-{made}",
                "product_code": rnd.choice(["QBO", "CRM", "ERP", "SUP"]),
                "quantity": str(rnd.randint(1, 40)),
                "unit_price": f"{rnd.randint(0, 500000) / 100:.2f}" if currency != "JPY"
                else str(rnd.randint(100, 50000)),
                "price_term_months": rnd.choice([1, 12, 12]),
                "start_date": start.isoformat(), "end_date": add_months(start, months).isoformat(),
                "renewal_term_months": rnd.choice([1, 12]),
                "category": "initial_sale" if line == 1 else "cross_sell",
            })  # fmt: skip
            if extra is not None and extra.random() < 0.2:
                lines[-1]["auto_renew"] = True
                lines[-1]["renewal_uplift_percent"] = extra.choice(["0", "2", "3.5"])
            made += 1
            if made >= assets:
                break
        order_event = _envelope(f"evt-{order}", "order.fulfilled",
                                {"order_id": order, "account_id": account, "currency": currency,
                                 "lines": lines}, minute)  # fmt: skip
        minute += 1
        amendments = []
        for spec in lines:
            asset = spec["asset_id"]
            start = date.fromisoformat(spec["start_date"])
            end = date.fromisoformat(spec["end_date"])
            day = start
            for k in range(rnd.randint(3, 12)):
                day += timedelta(days=rnd.randint(1, 40))
                eid = f"evt-{asset}-{k}"
                roll = rnd.random()
                if roll < 0.45:
                    data: dict[str, Any] = {"asset_id": asset, "effective_date": day.isoformat(),
                                            "quantity_change": str(rnd.randint(1, 5))}  # fmt: skip
                    if rnd.random() < 0.3:
                        data["unit_price"] = f"{rnd.randint(0, 90000) / 100:.2f}"
                    amendments.append(_envelope(eid, "asset.quantity_changed", data, minute))
                elif roll < 0.65:
                    data = {"asset_id": asset, "effective_date": day.isoformat(),
                            "quantity_change": str(-rnd.randint(1, 3))}  # fmt: skip
                    amendments.append(_envelope(eid, "asset.quantity_changed", data, minute))
                elif roll < 0.8:
                    data = {"asset_id": asset, "start_date": end.isoformat()}
                    if rnd.random() < 0.5:
                        data["uplift_percent"] = str(rnd.choice([3, 5, 7.5, -10]))
                    amendments.append(_envelope(eid, "asset.renewed", data, minute))
                    end = add_months(end, spec["renewal_term_months"])
                elif roll < 0.92:
                    data = {"asset_id": asset, "effective_date": day.isoformat(),
                            "quantity": str(rnd.randint(1, 2)),
                            "target_account_id": f"ACC-T{rnd.randint(1, 50)}"}  # fmt: skip
                    amendments.append(_envelope(eid, "asset.transferred", data, minute))
                else:
                    data = {"asset_id": asset, "effective_date": day.isoformat()}
                    amendments.append(_envelope(eid, "asset.cancelled", data, minute))
                minute += 1
                if extra is not None:
                    amendments += _section_9(extra, asset, day, amendments, minute)
                    minute += 1
        # Some amendments overtake their order (another topic) or each other (backdating).
        if rnd.random() < 0.1:
            rnd.shuffle(amendments)
        split = rnd.randint(0, min(2, len(amendments)))
        events += [*amendments[:split], order_event, *amendments[split:]]
    return _keep_applicable(events)


def _section_9(
    rnd: random.Random, asset: str, day: date, earlier: list[dict[str, Any]], minute: int
) -> list[dict[str, Any]]:
    """Now and then a price change, a swap of one unit, or a void of an earlier amendment."""
    roll = rnd.random()
    eid = f"evt-{asset}-s9-{minute}"
    if roll < 0.08:
        data: dict[str, Any] = {"asset_id": asset, "effective_date": day.isoformat(),
                                "uplift_percent": rnd.choice(["5", "-10", "2.5"])}  # fmt: skip
        return [_envelope(eid, "asset.repriced", data, minute)]
    if roll < 0.12:
        data = {"asset_id": asset, "effective_date": day.isoformat(), "quantity": "1",
                "kind": rnd.choice(["swap", "upgrade", "downgrade"]), "product_code": "NEW",
                "unit_price": f"{rnd.randint(0, 90000) / 100:.2f}"}  # fmt: skip
        return [_envelope(eid, "asset.swapped", data, minute)]
    if roll < 0.15 and earlier:
        data = {"asset_id": asset, "voided_event_id": rnd.choice(earlier)["id"],
                "reason": "entered in error"}  # fmt: skip
        return [_envelope(eid, "asset.event_voided", data, minute)]
    return []


def _keep_applicable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop events that would still be pending at the end: Kafka keeps those pending.

    Dropping one can leave another pending (a downsell that needed a dropped upsell, a void
    of a dropped event), so this repeats until a replay rejects nothing.
    """
    from streams.replay import ReplayEngine

    while True:
        engine = ReplayEngine(as_of=AS_OF, source_name="generated")
        for number, event in enumerate(events, start=1):
            engine.feed(json.dumps(event).encode(), number)
        engine.finish()
        rejected = {letter.event_id for letter in engine.rejected}
        if not rejected:
            return events
        events = [event for event in events if event["id"] not in rejected]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--section-9", action="store_true", help="add SPEC §9 events")
    args = parser.parse_args()
    for event in generate(args.assets, args.seed, section_9=args.section_9):
        sys.stdout.write(json.dumps(event) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
