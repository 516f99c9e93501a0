"""The worker's garbage-collection schedule: collect the young heap on a timer, freeze the rest.

CPython's automatic collector runs every few hundred allocations and each run
of the older generations walks every tracked object. The worker allocates
constantly (Fractions, events, futures) and keeps a large, long-lived heap (the
asset records it caches), so automatic collection cost a quarter of its time:
`benchmarks/worker_throughput.py` measured 0.35× the faust relay with it and
0.50× without. Most of what the worker frees has no cycles and goes by
reference counting anyway; the collector is only needed for cycles.

So the worker disables automatic collection and instead:

1. every `YOUNG_SECONDS`, collects, then freezes what survived (`gc.freeze`):
   the next collection walks only what was allocated since;
2. every `FULL_SECONDS`, unfreezes and collects everything, reclaiming cycles
   that became garbage after they were frozen (a pause of a fraction of a
   second on a large heap, once every few minutes).
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

YOUNG_SECONDS = 5.0
FULL_SECONDS = 600.0


def install(app: Any) -> None:
    """Take collection over from CPython for this worker process (see the module docstring)."""
    gc.disable()
    gc.freeze()  # start-up objects (modules, classes, the app) are never garbage
    last_full = {"at": time.monotonic()}

    @app.timer(interval=YOUNG_SECONDS)  # type: ignore[untyped-decorator]  # faust untyped
    async def collect_young() -> None:
        if time.monotonic() - last_full["at"] >= FULL_SECONDS:
            gc.unfreeze()
            started = time.perf_counter()
            freed = gc.collect()
            last_full["at"] = time.monotonic()
            log.info("full garbage collection: %d objects freed in %.0f ms", freed,
                     (time.perf_counter() - started) * 1000)  # fmt: skip
        else:
            gc.collect()
        gc.freeze()
