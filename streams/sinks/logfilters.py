"""Logging filters for outages: a repeated message is logged once per interval, with a count.

During a Redis or Kafka outage every retry reports the same failure; a
`RateLimitFilter` keeps the first report, drops the repeats for `interval_s`,
and appends how many it dropped to the next report it lets through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Final

_MAX_KEYS: Final = 1024


def message_template(record: logging.LogRecord) -> Hashable:
    """Repeats are records of one logger, level and unformatted message.

    The template, not the formatted text: "redis unavailable (%s)" is one
    message whatever error text fills it in.
    """
    return (record.name, record.levelno, str(record.msg))


class RateLimitFilter(logging.Filter):
    """Let a repeated log record through at most once every `interval_s` seconds.

    The first record of a kind passes; repeats within the interval are dropped
    and counted; the first repeat after it passes with
    " [N similar messages suppressed in the last Ts]" appended (and the count
    in `record.suppressed`). Kinds are told apart by `key` (default: logger,
    level and message template).

    A logger's filters see only the records logged on that very logger, not
    those its children propagate, so attach it to the emitting logger
    (`logging.getLogger("aiokafka.conn").addFilter(RateLimitFilter(5))`) or
    to a handler, which sees everything it handles. Thread-safe.
    """

    def __init__(
        self,
        interval_s: float = 5.0,
        *,
        key: Callable[[logging.LogRecord], Hashable] = message_template,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.interval_s = interval_s
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (time the last record passed, repeats dropped since). Bounded:
        # the oldest kinds are forgotten first.
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        key = self._key(record)
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.interval_s:
                self._seen[key] = (seen[0], seen[1] + 1)
                return False
            self._seen[key] = (now, 0)
            self._seen.move_to_end(key)
            while len(self._seen) > _MAX_KEYS:
                self._seen.popitem(last=False)
        suppressed = seen[1] if seen is not None else 0
        record.suppressed = suppressed
        if suppressed:
            elapsed = now - seen[0] if seen is not None else 0.0
            # Format once here, so the count survives whatever args the message had.
            record.msg = (
                f"{record.getMessage()} "
                f"[{suppressed} similar messages suppressed in the last {elapsed:.0f}s]"
            )
            record.args = None
        return True
