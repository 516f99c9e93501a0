"""Input events (SPEC §3): the CloudEvents 1.0 envelope and one `data` model per type."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.types import (
    Currency,
    ExactDecimal,
    Months,
    NonEmptyStr,
    NonNegativeDecimal,
    PositiveDecimal,
    WireDate,
    WireTime,
)

MAX_LINES = 500


class WireModel(BaseModel):
    # Extra fields are ignored so producers can add fields before consumers read them.
    model_config = ConfigDict(extra="ignore", frozen=True)


class OrderLine(WireModel):
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

    @model_validator(mode="after")
    def _end_after_start(self) -> OrderLine:
        if self.end_date <= self.start_date:
            raise ValueError(f"end_date {self.end_date} must be after start_date {self.start_date}")
        return self


class OrderFulfilledData(WireModel):
    order_id: NonEmptyStr
    account_id: NonEmptyStr
    currency: Currency
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_LINES)

    @model_validator(mode="after")
    def _unique_line_ids(self) -> OrderFulfilledData:
        seen: set[str] = set()
        for line in self.lines:
            if line.line_id in seen:
                raise ValueError(f"line_id {line.line_id!r} appears twice in the order")
            seen.add(line.line_id)
        return self


class QuantityChangedData(WireModel):
    asset_id: NonEmptyStr
    effective_date: WireDate
    quantity_change: ExactDecimal = Field(description="> 0 upsell, < 0 downsell; never 0")
    unit_price: NonNegativeDecimal | None = Field(None, description="upsell only")
    order_id: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _sign_rules(self) -> QuantityChangedData:
        if self.quantity_change == 0:
            raise ValueError("quantity_change must not be 0 (> 0 upsell, < 0 downsell)")
        if self.unit_price is not None and self.quantity_change < 0:
            raise ValueError("unit_price is only allowed on an upsell (quantity_change > 0)")
        return self


class RenewedData(WireModel):
    asset_id: NonEmptyStr
    start_date: WireDate
    end_date: WireDate | None = None
    unit_price: NonNegativeDecimal | None = None
    uplift_percent: ExactDecimal | None = Field(None, ge=-100)
    order_id: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _pricing_and_dates(self) -> RenewedData:
        if self.unit_price is not None and self.uplift_percent is not None:
            raise ValueError("give at most one of unit_price and uplift_percent")
        if self.end_date is not None and self.end_date <= self.start_date:
            raise ValueError(f"end_date {self.end_date} must be after start_date {self.start_date}")
        return self


class CancelledData(WireModel):
    asset_id: NonEmptyStr
    effective_date: WireDate
    order_id: NonEmptyStr | None = None


class TransferredData(WireModel):
    asset_id: NonEmptyStr
    effective_date: WireDate
    quantity: PositiveDecimal
    target_account_id: NonEmptyStr
    target_asset_id: NonEmptyStr | None = Field(
        None, description='default "{asset_id}/transfer/{event id}"'
    )
    order_id: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _distinct_target(self) -> TransferredData:
        if self.target_asset_id == self.asset_id:
            raise ValueError("target_asset_id must differ from asset_id")
        return self


class Envelope(WireModel):
    """The CloudEvents 1.0 attributes every event carries."""

    specversion: Literal["1.0"]
    id: NonEmptyStr
    source: NonEmptyStr
    type: NonEmptyStr
    time: WireTime


class OrderFulfilled(Envelope):
    type: Literal["order.fulfilled"]
    data: OrderFulfilledData


class QuantityChanged(Envelope):
    type: Literal["asset.quantity_changed"]
    data: QuantityChangedData


class Renewed(Envelope):
    type: Literal["asset.renewed"]
    data: RenewedData


class Cancelled(Envelope):
    type: Literal["asset.cancelled"]
    data: CancelledData


class Transferred(Envelope):
    type: Literal["asset.transferred"]
    data: TransferredData


InputEvent = OrderFulfilled | QuantityChanged | Renewed | Cancelled | Transferred

EVENT_MODELS: dict[str, type[Envelope]] = {
    "order.fulfilled": OrderFulfilled,
    "asset.quantity_changed": QuantityChanged,
    "asset.renewed": Renewed,
    "asset.cancelled": Cancelled,
    "asset.transferred": Transferred,
}

# SPEC §3: the topic each type is produced to (without the prefix).
EVENT_TOPICS: dict[str, str] = {
    "order.fulfilled": "orders.fulfilled",
    "asset.quantity_changed": "assets.amendments",
    "asset.renewed": "assets.amendments",
    "asset.cancelled": "assets.amendments",
    "asset.transferred": "assets.amendments",
}
