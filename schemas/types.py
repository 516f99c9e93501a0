"""Field types shared by the wire models: exact decimals, strict dates, RFC 3339 times.

Every bound that keeps the fold safe lives here, in the types, so each new model that
uses them (SPEC §9's `asset.repriced`, `asset.swapped`, `asset.event_voided`, the
order line's auto-renewal fields) gets it too: `WireDate` (`MIN_DATE`..`MAX_DATE`),
`Months` (1..`MAX_MONTHS`), the decimals (`MAX_SIGNIFICANT_DIGITS`, `MAX_EXPONENT`)
and `UpliftPercent` (-100..`MAX_UPLIFT_PERCENT`).

Decimals arrive already parsed by `json.loads(..., parse_float=Decimal)` (see
`schemas.decode`), so a JSON number is a `Decimal` here, never a float.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Context, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from domain.money import MINOR_UNITS

# Far beyond any price or quantity, small enough that Fraction arithmetic stays cheap.
# 30 digits / exponent ±30 keeps `1.00000000000000000001` (21 digits, exponent -20) exact.
MAX_SIGNIFICANT_DIGITS = 30
MAX_EXPONENT = 30
# Bounds that keep every date the fold computes a valid `datetime.date` (years 1-9999).
# The latest computed date is a default renewal end: a start date (at most MAX_DATE)
# plus a renewal term (at most MAX_MONTHS), so 9100-12-31; counting months in it looks
# one month further (9101-01). Nothing billed is near either end; 1900 still takes
# back-dated legacy contracts and 9000 any "until further notice" end date.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(9000, 12, 31)
MAX_MONTHS = 1200  # 100 years: any price or renewal term, in whole months
# An uplift multiplies prices by (1 + p/100): 1000 % is 11×, far beyond any real price
# rise (a larger one is a typo: 300 for 3), and an automatic renewal applies it again
# every term, so an unbounded one would grow prices — and the exact fractions behind
# them — without limit.
MAX_UPLIFT_PERCENT = 1000
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_DECIMAL_TEXT = re.compile(DECIMAL_PATTERN)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _exact_decimal(value: Any) -> Decimal:
    """A JSON string or number read exactly; never a float, bool, NaN or absurd magnitude."""
    if isinstance(value, bool | float):
        raise ValueError("must be a decimal string or a JSON number read exactly")
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        # Plain notation only, as the JSON Schema says: no exponent, spaces, "+", ".5" or "5.".
        if not _DECIMAL_TEXT.match(value):
            raise ValueError(f'must be a decimal number such as "49.99", got {value!r}')
        value = Decimal(value)
    if not isinstance(value, Decimal):
        raise ValueError("must be a decimal string or number")
    if not value.is_finite():
        raise ValueError("must be a finite decimal number")
    # Judge the normalised value, so "5.000000" is as fine as "5" (trailing zeros are free).
    parts = value.as_tuple()
    text = "".join(map(str, parts.digits))
    trailing = len(text) - len(text.rstrip("0"))
    significant = len(text.strip("0")) or 1
    exponent = (parts.exponent if isinstance(parts.exponent, int) else 0) + trailing
    if significant > MAX_SIGNIFICANT_DIGITS or abs(exponent) > MAX_EXPONENT:
        raise ValueError(
            f"must have at most {MAX_SIGNIFICANT_DIGITS} significant digits and an exponent "
            f"within ±{MAX_EXPONENT}"
        )
    return value


def _wire_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("must be a calendar date YYYY-MM-DD")
    else:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a valid calendar date") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(
            f"{day.isoformat()} is out of range: dates are from {MIN_DATE.isoformat()} "
            f"to {MAX_DATE.isoformat()}"
        )
    return day


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
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past datetime.max in UTC
        raise ValueError(f"{value!r} is out of range in UTC") from None


def _strict_int(value: Any) -> int:
    # A JSON integer only: "12" (string), 12.0 and true are refused, so producers fix them.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a JSON integer")
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or value not in MINOR_UNITS:
        raise ValueError("must be an ISO 4217 currency code such as USD, EUR or JPY")
    return value


def format_decimal(value: Decimal) -> str:
    """Canonical text of a decimal: no exponent, no trailing zeros ("5", "49.99").

    Normalised with a context wide enough for every digit, so it never rounds
    (the thread's default 28-digit context would).
    """
    exact = Context(prec=max(len(value.as_tuple().digits), 1))
    text = format(value.normalize(exact), "f")
    return "0" if text in ("-0", "") else text


def _decimal_schema(string_pattern: str, number: dict[str, Any], rule: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": string_pattern}, {"type": "number", **number}],
            "description": f"exact decimal{rule}: a JSON string (recommended) or number, "
            "never rounded; at most 30 significant digits",
        }
    )


_UNSIGNED = r"^[0-9]+(\.[0-9]+)?$"
# Unsigned and not all zeros, without look-ahead (RE2-based validators have none).
_POSITIVE = r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|[0-9]+\.[0-9]*[1-9][0-9]*)$"

ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    PlainSerializer(format_decimal, return_type=str),
    _decimal_schema(DECIMAL_PATTERN, {}, ""),
]
PositiveDecimal = Annotated[
    ExactDecimal, Field(gt=0), _decimal_schema(_POSITIVE, {"exclusiveMinimum": 0}, " > 0")
]
NonNegativeDecimal = Annotated[
    ExactDecimal, Field(ge=0), _decimal_schema(_UNSIGNED, {"minimum": 0}, " ≥ 0")
]
# An uplift: -100 % makes the price 0; below that it would be negative. Capped above (see
# MAX_UPLIFT_PERCENT).
UpliftPercent = Annotated[
    ExactDecimal,
    Field(ge=-100, le=MAX_UPLIFT_PERCENT),
    _decimal_schema(
        DECIMAL_PATTERN,
        {"minimum": -100, "maximum": MAX_UPLIFT_PERCENT},
        f" from -100 to {MAX_UPLIFT_PERCENT}",
    ),
]
# The pattern also bounds the year, so a producer's validator refuses 9999 as ours does.
_BOUNDED_DATE = r"^(19[0-9]{2}|[2-8][0-9]{3}|9000)-[0-9]{2}-[0-9]{2}$"
WireDate = Annotated[
    date,
    BeforeValidator(_wire_date),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": _BOUNDED_DATE,
            "description": f"calendar date YYYY-MM-DD, from {MIN_DATE.isoformat()} to "
            f"{MAX_DATE.isoformat()} (so that every end date computed from it, up to "
            f"{MAX_MONTHS} months later, is a valid date)",
        }
    ),
]
WireTime = Annotated[
    datetime,
    BeforeValidator(_wire_time),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Months = Annotated[
    int,
    BeforeValidator(_strict_int),
    Field(ge=1, le=MAX_MONTHS),
    WithJsonSchema(
        {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_MONTHS,
            "description": f"whole months, a JSON integer from 1 to {MAX_MONTHS} (100 years)",
        }
    ),
]
NonEmptyStr = Annotated[str, Field(min_length=1, max_length=512, strict=True)]
# Free text a person reads (a void's reason): at most 500 characters, SPEC §3.
MAX_TEXT = 500
Text = Annotated[str, Field(max_length=MAX_TEXT, strict=True)]
# A JSON boolean only: "true", 1 and "yes" are refused, so producers fix them.
WireBool = Annotated[bool, Field(strict=True)]
Currency = Annotated[
    str,
    BeforeValidator(_currency),
    WithJsonSchema({"type": "string", "enum": sorted(MINOR_UNITS)}),
]
