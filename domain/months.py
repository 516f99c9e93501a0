"""Anchored month counting (SPEC §4.3).

`A+k` is the anchor plus k calendar months with the day clamped to the month's
end, always computed from the anchor itself (Jan 31 → Feb 29 → Mar 31), so
whole anchored months are exact and splitting a period never changes a total.
"""

from __future__ import annotations

import calendar
from datetime import date
from fractions import Fraction

# m(d) per (anchor, day): a fold over a long history asks for the same positions again and
# again (every split and every re-fold), and computing one walks calendar months. A pure
# memo, cleared when full so it stays bounded.
_POSITIONS: dict[tuple[date, date], Fraction] = {}
_POSITIONS_LIMIT = 200_000


def add_months(start: date, months: int) -> date:
    """`start` plus `months` calendar months, the day clamped to the target month's end."""
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last_day))


def month_position(anchor: date, day: date) -> Fraction:
    """m(d): whole anchored months from `anchor` to `day`, plus the elapsed fraction of the next."""
    cached = _POSITIONS.get((anchor, day))
    if cached is not None:
        return cached
    position = _month_position(anchor, day)
    if len(_POSITIONS) >= _POSITIONS_LIMIT:
        _POSITIONS.clear()
    _POSITIONS[(anchor, day)] = position
    return position


def _month_position(anchor: date, day: date) -> Fraction:
    k = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    # The estimate is off by at most one in either direction because of day clamping.
    while add_months(anchor, k) > day:
        k -= 1
    while add_months(anchor, k + 1) <= day:
        k += 1
    month_start = add_months(anchor, k)
    month_end = add_months(anchor, k + 1)
    return k + Fraction((day - month_start).days, (month_end - month_start).days)


_SPANS: dict[tuple[date, date, date], Fraction] = {}


def months_between(anchor: date, start: date, end: date) -> Fraction:
    """Months in [start, end) counted from `anchor`: m(end) − m(start)."""
    key = (anchor, start, end)
    months = _SPANS.get(key)
    if months is None:
        if len(_SPANS) >= _POSITIONS_LIMIT:
            _SPANS.clear()
        months = _SPANS[key] = month_position(anchor, end) - month_position(anchor, start)
    return months
