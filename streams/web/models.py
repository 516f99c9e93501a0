"""Response shapes for the OpenAPI document.

The routes answer with the stored JSON (or dicts built from it) so money
strings pass through untouched; these models describe that JSON for clients
and are not used to re-validate it on every request.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_MONEY = "Exact decimal as a string with the currency's minor-unit digits, e.g. '20.83'."
_QTY = "Exact decimal quantity as a string, e.g. '5' or '2.5'."


class PeriodModel(BaseModel):
    start_date: str = Field(description="First day of the period (YYYY-MM-DD).")
    end_date: str = Field(description="First day after the period (half-open).")
    quantity: str = Field(description=_QTY)
    mrr: str = Field(description=_MONEY)
    amount: str = Field(description=_MONEY)


class ActionModel(BaseModel):
    action_id: str
    event_id: str | None = None
    category: str = Field(description="initial_sale, cross_sell, upsell, downsell, renewal, …")
    subtype: str | None = Field(None, description="transfer_from / transfer_to for transfers.")
    effective_date: str
    action_time: str
    quantity_change: str = Field(description=_QTY)
    mrr_change: str = Field(description=_MONEY)
    amount_change: str = Field(description=_MONEY)
    order_id: str | None = None


class PendingEventModel(BaseModel):
    event_id: str
    action_id: str | None = None
    type: str | None = None
    effective_date: str | None = None
    reason_code: str
    reason: str | None = None


class SnapshotModel(BaseModel):
    """An asset snapshot exactly as published on `assets.snapshots` (SPEC §5)."""

    model_config = ConfigDict(extra="allow")

    asset_id: str
    account_id: str
    currency: str
    version: int
    as_of: str
    status: str
    current_quantity: str = Field(description=_QTY)
    current_mrr: str = Field(description=_MONEY)
    lifecycle_start_date: str
    lifecycle_end_date: str
    total_lifecycle_amount: str = Field(description=_MONEY)
    state_periods: list[PeriodModel]
    actions: list[ActionModel]
    pending_events: list[PendingEventModel]
    product_code: str | None = None
    product_name: str | None = None
    price_term_months: int | None = None
    renewal_term_months: int | None = None
    billing_anchor_date: str | None = None
    updated_by_event_id: str | None = None


class StateModel(BaseModel):
    """An asset's state on one date, computed from its snapshot's periods."""

    asset_id: str
    as_of: str
    status: str = Field(description="scheduled, active, expired, cancelled or transferred.")
    quantity: str = Field(description=_QTY)
    mrr: str = Field(description=_MONEY)
    currency: str
    period: PeriodModel | None = Field(description="The period in effect, or null.")
    version: int = Field(description="Version of the snapshot this was computed from.")


class AccountAssetModel(BaseModel):
    asset_id: str
    product_code: str | None
    product_name: str | None
    currency: str
    status: str
    current_quantity: str = Field(description=_QTY)
    current_mrr: str = Field(description=_MONEY)
    lifecycle_start_date: str
    lifecycle_end_date: str
    version: int
    as_of: str


class AccountAssetsModel(BaseModel):
    account_id: str
    as_of: str | None = Field(
        description="The date asked for, or null when each asset's snapshot `as_of` is used."
    )
    assets: list[AccountAssetModel]
    total_mrr: dict[str, str] = Field(description="Σ current MRR per currency (exact).")


class ErrorModel(BaseModel):
    """`{"error": ...}`; 503 "read model rebuilding" adds `read_model` (rebuilding or missing)."""

    model_config = ConfigDict(extra="allow")

    error: str


class HealthModel(BaseModel):
    status: str = Field(description="ok or unavailable")
    redis: dict[str, object] | None = Field(
        None,
        description="PING latency or error, and read_model (complete, rebuilding or missing); "
        "only with the token, or when the API has none",
    )
    kafka: dict[str, object] | None = Field(
        None, description="Metadata latency or error; only with the token, or when the API has none"
    )
