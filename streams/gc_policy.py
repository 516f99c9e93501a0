"""The worker's garbage collection: CPython's collector, but never over the long-lived heap.

CPython's collector runs every few hundred allocations and each run of its oldest
generation walks every tracked object. The worker allocates constantly
(Fractions, events, futures) and keeps a large, long-lived heap (the asset
records it caches), so those full runs cost it a quarter of its time:
`benchmarks/worker_throughput.py` measured 0.35x the faust relay with the default
collector and 0.50x with none. Most of what the worker frees has no cycles and
goes by reference counting anyway.

So the worker leaves the young generations to CPython (short, frequent runs) and:

1. every `FREEZE_SECONDS`, freezes what survived (`gc.freeze`), so later runs walk
   only what was allocated since — no run ever walks the whole cached heap;
2. every `FULL_SECONDS`, unfreezes and collects everything, reclaiming cycles that
   became garbage after they were frozen (one pause of a fraction of a second on a
   large heap, every few minutes).

(Disabling the collector and collecting on a timer instead was measured too: each
timed collection walks seconds' worth of allocations at once, a visible stall.)
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

FREEZE_SECONDS = 2.0
FULL_SECONDS = 600.0


def install(app: Any) -> None:
    """Schedule freezing and full collections in this worker (see the module docstring)."""
    gc.freeze()  # start-up objects (modules, classes, the app) are never garbage
    last_full = {"at": time.monotonic()}

    @app.timer(interval=FREEZE_SECONDS)  # type: ignore[untyped-decorator]  # faust untyped
    async def freeze_survivors() -> None:
        if time.monotonic() - last_full["at"] >= FULL_SECONDS:
            gc.unfreeze()
            started = time.perf_counter()
            freed = gc.collect()
            last_full["at"] = time.monotonic()
            log.info("full garbage collection: %d objects freed in %.0f ms", freed,
                     (time.perf_counter() - started) * 1000)  # fmt: skip
        gc.freeze()
