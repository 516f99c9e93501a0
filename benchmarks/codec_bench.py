"""Internal-record codec: why msgspec (streams/records.py), measured.

Run:  .venv/bin/python -m benchmarks.codec_bench [--repeat 20000]

Encodes one typical command batch (a delivery of an upsell with its source, as the
intake sends it) the way `streams.records` builds it — a JSON array of plain lists —
and times encoding and decoding those same lists with msgspec, orjson and the standard
library's json. Only the JSON layer differs; turning lists into typed commands is the
same code for all three, so it is left out. Prints µs per batch and the ratios.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson

from domain.ledger_types import Delivery, Source
from service.messages import Deliver
from streams.records import command_to_list
from tests.support.builders import changed


def sample_batch(size: int) -> list[Any]:
    """`size` upsell deliveries with their source (the original bytes included)."""
    payload = json.dumps({"id": "evt-1", "type": "asset.quantity_changed", "data": {}})
    items = []
    for index in range(size):
        event = changed(f"u{index}", "2026-01-01", "2", price="10")
        source = Source("bench.assets.amendments", 3, 1000 + index, "AST-1", payload)
        delivery = Delivery(event, f"fp-{index}", source, datetime(2026, 1, 1, tzinfo=UTC))
        items.append(command_to_list(Deliver(delivery)))
    return items


def timed(run: Callable[[], Any], repeat: int) -> float:
    """Best of three, µs per call."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            run()
        best = min(best, (time.perf_counter() - started) / repeat * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()
    items = sample_batch(args.batch)
    raw = msgspec.json.encode(items)
    assert orjson.loads(raw) == json.loads(raw) == msgspec.json.decode(raw)
    codecs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "msgspec": (lambda: msgspec.json.encode(items), lambda: msgspec.json.decode(raw)),
        "orjson": (lambda: orjson.dumps(items), lambda: orjson.loads(raw)),
        "json (stdlib)": (lambda: json.dumps(items).encode(), lambda: json.loads(raw)),
    }
    print(f"a batch of {args.batch} deliveries, {len(raw)} bytes; best of 3 × {args.repeat}")
    results = {name: (timed(enc, args.repeat), timed(dec, args.repeat))
               for name, (enc, dec) in codecs.items()}  # fmt: skip
    base_enc, base_dec = results["msgspec"]
    for name, (enc, dec) in results.items():
        print(f"  {name:<14} encode {enc:8.1f} µs ({enc / base_enc:4.1f}×)   "
              f"decode {dec:8.1f} µs ({dec / base_dec:4.1f}×)")  # fmt: skip
    print(f"reproduce: .venv/bin/python -m benchmarks.codec_bench --repeat {args.repeat} "
          f"--batch {args.batch}")  # fmt: skip


if __name__ == "__main__":
    main()
