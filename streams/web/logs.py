"""The web layer's loggers, and `printable()` for anything a client sent that goes into a log.

Ids and paths come from clients: a newline or an ANSI escape inside one must
not forge a log line or recolour a terminal, so they are escaped, and a
backslash too, so an escaped text cannot be mistaken for a raw one.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from streams.sinks.logfilters import RateLimitFilter

log = logging.getLogger("streams.web")
# Redis outages answer every request with a 503: one line every few seconds.
outage_log = logging.getLogger("streams.web.outage")
outage_log.addFilter(RateLimitFilter(5.0))

# C0 and C1 controls, DEL, line/paragraph separators and bidirectional
# overrides (which can visually reorder a log line), and the backslash.
_UNPRINTABLE: Final = re.compile(
    "[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_MAX_CHARS: Final = 300


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, limit: int = _MAX_CHARS) -> str:
    """`text` with control characters escaped, cut to `limit` characters (marked with …)."""
    cut = text if len(text) <= limit else text[:limit]
    escaped = _UNPRINTABLE.sub(_escape, cut)
    return escaped if cut is text else f"{escaped}…"
