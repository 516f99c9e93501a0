"""An asset's state on any date, read off a published snapshot (SPEC §4.5, §9).

Pure functions over the snapshot's JSON dict (or its summary in the read
model, which keeps the same fields): no I/O, no floats, no rule of the fold.
Everything here is looked up in what the stream processor published — the
period containing the date, the lifecycle's dates, and `ended_by` (what ended
the lifecycle, if anything did). Money and quantities stay the published
strings; a zero is written by `domain.money` in the currency's digits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from domain.errors import DomainError
from domain.money import ZERO, format_rounded
from domain.snapshot import STATUS_AFTER_END as DOMAIN_STATUS_AFTER_END

# SPEC §4.5/§9.2: the status after the lifecycle end names what ended it (the domain's
# table, as the published strings).
STATUS_AFTER_END: Final[Mapping[str | None, str]] = {
    (None if ended is None else ended.value): status.value
    for ended, status in DOMAIN_STATUS_AFTER_END.items()
}
# Snapshots published before `ended_by` existed: their status says it once past the end.
_ENDED_BY_OF_STATUS: Final[Mapping[str, str]] = {
    status: ended for ended, status in STATUS_AFTER_END.items() if ended is not None
}


@dataclass(frozen=True, slots=True)
class StateAt:
    """Quantity, MRR, status and the period in effect on one date."""

    asset_id: str
    as_of: date
    status: str
    quantity: str
    mrr: str
    currency: str
    period: Mapping[str, Any] | None
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id,
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "quantity": self.quantity,
            "mrr": self.mrr,
            "currency": self.currency,
            "period": None if self.period is None else dict(self.period),
            "version": self.version,
        }


def zero_money(currency: str) -> str:
    """Zero in the currency's minor-unit digits ("0.00", JPY "0"); "0" for an unknown code."""
    try:
        return format_rounded(ZERO, currency)
    except DomainError:
        return "0"


def ended_by(snapshot: Mapping[str, Any]) -> str | None:
    """What ended the lifecycle, as published: null, cancellation, transfer or swap.

    A snapshot from before the field existed has only its status to tell, and
    that only once its `as_of` is past the end.
    """
    if "ended_by" in snapshot:
        value = snapshot["ended_by"]
        return value if isinstance(value, str) else None
    return _ENDED_BY_OF_STATUS.get(str(snapshot.get("status")))


def period_at(periods: Sequence[Mapping[str, Any]], on: date) -> Mapping[str, Any] | None:
    """The half-open period `[start_date, end_date)` that contains `on`, if any."""
    day = on.isoformat()
    for period in periods:
        if period["start_date"] <= day < period["end_date"]:
            return period
    return None


def state_at(snapshot: Mapping[str, Any], on: date) -> StateAt:
    """Quantity, MRR, status and period in effect on `on`, from a snapshot (or summary).

    1. Before the lifecycle start: scheduled, zero quantity and MRR.
    2. Inside `[start, end)`: active, with the containing period's values.
    3. From the end on: the status `ended_by` names (expired when nothing ended it).
    """
    day = on.isoformat()
    currency = str(snapshot["currency"])
    period: Mapping[str, Any] | None = None
    quantity, mrr = "0", zero_money(currency)
    # Step 1
    if day < snapshot["lifecycle_start_date"]:
        status = "scheduled"
    # Step 2
    elif day < snapshot["lifecycle_end_date"]:
        status = "active"
        period = period_at(snapshot.get("state_periods") or (), on)
        if period is not None:
            quantity, mrr = str(period["quantity"]), str(period["mrr"])
    # Step 3
    else:
        status = STATUS_AFTER_END.get(ended_by(snapshot), "expired")
    return StateAt(
        asset_id=snapshot["asset_id"],
        as_of=on,
        status=status,
        quantity=quantity,
        mrr=mrr,
        currency=currency,
        period=period,
        version=snapshot["version"],
    )
