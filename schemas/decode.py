"""Raw message bytes → a typed event and its domain events, or a rejection with a reason.

Decimals are read exactly: the bytes are parsed with `parse_float=Decimal`
before validation, because pydantic's JSON-number → Decimal path loses digits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from domain.events import (
    AssetCancelled,
    AssetCreated,
    AssetEvent,
    AssetRenewed,
    AssetTransferred,
    Category,
    QuantityChanged,
)
from domain.reasons import ReasonCode
from schemas.events import (
    EVENT_MODELS,
    Cancelled,
    Envelope,
    InputEvent,
    OrderFulfilled,
    Renewed,
    Transferred,
)
from schemas.events import QuantityChanged as QuantityChangedEvent
from schemas.types import format_decimal

MAX_MESSAGE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Rejection:
    """An early rejection (SPEC §4.6): straight to the dead-letter topic."""

    reason_code: ReasonCode
    reason: str
    event_id: str | None


@dataclass(frozen=True, slots=True)
class Decoded:
    """A valid input event and what it means for each asset it concerns."""

    model: InputEvent
    events: tuple[AssetEvent, ...]
    fingerprint: str

    @property
    def event_id(self) -> str:
        return self.model.id

    @property
    def event_type(self) -> str:
        return self.model.type


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def decode(raw: bytes) -> Decoded | Rejection:
    """Decode one message; never raises on bad input."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejection(
            ReasonCode.SCHEMA_VIOLATION,
            f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES} (1 MiB)",
            None,
        )
    try:
        text = raw.decode("utf-8")
        document = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Rejection(ReasonCode.INVALID_JSON, f"not UTF-8 JSON: {exc}", None)
    if not isinstance(document, dict):
        return Rejection(
            ReasonCode.SCHEMA_VIOLATION,
            f"a CloudEvent must be a JSON object, got {type(document).__name__}",
            None,
        )
    event_id = document.get("id") if isinstance(document.get("id"), str) else None
    kind = document.get("type")
    if not isinstance(kind, str) or not kind:
        return Rejection(ReasonCode.SCHEMA_VIOLATION, "type: required string is missing", event_id)
    model_type = EVENT_MODELS.get(kind)
    if model_type is None:
        known = ", ".join(sorted(EVENT_MODELS))
        return Rejection(
            ReasonCode.UNKNOWN_TYPE, f"type {kind!r} is not one of: {known}", event_id or None
        )
    try:
        model = model_type.model_validate(document)
    except ValidationError as exc:
        return Rejection(ReasonCode.SCHEMA_VIOLATION, describe(exc), event_id or None)
    typed: InputEvent = model  # type: ignore[assignment]
    return Decoded(typed, to_domain(typed), fingerprint(typed))


def describe(error: ValidationError) -> str:
    """A producer-actionable message: which field, what was wrong (first three problems)."""
    parts = []
    for problem in error.errors()[:3]:
        path = _path(problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = "required field is missing"
        parts.append(f"{path}: {message}" if path else message)
    more = len(error.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def fingerprint(model: Envelope) -> str:
    """Digest of the event's content: equal for "5", 5 and "5.0"; key order and spacing ignored."""
    canonical = json.dumps(
        model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def partition_key(model: InputEvent) -> str:
    """SPEC §3's Kafka key: order_id for orders, asset_id for amendments."""
    if isinstance(model, OrderFulfilled):
        return model.data.order_id
    return model.data.asset_id


def _fraction(value: Decimal) -> Fraction:
    return Fraction(value)


def _optional(value: Decimal | None) -> Fraction | None:
    return None if value is None else Fraction(value)


def to_domain(model: InputEvent) -> tuple[AssetEvent, ...]:
    """The domain events of one wire event: an order yields one creation per line."""
    if isinstance(model, OrderFulfilled):
        order = model.data
        return tuple(
            AssetCreated(
                event_id=model.id,
                line_id=line.line_id,
                asset_id=line.asset_id or f"{order.order_id}/{line.line_id}",
                time=model.time,
                order_id=order.order_id,
                account_id=order.account_id,
                currency=order.currency,
                product_code=line.product_code,
                product_name=line.product_name,
                quantity=_fraction(line.quantity),
                unit_price=_fraction(line.unit_price),
                price_term_months=line.price_term_months,
                start_date=line.start_date,
                end_date=line.end_date,
                renewal_term_months=line.renewal_term_months,
                category=Category(line.category),
            )
            for line in order.lines
        )
    if isinstance(model, QuantityChangedEvent):
        q = model.data
        return (
            QuantityChanged(
                model.id, q.asset_id, model.time, q.effective_date,
                _fraction(q.quantity_change), _optional(q.unit_price), q.order_id,
            ),
        )  # fmt: skip
    if isinstance(model, Renewed):
        r = model.data
        return (
            AssetRenewed(
                model.id, r.asset_id, model.time, r.start_date, r.end_date,
                _optional(r.unit_price), _optional(r.uplift_percent), r.order_id,
            ),
        )  # fmt: skip
    if isinstance(model, Cancelled):
        c = model.data
        return (AssetCancelled(model.id, c.asset_id, model.time, c.effective_date, c.order_id),)
    if isinstance(model, Transferred):
        t = model.data
        target = t.target_asset_id or f"{t.asset_id}/transfer/{model.id}"
        return (
            AssetTransferred(
                model.id, t.asset_id, model.time, t.effective_date, _fraction(t.quantity),
                t.target_account_id, target, t.order_id,
            ),
        )  # fmt: skip
    raise TypeError(f"unhandled event model {type(model).__name__}")  # pragma: no cover


__all__ = ["Decoded", "Rejection", "decode", "describe", "fingerprint", "format_decimal",
           "partition_key", "to_domain"]  # fmt: skip
