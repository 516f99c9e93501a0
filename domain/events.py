"""Domain events: what an asset's fold consumes (SPEC §3, §9; already validated).

Money and quantities are `Fraction`s (exact; built from the wire's decimals),
dates are calendar dates, `time` is an aware UTC datetime. Each event that the
fold sorts (`FoldEvent`) knows its sort key (SPEC §4.1) and the `action_id` it
becomes when applied. Two kinds of event an asset holds are not sorted: a void
(`EventVoided`, SPEC §9.3) takes another event out of the set, and a
`TargetRefusal` is a transfer target's report that it could not be created
(SPEC §9.5).
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
    PRICE_CHANGE = "price_change"
    SWAP = "swap"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"


class Subtype(StrEnum):
    TRANSFER_FROM = "transfer_from"
    TRANSFER_TO = "transfer_to"
    AUTO_RENEWAL = "auto_renewal"
    SWAP_OUT = "swap_out"
    SWAP_IN = "swap_in"
    UPGRADE_FROM = "upgrade_from"
    UPGRADE_TO = "upgrade_to"
    DOWNGRADE_FROM = "downgrade_from"
    DOWNGRADE_TO = "downgrade_to"


class Movement(StrEnum):
    """How units leave an asset for another one: a transfer (§4.2) or a kind of swap (§9.2)."""

    TRANSFER = "transfer"
    SWAP = "swap"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"

    @property
    def category(self) -> Category:
        return Category(self.value)

    @property
    def source_subtype(self) -> Subtype:
        return _SUBTYPES[self][0]

    @property
    def target_subtype(self) -> Subtype:
        return _SUBTYPES[self][1]


_SUBTYPES: dict[Movement, tuple[Subtype, Subtype]] = {
    Movement.TRANSFER: (Subtype.TRANSFER_FROM, Subtype.TRANSFER_TO),
    Movement.SWAP: (Subtype.SWAP_OUT, Subtype.SWAP_IN),
    Movement.UPGRADE: (Subtype.UPGRADE_FROM, Subtype.UPGRADE_TO),
    Movement.DOWNGRADE: (Subtype.DOWNGRADE_FROM, Subtype.DOWNGRADE_TO),
}

# SPEC §4.1 ranks: creations first, then renewals, changes, cancellations. An automatic
# renewal at E sorts between the renewals and the changes of date E (§9.4).
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
class AssetTerms:
    """What a creation fixes for the asset's whole life (a transfer or swap target's come from
    its source's, SPEC §4.2, §9.2, §9.5)."""

    account_id: str
    currency: str
    product_code: str
    product_name: str | None
    price_term_months: int
    renewal_term_months: int | None
    billing_anchor: date
    lifecycle_start: date
    auto_renew: bool = False
    renewal_uplift_percent: Fraction = Fraction(0)


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
    auto_renew: bool = False
    renewal_uplift_percent: Fraction = Fraction(0)

    @property
    def action_id(self) -> str:
        return f"{self.event_id}/{self.line_id}"

    @property
    def effective_date(self) -> date:
        return self.start_date

    @property
    def rank(self) -> int:
        return RANK_CREATION

    @property
    def terms(self) -> AssetTerms:
        """The asset's terms; months count from the start date (the billing anchor)."""
        return AssetTerms(
            account_id=self.account_id, currency=self.currency, product_code=self.product_code,
            product_name=self.product_name, price_term_months=self.price_term_months,
            renewal_term_months=self.renewal_term_months, billing_anchor=self.start_date,
            lifecycle_start=self.start_date, auto_renew=self.auto_renew,
            renewal_uplift_percent=self.renewal_uplift_percent,
        )  # fmt: skip


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

    @property
    def movement(self) -> Movement:
        return Movement.TRANSFER


@dataclass(frozen=True, slots=True)
class AssetRepriced:
    """A price change (SPEC §9.1): from `effective_date` on, every tranche gets `unit_price`,
    or is multiplied by (1 + `uplift_percent`/100); exactly one of the two is set."""

    event_id: str
    asset_id: str
    time: datetime
    effective_date: date
    unit_price: Fraction | None
    uplift_percent: Fraction | None
    order_id: str | None

    @property
    def action_id(self) -> str:
        return self.event_id

    @property
    def rank(self) -> int:
        return RANK_CHANGE


@dataclass(frozen=True, slots=True)
class AssetSwapped:
    """Source side of a swap, upgrade or downgrade (SPEC §9.2): `quantity` units leave at
    `effective_date` for a new asset of another product on the same account."""

    event_id: str
    asset_id: str
    time: datetime
    effective_date: date
    quantity: Fraction
    kind: Movement  # SWAP, UPGRADE or DOWNGRADE
    product_code: str
    product_name: str | None
    unit_price: Fraction
    target_asset_id: str
    order_id: str | None

    @property
    def action_id(self) -> str:
        return self.event_id

    @property
    def rank(self) -> int:
        return RANK_CHANGE

    @property
    def movement(self) -> Movement:
        return self.kind


@dataclass(frozen=True, slots=True)
class TransferReceived:
    """Target side of a transfer or swap, derived from the source's fold (never from the wire).

    `terms` are the target's (the source's, with the target's account, product and start).
    `periods` are what the target holds, in the source's period boundaries from
    `effective_date` on. Empty `periods` means the transfer no longer applies on the
    source: the target withdraws it. `source_revision` orders updates from one source:
    the highest wins.
    """

    event_id: str
    asset_id: str
    source_asset_id: str
    time: datetime
    effective_date: date
    terms: AssetTerms
    periods: tuple[Period, ...]
    source_revision: int
    order_id: str | None
    kind: Movement = Movement.TRANSFER

    @property
    def action_id(self) -> str:
        return f"{self.event_id}/to"

    @property
    def rank(self) -> int:
        return RANK_CREATION

    @property
    def withdrawn(self) -> bool:
        return not self.periods


@dataclass(frozen=True, slots=True)
class EventVoided:
    """A correction (SPEC §9.3): takes the event `voided_event_id` out of the asset's set."""

    event_id: str
    asset_id: str
    time: datetime
    voided_event_id: str
    reason: str | None
    order_id: str | None

    @property
    def action_id(self) -> str:
        return self.event_id


@dataclass(frozen=True, slots=True)
class TargetRefusal:
    """A target's report on a transfer or swap of this asset (SPEC §9.5), kept by the source.

    `refused`: the target could not be created (`target_asset_id` belongs to another
    asset), so the source keeps its units and the transfer is pending
    `asset_already_exists`; False when a later revision of the target accepted it.
    `revision` (the target's version) orders reports: the highest wins.
    """

    event_id: str  # the transfer's or swap's
    asset_id: str  # the source
    target_asset_id: str
    refused: bool
    revision: int
    reason: str

    @property
    def action_id(self) -> str:
        return f"{self.event_id}/refusal"


# What the fold sorts and applies.
FoldEvent = (
    AssetCreated
    | QuantityChanged
    | AssetRenewed
    | AssetCancelled
    | AssetTransferred
    | AssetRepriced
    | AssetSwapped
    | TransferReceived
)
# Everything an asset's ledger holds: the sorted events plus voids and targets' reports.
AssetEvent = FoldEvent | EventVoided | TargetRefusal
# The source side of a movement of units to another asset.
Outgoing = AssetTransferred | AssetSwapped


def sort_key(event: FoldEvent) -> tuple[date, int, datetime, str, str]:
    """SPEC §4.1: (effective date, rank, time, id); the line id breaks ties inside one order."""
    line = event.line_id if isinstance(event, AssetCreated) else ""
    return (event.effective_date, event.rank, event.time, event.event_id, line)
