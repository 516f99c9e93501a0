"""Raw message bytes → a typed event and its domain events, or a rejection with a reason.

Decimals are read exactly: the bytes are parsed with `parse_float=Decimal`
before validation, because pydantic's JSON-number → Decimal path loses digits
(`1.00000000000000000001` → `1`). Early reason codes (SPEC §4.6):

- `invalid_json`: larger than 1 MiB, not UTF-8, not JSON (NaN and Infinity are
  not JSON), an unpaired UTF-16 surrogate escape, not a JSON object, or beyond
  what the reader takes anywhere in the document, ignored fields included: nesting
  deeper than `MAX_NESTING`, or a number whose exponent `Decimal` cannot hold
  (beyond ±999,999,999,999,999,999);
- `unknown_type`: `type` is a string outside SPEC §3's table;
- `schema_violation`: everything else a model refuses, with the field path.

`decode` is total: whatever the bytes, it returns a `Decoded` or a `Rejection`
and never raises, so `replay`, `produce` and the worker can always say where
a message went (SPEC §4.6). Unknown extra fields are ignored (see
`schemas.envelope`).
"""

from __future__ import annotations

import hashlib
import json
import re
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
    AssetRepriced,
    AssetSwapped,
    AssetTransferred,
    Category,
    EventVoided,
    Movement,
    QuantityChanged,
)
from domain.reasons import ReasonCode
from schemas.envelope import Envelope
from schemas.events import (
    EVENT_MODELS,
    Cancelled,
    InputEvent,
    OrderFulfilled,
    Renewed,
    Repriced,
    Swapped,
    Transferred,
)
from schemas.events import EventVoided as EventVoidedEvent
from schemas.events import QuantityChanged as QuantityChangedEvent
from schemas.types import MAX_SIGNIFICANT_DIGITS, format_decimal

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_REASON_ERRORS = 3
# SPEC's events nest four deep (envelope, data, lines, a line). The limit leaves room for
# producers' own extension fields, and keeps the decision independent of how deep the
# caller's stack is (json and pydantic recurse, so the interpreter's limit would vary).
MAX_NESTING = 64
# A JSON escape of a UTF-16 surrogate; paired ones are fine, lone ones are not text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# After parsing, a paired escape is one astral character; any surrogate left is a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Rejection:
    """An early rejection (SPEC §4.6): straight to the dead-letter topic."""

    reason_code: ReasonCode
    reason: str
    event_id: str | None  # the envelope's `id` when it is a non-empty string


@dataclass(frozen=True, slots=True)
class Decoded:
    """A valid input event and what it means for each asset it concerns."""

    model: InputEvent
    events: tuple[AssetEvent, ...]  # one AssetCreated per order line; one event otherwise
    fingerprint: str  # sha256 hex of the canonical content (duplicate vs conflict)

    @property
    def event_id(self) -> str:
        return self.model.id

    @property
    def event_type(self) -> str:
        return self.model.type


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _BeyondReader(ValueError):
    """A JSON document the reader will not hold (a limit, not a syntax error)."""


def _json_int(text: str) -> int | Decimal:
    # Python refuses int() of over 4,300 digits; a Decimal lets the model say which field.
    return int(text) if len(text) <= MAX_SIGNIFICANT_DIGITS else Decimal(text)


def _json_decimal(text: str) -> Decimal:
    # Decimal's exponent stops at ±999,999,999,999,999,999; beyond it, it raises
    # InvalidOperation (an ArithmeticError, which json.loads would let escape).
    try:
        return Decimal(text)
    except ArithmeticError:
        shown = text if len(text) <= 40 else f"{text[:40]}…"
        raise _BeyondReader(
            f"the JSON number {shown} has an exponent beyond ±10^18 and cannot be read exactly"
        ) from None


_TOO_DEEP = f"JSON nested deeper than {MAX_NESTING} levels"
_LONE_SURROGATE = "not UTF-8 JSON: an unpaired UTF-16 surrogate escape"


def _check_structure(document: Any, lone_surrogates: bool) -> str | None:
    """What is wrong with a parsed document: too deep, or (when asked) a lone surrogate.

    Iterative, so a document that json.loads could build never overflows the stack here
    (json.dumps, used before, recursed and raised RecursionError on deep documents).
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_NESTING:
                return _TOO_DEEP
            if lone_surrogates and any(_SURROGATE.search(key) for key in value):
                return _LONE_SURROGATE
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            if depth > MAX_NESTING:
                return _TOO_DEEP
            stack.extend((item, depth + 1) for item in value)
        elif lone_surrogates and isinstance(value, str) and _SURROGATE.search(value):
            return _LONE_SURROGATE
    return None


def parse_json(raw: bytes) -> Any | Rejection:
    """Step 1 of `decode`: bytes → a JSON object with exact decimals, or `invalid_json`."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejection(
            ReasonCode.INVALID_JSON,
            f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES} (1 MiB)",
            None,
        )
    try:
        text = raw.decode("utf-8")
        document = json.loads(
            text, parse_float=_json_decimal, parse_int=_json_int, parse_constant=_no_constants
        )
    except _BeyondReader as exc:
        return Rejection(ReasonCode.INVALID_JSON, str(exc), None)
    except RecursionError:  # deeper than the interpreter's stack: far past MAX_NESTING
        return Rejection(ReasonCode.INVALID_JSON, _TOO_DEEP, None)
    except (UnicodeDecodeError, ValueError) as exc:
        return Rejection(ReasonCode.INVALID_JSON, f"not UTF-8 JSON: {exc}", None)
    lone_surrogates = _SURROGATE_ESCAPE.search(text) is not None
    # A document can only nest as deep as it has brackets: most need no walk at all.
    if lone_surrogates or text.count("{") + text.count("[") > MAX_NESTING:
        problem = _check_structure(document, lone_surrogates)
        if problem is not None:
            return Rejection(ReasonCode.INVALID_JSON, problem, None)
    if not isinstance(document, dict):
        return Rejection(
            ReasonCode.INVALID_JSON,
            f"a CloudEvent must be a JSON object, got a JSON {_json_kind(document)}",
            None,
        )
    return document


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else "number"


def decode(raw: bytes) -> Decoded | Rejection:
    """Decode one message; never raises on bad input.

    1. Parse the bytes (size, UTF-8, JSON with exact decimals, an object).
    2. Look up `type` in SPEC §3's table.
    3. Validate the envelope and its `data`, then map to domain events.
    """
    # Step 1
    document = parse_json(raw)
    if isinstance(document, Rejection):
        return document
    # Step 2
    raw_id = document.get("id")
    event_id = raw_id if isinstance(raw_id, str) and raw_id else None
    kind = document.get("type")
    if not isinstance(kind, str) or not kind:
        problem = "required field is missing" if kind is None else "must be a non-empty string"
        return Rejection(ReasonCode.SCHEMA_VIOLATION, f"type: {problem}", event_id)
    model_type = EVENT_MODELS.get(kind)
    if model_type is None:
        known = ", ".join(sorted(EVENT_MODELS))
        return Rejection(ReasonCode.UNKNOWN_TYPE, f"type {kind!r} is not one of: {known}", event_id)
    # Step 3
    try:
        # The context lets a rule compare `data` with the envelope (a void's own id).
        model = model_type.model_validate(document, context={"event_id": event_id})
    except ValidationError as exc:
        return Rejection(ReasonCode.SCHEMA_VIOLATION, describe(exc), event_id)
    typed: InputEvent = model  # type: ignore[assignment]
    return Decoded(typed, to_domain(typed), fingerprint(typed))


def describe(error: ValidationError) -> str:
    """A producer-actionable message: which field, what was wrong (first three problems)."""
    parts = []
    for problem in error.errors()[:MAX_REASON_ERRORS]:
        path = _path(problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = "required field is missing"
        parts.append(f"{path}: {message}" if path else message)
    more = len(error.errors()) - MAX_REASON_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# Order-line fields added after the first release (SPEC §9.4), left out of the digest when
# they hold their default, so a message seen before they existed keeps its digest and its
# redelivery stays a duplicate, not a conflict.
_LATER_LINE_DEFAULTS: dict[str, tuple[object, ...]] = {
    "auto_renew": (False,),
    "renewal_uplift_percent": (None, "0"),
}


def fingerprint(model: Envelope) -> str:
    """Digest of the event's content: equal for "5", 5 and "5.0"; key order and spacing ignored."""
    content = model.model_dump(mode="json")
    if isinstance(model, OrderFulfilled):
        for line in content["data"]["lines"]:
            for name, defaults in _LATER_LINE_DEFAULTS.items():
                if line.get(name) in defaults:
                    line.pop(name, None)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def partition_key(decoded: Decoded | InputEvent) -> str:
    """SPEC §3's Kafka key: order_id for orders, asset_id for amendments."""
    model = decoded.model if isinstance(decoded, Decoded) else decoded
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
                auto_renew=line.auto_renew,
                renewal_uplift_percent=_optional(line.renewal_uplift_percent) or Fraction(0),
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
    if isinstance(model, Repriced):
        p = model.data
        return (
            AssetRepriced(
                model.id, p.asset_id, model.time, p.effective_date, _optional(p.unit_price),
                _optional(p.uplift_percent), p.order_id,
            ),
        )  # fmt: skip
    if isinstance(model, Swapped):
        w = model.data
        return (
            AssetSwapped(
                event_id=model.id, asset_id=w.asset_id, time=model.time,
                effective_date=w.effective_date, quantity=_fraction(w.quantity),
                kind=Movement(w.kind), product_code=w.product_code,
                product_name=w.product_name or w.product_code, unit_price=_fraction(w.unit_price),
                target_asset_id=w.target_asset_id or f"{w.asset_id}/{w.kind}/{model.id}",
                order_id=w.order_id,
            ),
        )  # fmt: skip
    if isinstance(model, EventVoidedEvent):
        v = model.data
        return (
            EventVoided(model.id, v.asset_id, model.time, v.voided_event_id, v.reason, v.order_id),
        )
    raise TypeError(f"unhandled event model {type(model).__name__}")  # pragma: no cover


__all__ = ["MAX_MESSAGE_BYTES", "MAX_NESTING", "Decoded", "Rejection", "decode", "describe",
           "fingerprint", "format_decimal", "parse_json", "partition_key", "to_domain"]  # fmt: skip
