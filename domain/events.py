"""Domain events: what an asset's fold consumes (SPEC §3, already validated).

Money and quantities are `Fraction`s (exact; built from the wire's decimals),
dates are calendar dates, `time` is an aware UTC datetime. Each event knows
its sort key (SPEC §4.1) and the `action_id` it becomes when applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from fractions import Fraction


class Category(StrEnum):
    INITIAL_SALE = "initial_sale"
    CROSS_SELL = "cross_sell"
    UPSELL = "upsell"
    DOWNSELL = "downsell"
    RENEWAL = "renewal"
    CANCELLATION = "cancellation"
    TRANSFER = "transfer"


class Subtype(StrEnum):
    TRANSFER_FROM = "transfer_from"
    TRANSFER_TO = "transfer_to"


# SPEC §4.1 ranks: creations first, then renewals, changes, cancellations.
RANK_CREATION = 0
RANK_RENEWAL = 1
RANK_CHANGE = 2
RANK_CANCELLATION = 3


@dataclass(frozen=True, slots=True)
class Tranche:
    """Units bought at one unit price (per `price_term_months`)."""

    quantity: Fraction
    unit_price: Fraction


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open span [start, end) with constant tranches (oldest first).

    `quantity` and `value` (Σ quantity × unit price) travel with the tranches so
    that a change on a long history costs O(1) instead of re-summing every tranche.
    Adjacent tranches at one unit price are kept merged: no rule can tell them apart
    (LIFO removal takes the same units at the same price either way), and merging keeps
    a period's tranche list as short as its distinct prices, not its number of upsells.
    Build with `Period.of`; derive with `spanning`, `appended`.
    """

    start: date
    end: date
    tranches: tuple[Tranche, ...]
    quantity: Fraction
    value: Fraction

    @classmethod
    def of(cls, start: date, end: date, tranches: tuple[Tranche, ...]) -> Period:
        merged: list[Tranche] = []
        for tranche in tranches:
            if merged and merged[-1].unit_price == tranche.unit_price:
                merged[-1] = Tranche(merged[-1].quantity + tranche.quantity, tranche.unit_price)
            else:
                merged.append(tranche)
        quantity = sum((t.quantity for t in merged), Fraction(0))
        value = sum((t.quantity * t.unit_price for t in merged), Fraction(0))
        return cls(start, end, tuple(merged), quantity, value)

    def spanning(self, start: date, end: date) -> Period:
        return Period(start, end, self.tranches, self.quantity, self.value)

    def appended(self, tranche: Tranche, value: Fraction | None = None) -> Period:
        """This period with `tranche` added on top (`value`: its quantity × price, if known)."""
        added = tranche.quantity * tranche.unit_price if value is None else value
        tranches = self.tranches
        if tranches and tranches[-1].unit_price == tranche.unit_price:
            top = tranches[-1]
            tranches = (*tranches[:-1], Tranche(top.quantity + tranche.quantity, top.unit_price))
        else:
            tranches = (*tranches, tranche)
        return Period(
            self.start, self.end, tranches, self.quantity + tranche.quantity, self.value + added
        )


@dataclass(frozen=True, slots=True)
class AssetCreated:
    """One order line (`order.fulfilled`) creating one asset."""

    event_id: str
    line_id: str
    asset_id: str
    time: datetime
    order_id: str
    account_id: str
    currency: str
    product_code: str
    product_name: str | None
    quantity: Fraction
    unit_price: Fraction
    price_term_months: int
    start_date: date
    end_date: date
    renewal_term_months: int | None
    category: Category

    @property
    def action_id(self) -> str:
        return f"{self.event_id}/{self.line_id}"

    @property
    def effective_date(self) -> date:
        return self.start_date

    @property
    def rank(self) -> int:
        return RANK_CREATION


@dataclass(frozen=True, slots=True)
class QuantityChanged:
    """Upsell (> 0) or downsell (< 0) from `effective_date` on."""

    event_id: str
    asset_id: str
    time: datetime
    effective_date: date
    quantity_change: Fraction
    unit_price: Fraction | None
    order_id: str | None

    @property
    def action_id(self) -> str:
        return self.event_id

    @property
    def rank(self) -> int:
        return RANK_CHANGE


@dataclass(frozen=True, slots=True)
class AssetRenewed:
    """A new term appended at the lifecycle end."""

    event_id: str
    asset_id: str
    time: datetime
    start_date: date
    end_date: date | None
    unit_price: Fraction | None
    uplift_percent: Fraction | None
    order_id: str | None

    @property
    def action_id(self) -> str:
        return self.event_id

    @property
    def effective_date(self) -> date:
        return self.start_date

    @property
    def rank(self) -> int:
        return RANK_RENEWAL


@dataclass(frozen=True, slots=True)
class AssetCancelled:
    event_id: str
    asset_id: str
    time: datetime
    effective_date: date
    order_id: str | None

    @property
    def action_id(self) -> str:
        return self.event_id

    @property
    def rank(self) -> int:
        return RANK_CANCELLATION


@dataclass(frozen=True, slots=True)
class AssetTransferred:
    """Source side of a transfer: `quantity` units leave at `effective_date`."""

    event_id: str
    asset_id: str
    time: datetime
    effective_date: date
    quantity: Fraction
    target_account_id: str
    target_asset_id: str
    order_id: str | None

    @property
    def action_id(self) -> str:
        return self.event_id

    @property
    def rank(self) -> int:
        return RANK_CHANGE


@dataclass(frozen=True, slots=True)
class TransferReceived:
    """Target side of a transfer, derived from the source's fold (never from the wire).

    `periods` are exactly the tranches the source removed, in the source's
    period boundaries from `effective_date` on. Empty `periods` means the
    transfer no longer applies on the source: the target withdraws it.
    `source_revision` orders updates from one source: the highest wins.
    """

    event_id: str
    asset_id: str
    source_asset_id: str
    time: datetime
    effective_date: date
    account_id: str
    currency: str
    product_code: str
    product_name: str | None
    price_term_months: int
    renewal_term_months: int | None
    billing_anchor: date
    periods: tuple[Period, ...]
    source_revision: int
    order_id: str | None

    @property
    def action_id(self) -> str:
        return f"{self.event_id}/to"

    @property
    def rank(self) -> int:
        return RANK_CREATION

    @property
    def withdrawn(self) -> bool:
        return not self.periods


AssetEvent = (
    AssetCreated
    | QuantityChanged
    | AssetRenewed
    | AssetCancelled
    | AssetTransferred
    | TransferReceived
)


def sort_key(event: AssetEvent) -> tuple[date, int, datetime, str, str]:
    """SPEC §4.1: (effective date, rank, time, id); the line id breaks ties inside one order."""
    line = event.line_id if isinstance(event, AssetCreated) else ""
    return (event.effective_date, event.rank, event.time, event.event_id, line)
