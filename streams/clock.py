"""The worker's clock: today's UTC date unless a setting fixes or moves it (tests, demos).

Three sources for `Clock.today()`, first that applies wins:

1. ``ASSETSTREAM_AS_OF_FILE`` (test-only): a file holding one date (``YYYY-MM-DD``), read
   on **every** call, so a test moves the worker's clock by rewriting the file (write a
   temporary file and rename it over, so a half-written file is never read). While the
   file is absent the other sources apply; a file whose text is not a date is ignored
   with a warning (the last date read from it stays in force), so a typo cannot stop or
   crash the worker.
2. ``ASSETSTREAM_AS_OF``: a fixed date, read once at start-up.
3. Today's date in UTC.

`now()` is always the wall clock: grace periods are real time, whatever the date says.
The file is named by a setting of its own, which an operator sets only on purpose, and
the worker logs once that its date comes from a file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

log = logging.getLogger(__name__)

# A date file larger than this is not a date: read no more of it.
MAX_FILE_BYTES = 64
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(slots=True)
class Clock:
    fixed_as_of: date | None = None
    as_of_file: Path | None = None
    # The last date the file gave, and the last bad text warned about (warn once per text).
    _last_read: date | None = field(default=None, init=False, repr=False, compare=False)
    _warned: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.as_of_file is not None:
            log.warning(
                "the worker's date is read from %s (ASSETSTREAM_AS_OF_FILE, for tests)",
                self.as_of_file,
            )

    def today(self) -> date:
        if self.as_of_file is not None:
            from_file = self._read_file(self.as_of_file)
            if from_file is not None:
                return from_file
        return self.fixed_as_of or datetime.now(UTC).date()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def _read_file(self, path: Path) -> date | None:
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._bad(path, f"unreadable ({type(exc).__name__}: {exc})")
        text = raw.decode("utf-8", "replace").strip()
        if len(raw) > MAX_FILE_BYTES:
            return self._bad(path, f"more than {MAX_FILE_BYTES} bytes")
        if not text:
            return self._bad(path, "empty")
        try:
            # fromisoformat alone would also take 20260301 and 2026-W09-7.
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            parsed = date.fromisoformat(text)
        except ValueError:
            return self._bad(path, f"not a date YYYY-MM-DD: {text!r}")
        self._last_read, self._warned = parsed, None
        return parsed

    def _bad(self, path: Path, problem: str) -> date | None:
        """A file that does not hold a date: warn once per problem, keep the last good date."""
        if problem != self._warned:
            self._warned = problem
            kept = self._last_read.isoformat() if self._last_read else "the fallback date"
            log.warning("ASSETSTREAM_AS_OF_FILE %s is %s; keeping %s", path, problem, kept)
        return self._last_read
