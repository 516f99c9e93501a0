"""The worker's clock: today's UTC date unless ASSETSTREAM_AS_OF fixes it (tests, demos)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True, slots=True)
class Clock:
    fixed_as_of: date | None = None

    def today(self) -> date:
        return self.fixed_as_of or datetime.now(UTC).date()

    def now(self) -> datetime:
        return datetime.now(UTC)
