"""Input events (SPEC §3, §9): one `data` model per event type, each in its CloudEvents envelope.

Unknown extra fields are ignored (forward compatibility; see `schemas.envelope`).
Cross-field rules are field validators on the later field, so a rejection
names that field's path (`data.lines[0].end_date: must be after start_date
(2025-03-01)`); fields are validated in declaration order, so the earlier one
is in `info.data` when it was valid itself. A rule that needs the envelope (a
void must not name its own id) reads it from the validation context
(`schemas.decode` passes `{"event_id": id}`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from schemas.envelope import Envelope, WireModel
from schemas.types import (
    Currency,
    ExactDecimal,
    Months,
    NonEmptyStr,
    NonNegativeDecimal,
    PositiveDecimal,
    Text,
    UpliftPercent,
    WireBool,
    WireDate,
)

MAX_LINES = 500


def _after_start(end: date | None, info: ValidationInfo) -> date | None:
    start = info.data.get("start_date")
    if end is not None and isinstance(start, date) and end <= start:
        raise ValueError(f"must be after start_date ({start.isoformat()})")
    return end


def _not_the_source(target: str | None, info: ValidationInfo) -> str | None:
    if target is not None and target == info.data.get("asset_id"):
        raise ValueError(f"must differ from asset_id ({target!r})")
    return target


class OrderLine(WireModel):
    """One order line: creates one asset. `end_date` must be after `start_date`."""

    line_id: NonEmptyStr
    asset_id: NonEmptyStr | None = Field(None, description='default "{order_id}/{line_id}"')
    product_code: NonEmptyStr
    product_name: NonEmptyStr | None = None
    quantity: PositiveDecimal
    unit_price: NonNegativeDecimal
    price_term_months: Months = 12
    start_date: WireDate
    end_date: WireDate
    renewal_term_months: Months | None = None
    category: Literal["initial_sale", "cross_sell"] = "initial_sale"
    auto_renew: WireBool = Field(False, description="renews itself at each term's end (§9.4)")
    renewal_uplift_percent: UpliftPercent | None = Field(
        None, description="each automatic renewal's price × (1 + p/100); only with auto_renew"
    )

    _end_after_start = field_validator("end_date")(_after_start)

    @field_validator("renewal_uplift_percent")
    @classmethod
    def _only_when_auto_renewing(
        cls, uplift: Decimal | None, info: ValidationInfo
    ) -> Decimal | None:
        if uplift is not None and info.data.get("auto_renew", True) is not True:
            raise ValueError("only allowed with auto_renew: true")
        return uplift


class OrderFulfilledData(WireModel):
    """`data` of `order.fulfilled`: 1–500 lines with distinct `line_id`s."""

    order_id: NonEmptyStr
    account_id: NonEmptyStr
    currency: Currency
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES)

    @field_validator("lines")
    @classmethod
    def _unique_line_ids(cls, lines: list[OrderLine]) -> list[OrderLine]:
        first: dict[str, int] = {}
        for index, line in enumerate(lines):
            if line.line_id in first:
                raise ValueError(
                    f"lines[{index}].line_id {line.line_id!r} repeats lines[{first[line.line_id]}]"
                    " (line ids must be unique within an order)"
                )
            first[line.line_id] = index
        return lines


class QuantityChangedData(WireModel):
    """`data` of `asset.quantity_changed`: `unit_price` only when `quantity_change` > 0."""

    asset_id: NonEmptyStr
    effective_date: WireDate
    quantity_change: ExactDecimal = Field(description="> 0 upsell, < 0 downsell; never 0")
    unit_price: NonNegativeDecimal | None = Field(None, description="upsell only")
    order_id: NonEmptyStr | None = None

    @field_validator("quantity_change")
    @classmethod
    def _not_zero(cls, change: Decimal) -> Decimal:
        if change == 0:
            raise ValueError("must not be 0 (> 0 upsell, < 0 downsell; cancel to remove all)")
        return change

    @field_validator("unit_price")
    @classmethod
    def _upsell_only(cls, price: Decimal | None, info: ValidationInfo) -> Decimal | None:
        change = info.data.get("quantity_change")
        if price is not None and isinstance(change, Decimal) and change < 0:
            raise ValueError("only allowed on an upsell (quantity_change > 0)")
        return price


class RenewedData(WireModel):
    """`data` of `asset.renewed`: at most one of `unit_price` and `uplift_percent`; `end_date`,
    when given, after `start_date`."""

    asset_id: NonEmptyStr
    start_date: WireDate
    end_date: WireDate | None = None
    unit_price: NonNegativeDecimal | None = None
    uplift_percent: UpliftPercent | None = Field(
        None, description="every tranche's price × (1 + p/100)"
    )
    order_id: NonEmptyStr | None = None

    _end_after_start = field_validator("end_date")(_after_start)

    @field_validator("uplift_percent")
    @classmethod
    def _one_pricing(cls, uplift: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if uplift is not None and info.data.get("unit_price") is not None:
            raise ValueError("give at most one of unit_price and uplift_percent")
        return uplift


class CancelledData(WireModel):
    """`data` of `asset.cancelled`."""

    asset_id: NonEmptyStr
    effective_date: WireDate
    order_id: NonEmptyStr | None = None


class TransferredData(WireModel):
    """`data` of `asset.transferred`: `target_asset_id`, when given, differs from `asset_id`."""

    asset_id: NonEmptyStr
    effective_date: WireDate
    quantity: PositiveDecimal
    target_account_id: NonEmptyStr
    target_asset_id: NonEmptyStr | None = Field(
        None, description='default "{asset_id}/transfer/{event id}"'
    )
    order_id: NonEmptyStr | None = None

    _distinct_target = field_validator("target_asset_id")(_not_the_source)


class RepricedData(WireModel):
    """`data` of `asset.repriced` (SPEC §9.1): exactly one of `unit_price` and `uplift_percent`."""

    asset_id: NonEmptyStr
    effective_date: WireDate
    unit_price: NonNegativeDecimal | None = Field(None, description="every tranche's new price")
    uplift_percent: UpliftPercent | None = Field(
        None, validate_default=True, description="every tranche's price × (1 + p/100)"
    )
    order_id: NonEmptyStr | None = None

    @field_validator("uplift_percent")
    @classmethod
    def _exactly_one_pricing(cls, uplift: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if "unit_price" not in info.data:
            return uplift  # unit_price itself was refused; that error says enough
        price = info.data["unit_price"]
        if (uplift is None) == (price is None):
            given = "both were" if uplift is not None else "neither was"
            raise ValueError(f"give exactly one of unit_price and uplift_percent ({given} given)")
        return uplift


class SwappedData(WireModel):
    """`data` of `asset.swapped` (SPEC §9.2): `target_asset_id`, when given, differs from
    `asset_id`; `unit_price` is per the source's price term."""

    asset_id: NonEmptyStr
    effective_date: WireDate
    quantity: PositiveDecimal
    kind: Literal["swap", "upgrade", "downgrade"]
    product_code: NonEmptyStr
    product_name: NonEmptyStr | None = Field(None, description="default: product_code")
    unit_price: NonNegativeDecimal
    target_asset_id: NonEmptyStr | None = Field(
        None, description='default "{asset_id}/{kind}/{event id}"'
    )
    order_id: NonEmptyStr | None = None

    _distinct_target = field_validator("target_asset_id")(_not_the_source)


class EventVoidedData(WireModel):
    """`data` of `asset.event_voided` (SPEC §9.3): `voided_event_id` is not the void's own id."""

    asset_id: NonEmptyStr
    voided_event_id: NonEmptyStr
    reason: Text | None = Field(None, description="why, for people (at most 500 characters)")
    order_id: NonEmptyStr | None = None

    @field_validator("voided_event_id")
    @classmethod
    def _not_itself(cls, voided: str, info: ValidationInfo) -> str:
        own = (info.context or {}).get("event_id")
        if voided == own:
            raise ValueError(f"must differ from the void's own id ({own!r})")
        return voided


class OrderFulfilled(Envelope):
    """An `order.fulfilled` CloudEvent: topic `orders.fulfilled`, Kafka key `data.order_id`."""

    type: Literal["order.fulfilled"]
    data: OrderFulfilledData


class QuantityChanged(Envelope):
    """An `asset.quantity_changed` CloudEvent: topic `assets.amendments`, key `data.asset_id`."""

    type: Literal["asset.quantity_changed"]
    data: QuantityChangedData


class Renewed(Envelope):
    """An `asset.renewed` CloudEvent: topic `assets.amendments`, Kafka key `data.asset_id`."""

    type: Literal["asset.renewed"]
    data: RenewedData


class Cancelled(Envelope):
    """An `asset.cancelled` CloudEvent: topic `assets.amendments`, Kafka key `data.asset_id`."""

    type: Literal["asset.cancelled"]
    data: CancelledData


class Transferred(Envelope):
    """An `asset.transferred` CloudEvent: topic `assets.amendments`, Kafka key `data.asset_id`."""

    type: Literal["asset.transferred"]
    data: TransferredData


class Repriced(Envelope):
    """An `asset.repriced` CloudEvent: topic `assets.amendments`, Kafka key `data.asset_id`."""

    type: Literal["asset.repriced"]
    data: RepricedData


class Swapped(Envelope):
    """An `asset.swapped` CloudEvent: topic `assets.amendments`, Kafka key `data.asset_id`."""

    type: Literal["asset.swapped"]
    data: SwappedData


class EventVoided(Envelope):
    """An `asset.event_voided` CloudEvent: topic `assets.amendments`, key `data.asset_id`."""

    type: Literal["asset.event_voided"]
    data: EventVoidedData


InputEvent = (
    OrderFulfilled
    | QuantityChanged
    | Renewed
    | Cancelled
    | Transferred
    | Repriced
    | Swapped
    | EventVoided
)

EVENT_MODELS: dict[str, type[Envelope]] = {
    "order.fulfilled": OrderFulfilled,
    "asset.quantity_changed": QuantityChanged,
    "asset.renewed": Renewed,
    "asset.cancelled": Cancelled,
    "asset.transferred": Transferred,
    "asset.repriced": Repriced,
    "asset.swapped": Swapped,
    "asset.event_voided": EventVoided,
}

# SPEC §3: the topic each type is produced to (without the prefix).
EVENT_TOPICS: dict[str, str] = {
    event_type: "orders.fulfilled" if event_type == "order.fulfilled" else "assets.amendments"
    for event_type in EVENT_MODELS
}
