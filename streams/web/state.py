"""An asset's state on any date, computed from a published snapshot (SPEC §4.5).

Pure functions over the snapshot's JSON dict: no I/O, no floats. Money and
quantities stay the strings the stream processor published; a zero is written
with the currency's digits, taken from the snapshot's own money strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# Statuses after the lifecycle end that say *why* it ended.
_ENDING_STATUSES = frozenset({"cancelled", "transferred"})


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


def money_digits(money: str) -> int:
    """Digits after the decimal point of a published money string ("20.83" -> 2)."""
    _, dot, fraction = money.partition(".")
    return len(fraction) if dot else 0


def format_money(amount: Decimal, digits: int) -> str:
    """Write an exact decimal with `digits` fraction digits (half-up, as SPEC §4.3)."""
    exponent = Decimal(1).scaleb(-digits)
    text = f"{amount.quantize(exponent, rounding=ROUND_HALF_UP):f}"
    # Decimal keeps the sign of a negative zero ("-0.00"); money never shows it.
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


def zero_money(snapshot: Mapping[str, Any]) -> str:
    """Zero in the snapshot's currency digits ("0.00" for USD, "0" for JPY)."""
    return format_money(Decimal(0), money_digits(str(snapshot["total_lifecycle_amount"])))


def ended_by(snapshot: Mapping[str, Any]) -> str | None:
    """ "cancelled"/"transferred" when a cancellation or full transfer ended the lifecycle.

    The snapshot's status says so once its `as_of` is past the end; before
    that (a future-dated cancellation) the action that cut the lifecycle at
    its end date says so.
    """
    status = snapshot.get("status")
    if status in _ENDING_STATUSES:
        return str(status)
    end = snapshot["lifecycle_end_date"]
    actions: Sequence[Mapping[str, Any]] = snapshot.get("actions") or ()
    for action in reversed(actions):
        if action.get("effective_date") != end:
            continue
        if action.get("category") == "cancellation":
            return "cancelled"
        if action.get("category") == "transfer" and action.get("subtype") == "transfer_from":
            return "transferred"
    return None


def period_at(periods: Sequence[Mapping[str, Any]], on: date) -> Mapping[str, Any] | None:
    """The half-open period `[start_date, end_date)` that contains `on`, if any."""
    day = on.isoformat()
    for period in periods:
        if period["start_date"] <= day < period["end_date"]:
            return period
    return None


def state_at(snapshot: Mapping[str, Any], on: date) -> StateAt:
    """Quantity, MRR, status and period in effect on `on`, from a snapshot dict.

    1. Before the lifecycle start: scheduled, zero quantity and MRR.
    2. Inside `[start, end)`: active, with the containing period's values.
    3. From the end on: cancelled/transferred if that ended it, else expired.
    """
    start = date.fromisoformat(snapshot["lifecycle_start_date"])
    end = date.fromisoformat(snapshot["lifecycle_end_date"])
    zero = zero_money(snapshot)
    period: Mapping[str, Any] | None = None
    quantity, mrr = "0", zero
    # Step 1
    if on < start:
        status = "scheduled"
    # Step 2
    elif on < end:
        status = "active"
        period = period_at(snapshot.get("state_periods") or (), on)
        if period is not None:
            quantity, mrr = str(period["quantity"]), str(period["mrr"])
    # Step 3
    else:
        status = ended_by(snapshot) or "expired"
    return StateAt(
        asset_id=snapshot["asset_id"],
        as_of=on,
        status=status,
        quantity=quantity,
        mrr=mrr,
        currency=snapshot["currency"],
        period=period,
        version=snapshot["version"],
    )


def total_mrr_by_currency(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Σ MRR per currency from (currency, mrr) pairs, exact, with the inputs' digits."""
    totals: dict[str, Decimal] = {}
    digits: dict[str, int] = {}
    for currency, mrr in rows:
        totals[currency] = totals.get(currency, Decimal(0)) + Decimal(mrr)
        digits[currency] = max(digits.get(currency, 0), money_digits(mrr))
    return {c: format_money(totals[c], digits[c]) for c in sorted(totals)}
