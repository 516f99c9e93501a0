"""Field types shared by the wire models: exact decimals, strict dates, RFC 3339 times."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from domain.money import MINOR_UNITS

MAX_SIGNIFICANT_DIGITS = 40
MAX_EXPONENT = 30
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _exact_decimal(value: Any) -> Decimal:
    """JSON strings or numbers, read exactly; never a float, bool, NaN or absurd magnitude."""
    if isinstance(value, bool | float):
        raise ValueError("must be a decimal string or a JSON number read exactly")
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("must be a decimal number, got an empty string")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"must be a decimal number, got {value!r}") from None
    if not isinstance(value, Decimal):
        raise ValueError("must be a decimal number")
    if not value.is_finite():
        raise ValueError("must be a finite decimal number")
    digits = value.as_tuple()
    exponent = digits.exponent if isinstance(digits.exponent, int) else 0
    if len(digits.digits) > MAX_SIGNIFICANT_DIGITS or abs(exponent) > MAX_EXPONENT:
        raise ValueError(
            f"must have at most {MAX_SIGNIFICANT_DIGITS} significant digits and an exponent "
            f"within ±{MAX_EXPONENT}"
        )
    return value


def _wire_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("must be a calendar date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid calendar date") from None


def _wire_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _TIME.match(value):
        try:
            moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not a valid RFC 3339 timestamp") from None
    else:
        raise ValueError("must be an RFC 3339 timestamp such as 2025-08-10T15:00:00Z")
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone (use Z for UTC)")
    return moment.astimezone(UTC)


def _strict_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a JSON integer")
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or value not in MINOR_UNITS:
        raise ValueError("must be an ISO 4217 currency code such as USD, EUR or JPY")
    return value


def format_decimal(value: Decimal) -> str:
    """Canonical text of a decimal: no exponent, no trailing zeros ("5", "49.99")."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


_DECIMAL_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"},
        {"type": "number"},
    ],
    "description": "exact decimal: a JSON string (recommended) or number",
}

ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    PlainSerializer(format_decimal, return_type=str),
    WithJsonSchema(_DECIMAL_SCHEMA),
]
PositiveDecimal = Annotated[ExactDecimal, Field(gt=0)]
NonNegativeDecimal = Annotated[ExactDecimal, Field(ge=0)]
WireDate = Annotated[
    date,
    BeforeValidator(_wire_date),
    WithJsonSchema({"type": "string", "format": "date"}),
]
WireTime = Annotated[
    datetime,
    BeforeValidator(_wire_time),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Months = Annotated[
    int,
    BeforeValidator(_strict_int),
    Field(ge=1, le=1200),
    WithJsonSchema({"type": "integer", "minimum": 1}),
]
NonEmptyStr = Annotated[str, Field(min_length=1, max_length=512, strict=True)]
Currency = Annotated[
    str,
    BeforeValidator(_currency),
    WithJsonSchema({"type": "string", "enum": sorted(MINOR_UNITS)}),
]
