"""Response shapes for the OpenAPI document.

The routes answer with the stored JSON (or dicts built from it) so money
strings pass through untouched; these models describe that JSON for clients
and are not used to re-validate it on every request.

The snapshot is declared once, in `schemas.outputs` (the wire model the JSON
Schema is exported from): the API's document uses that model itself, and the
state's period is its `PeriodRecord`. The account record (SPEC §10) has no
wire model in `schemas/` yet; `AccountRecordModel` describes the dict
`domain.accounts.record_to_dict` builds, and a test holds the two together.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.outputs import AssetSnapshotModel, PeriodRecord

_MONEY = "Exact decimal as a string with the currency's minor-unit digits, e.g. '20.83'."
_QTY = "Exact decimal quantity as a string, e.g. '5' or '2.5'."
_DATE = "YYYY-MM-DD"

# An asset snapshot exactly as published on `assets.snapshots` (SPEC §5, §9).
SnapshotModel = AssetSnapshotModel


class StateModel(BaseModel):
    """An asset's state on one date, read off its snapshot's periods and `ended_by`."""

    asset_id: str
    as_of: str = Field(description=_DATE)
    status: str = Field(
        description="scheduled, active, expired, cancelled, transferred or replaced."
    )
    quantity: str = Field(description=_QTY)
    mrr: str = Field(description=_MONEY)
    currency: str
    period: PeriodRecord | None = Field(description="The period in effect, or null.")
    version: int = Field(description="Version of the snapshot this was computed from.")


class AccountAssetModel(BaseModel):
    """One asset of an account's list: its summary, not its whole snapshot."""

    asset_id: str
    product_code: str | None
    product_name: str | None
    currency: str
    status: str
    current_quantity: str = Field(description=_QTY)
    current_mrr: str = Field(description=_MONEY)
    lifecycle_start_date: str = Field(description=_DATE)
    lifecycle_end_date: str = Field(description=_DATE)
    auto_renew: bool | None = Field(description="null for snapshots published before §9.")
    next_renewal_date: str | None = Field(description=_DATE)
    version: int
    as_of: str = Field(description=_DATE)


class AccountAssetsModel(BaseModel):
    """One page of an account's assets, in asset id order."""

    account_id: str
    as_of: str | None = Field(
        description="The date asked for, or null when each asset's snapshot `as_of` is used."
    )
    count: int = Field(description="Assets on the account in all (every page).")
    limit: int = Field(description="Most assets on one page.")
    after: str | None = Field(description="The `after` this page was asked with.")
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )
    assets: list[AccountAssetModel]


class TimelineSpanModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: str = Field(description=_DATE)
    end_date: str | None = Field(description=f"{_DATE}; null on the last, open-ended span.")
    mrr: str = Field(description=_MONEY)


class MovementModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: str = Field(description=_DATE)
    type: str = Field(description="new_business, reactivation, expansion, contraction or churn.")
    mrr_before: str = Field(description=_MONEY)
    mrr_after: str = Field(description=_MONEY)
    mrr_change: str = Field(description=_MONEY)
    scheduled: bool = Field(description="True when the date is after the record's as_of.")


class AccountCurrencyModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str
    current_mrr: str = Field(description=_MONEY)
    current_arr: str = Field(description=f"12 × current_mrr. {_MONEY}")
    active_assets: int = Field(description="Assets whose status is active.")
    mrr_timeline: list[TimelineSpanModel]
    movements: list[MovementModel]


class AccountRecordModel(BaseModel):
    """An account record exactly as published on `accounts.mrr` (SPEC §10)."""

    model_config = ConfigDict(extra="forbid")

    account_id: str
    version: int
    as_of: str = Field(description=_DATE)
    currencies: list[AccountCurrencyModel] = Field(description="Sorted by currency.")


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
