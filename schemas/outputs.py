"""Output records (SPEC §5, §4.6, §9): the asset snapshot and the dead-letter record.

Money and quantities stay strings end to end (exact decimals, formatted by
the domain); dates are ISO strings; times RFC 3339 with Z. The snapshot's shape
is declared here once: `AssetSnapshotModel` (the JSON Schema is exported from it,
and the API documents it) and the mappers `snapshot_to_dict` / the incremental
renderer's row functions, which a test holds to the model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.ledger_types import DeadLetter
from domain.reasons import ReasonCode
from domain.snapshot_types import (
    ActionView,
    AssetSnapshot,
    PendingView,
    PeriodView,
    Status,
    VoidedView,
)

# Wire formats of SPEC §4.3/§5, as JSON Schema patterns for consumers in other languages.
DateText = Annotated[
    str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"})
]
TimeText = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$",
        json_schema_extra={"format": "date-time"},
    ),
]
MoneyText = Annotated[
    str,
    Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", description="exact decimal string, minor-unit digits"),
]
QuantityText = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]+(\.[0-9]*[1-9])?$", description="exact decimal string, no trailing zeros"
    ),
]
# Spelled out for the type checker; a test keeps them equal to domain's Category and Subtype.
CategoryName = Literal[
    "initial_sale", "cross_sell", "upsell", "downsell", "renewal", "cancellation", "transfer",
    "price_change", "swap", "upgrade", "downgrade",
]  # fmt: skip
SubtypeName = Literal[
    "transfer_from", "transfer_to", "auto_renewal", "swap_out", "swap_in", "upgrade_from",
    "upgrade_to", "downgrade_from", "downgrade_to",
]  # fmt: skip
EndedByName = Literal["cancellation", "transfer", "swap"]


def _time(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


class _Output(BaseModel):
    model_config = ConfigDict(extra="allow")


class PeriodRecord(_Output):
    """One Asset State Period, half-open [start_date, end_date)."""

    start_date: DateText
    end_date: DateText
    quantity: QuantityText
    mrr: MoneyText
    amount: MoneyText


class ActionRecord(_Output):
    """One applied Asset Action; `event_id`/`order_id` trace it to its input message (both null
    for an automatic renewal); `related_asset_id` is the other side of a transfer or swap."""

    action_id: str
    event_id: str | None
    category: CategoryName
    subtype: SubtypeName | None
    effective_date: DateText
    action_time: TimeText
    quantity_change: QuantityText
    mrr_change: MoneyText
    amount_change: MoneyText
    order_id: str | None
    related_asset_id: str | None = None


class PendingRecord(_Output):
    """An event waiting for its precondition (SPEC §4.6), with the reason it waits.

    `effective_date` is null for a void; `waiting` (SPEC §9.4): an automatic renewal may
    still make room for it, and its grace has not started."""

    event_id: str
    action_id: str
    type: str
    effective_date: DateText | None
    reason_code: ReasonCode
    reason: str
    waiting: bool = Field(False, strict=True)


class VoidedRecord(_Output):
    """An applied void (SPEC §9.3): `event_id` taken out of the asset's events by `voided_by`."""

    event_id: str
    voided_by: str
    reason: str | None


class AssetSnapshotModel(_Output):
    """Value of `assets.snapshots` (compacted, key = asset_id)."""

    asset_id: str
    account_id: str
    currency: str
    version: int = Field(ge=0)
    as_of: DateText
    status: Status
    current_quantity: QuantityText
    current_mrr: MoneyText
    lifecycle_start_date: DateText
    lifecycle_end_date: DateText
    total_lifecycle_amount: MoneyText
    state_periods: list[PeriodRecord]
    actions: list[ActionRecord]
    pending_events: list[PendingRecord]
    product_code: str
    product_name: str | None
    price_term_months: int = Field(ge=1)
    renewal_term_months: int | None = Field(ge=1)
    billing_anchor_date: DateText
    updated_by_event_id: str | None
    # SPEC §9. Always written; defaults describe snapshots published before they existed.
    auto_renew: bool = Field(False, strict=True)
    renewal_uplift_percent: QuantityText = Field(
        "0", description="each automatic renewal's price × (1 + p/100)"
    )
    next_renewal_date: DateText | None = Field(
        None, description="the lifecycle end while an automatic renewal can still happen there"
    )
    ended_by: EndedByName | None = Field(
        None, description="what ended the lifecycle before its term ran out, if anything did"
    )
    voided_events: list[VoidedRecord] = Field(
        default_factory=list, description="applied voids, sorted by (event_id, voided_by)"
    )


class DeadLetterModel(_Output):
    """Value of `assets.deadletter` (key = the original message key)."""

    event_id: str | None
    reason_code: ReasonCode
    reason: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    key: str | None
    payload: str | None
    payload_encoding: Literal["base64"] | None = Field(
        None, description='present, as "base64", only when payload is base64 (not UTF-8)'
    )
    payload_truncated: bool | None = Field(
        None,
        description="present, as true, only when the record would not fit in a Kafka message "
        "and the payload was cut: it holds the first part, payload_bytes the original size",
    )
    payload_bytes: int | None = Field(
        None, description="the original payload's size in bytes (with payload_truncated)"
    )
    dead_lettered_at: TimeText


def period_record(p: PeriodView) -> dict[str, Any]:
    return {
        "start_date": p.start_date.isoformat(),
        "end_date": p.end_date.isoformat(),
        "quantity": p.quantity,
        "mrr": p.mrr,
        "amount": p.amount,
    }


def action_record(a: ActionView) -> dict[str, Any]:
    return {
        "action_id": a.action_id,
        "event_id": a.event_id,
        "category": a.category,
        "subtype": a.subtype,
        "effective_date": a.effective_date.isoformat(),
        "action_time": _time(a.action_time),
        "quantity_change": a.quantity_change,
        "mrr_change": a.mrr_change,
        "amount_change": a.amount_change,
        "order_id": a.order_id,
        "related_asset_id": a.related_asset_id,
    }


def pending_record(p: PendingView) -> dict[str, Any]:
    return {
        "event_id": p.event_id,
        "action_id": p.action_id,
        "type": p.event_type,
        "effective_date": p.effective_date.isoformat() if p.effective_date else None,
        "reason_code": p.reason_code,
        "reason": p.reason,
        "waiting": p.waiting,
    }


def voided_record(v: VoidedView) -> dict[str, Any]:
    return {"event_id": v.event_id, "voided_by": v.voided_by, "reason": v.reason}


# The snapshot's list fields, last in the record: the incremental renderer
# (schemas.snapshot_render) appends them to the encoded header.
ROW_FIELDS = ("state_periods", "actions", "pending_events")


def snapshot_header(snapshot: AssetSnapshot) -> dict[str, Any]:
    """Every snapshot field but the row lists of `ROW_FIELDS`."""
    return {
        "asset_id": snapshot.asset_id,
        "account_id": snapshot.account_id,
        "currency": snapshot.currency,
        "version": snapshot.version,
        "as_of": snapshot.as_of.isoformat(),
        "status": snapshot.status.value,
        "current_quantity": snapshot.current_quantity,
        "current_mrr": snapshot.current_mrr,
        "lifecycle_start_date": snapshot.lifecycle_start_date.isoformat(),
        "lifecycle_end_date": snapshot.lifecycle_end_date.isoformat(),
        "total_lifecycle_amount": snapshot.total_lifecycle_amount,
        "product_code": snapshot.product_code,
        "product_name": snapshot.product_name,
        "price_term_months": snapshot.price_term_months,
        "renewal_term_months": snapshot.renewal_term_months,
        "billing_anchor_date": snapshot.billing_anchor_date.isoformat(),
        "updated_by_event_id": snapshot.updated_by_event_id,
        "auto_renew": snapshot.auto_renew,
        "renewal_uplift_percent": snapshot.renewal_uplift_percent,
        "next_renewal_date": (
            snapshot.next_renewal_date.isoformat() if snapshot.next_renewal_date else None
        ),
        "ended_by": snapshot.ended_by,
        "voided_events": [voided_record(v) for v in snapshot.voided_events],
    }


def snapshot_to_dict(snapshot: AssetSnapshot) -> dict[str, Any]:
    """The JSON-ready snapshot with SPEC §5's field names (plus product and anchor fields)."""
    return {
        **snapshot_header(snapshot),
        "state_periods": [period_record(p) for p in snapshot.state_periods],
        "actions": [action_record(a) for a in snapshot.actions],
        "pending_events": [pending_record(p) for p in snapshot.pending_events],
    }


def dead_letter_to_dict(letter: DeadLetter) -> dict[str, Any]:
    """SPEC §4.6's dead-letter record; `payload_encoding` appears only for base64 payloads."""
    source = letter.source
    record: dict[str, Any] = {
        "event_id": letter.event_id,
        "reason_code": letter.reason_code.value,
        "reason": letter.reason,
        "source_topic": source.topic if source else None,
        "source_partition": source.partition if source else None,
        "source_offset": source.offset if source else None,
        "key": source.key if source else None,
        "payload": source.payload if source else None,
        "dead_lettered_at": _time(letter.dead_lettered_at),
    }
    if source is not None and source.payload_encoding:
        record["payload_encoding"] = source.payload_encoding
    return record


def dead_letter_json(letter: DeadLetter, limit: int) -> bytes:
    """The dead-letter record as JSON, cut down to `limit` bytes if it would not fit.

    A dead letter too large to send must not be lost (SPEC §4.6): its payload is cut to
    what fits, marked `"payload_truncated": true` with the original `payload_bytes`
    (of the payload as carried: text, or base64 text). Everything else is kept.
    """
    record = dead_letter_to_dict(letter)
    encoded = json.dumps(record, ensure_ascii=False).encode("utf-8")
    payload = record.get("payload")
    if len(encoded) <= limit or not isinstance(payload, str):
        return encoded
    original = len(payload.encode("utf-8"))
    record["payload"] = ""
    record["payload_truncated"] = True
    record["payload_bytes"] = original
    room = limit - len(json.dumps(record, ensure_ascii=False).encode("utf-8")) - 16
    # JSON escaping can grow text up to 6×: cut generously, then tighten until it fits.
    cut = payload[: max(room, 0)]
    if record.get("payload_encoding") == "base64":
        cut = cut[: len(cut) - len(cut) % 4]
    while cut:
        record["payload"] = cut
        encoded = json.dumps(record, ensure_ascii=False).encode("utf-8")
        if len(encoded) <= limit:
            return encoded
        cut = cut[: len(cut) * 3 // 4]
        if record.get("payload_encoding") == "base64":
            cut = cut[: len(cut) - len(cut) % 4]
    record["payload"] = ""
    return json.dumps(record, ensure_ascii=False).encode("utf-8")
