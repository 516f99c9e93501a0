"""Exact money: ISO 4217 minor units, half-up rounding, published formatting (SPEC §4.3).

Amounts are exact inside the engine — a `Money` (amount and currency) where a
value leaves the fold, plain `Fraction`s in its inner arithmetic — and are
rounded only here, when published. One rounding rule (half-up, i.e. ties away
from zero, as `decimal.ROUND_HALF_UP`) applied explicitly, never via a
context, and one formatting function, `format_money`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from domain.errors import DomainError, FloatRefusedError

# ISO 4217 active codes whose minor unit is not 2 digits; every other listed code has 2.
_MINOR_UNITS_EXCEPTIONS: dict[str, int] = {
    # 0 digits
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    # 3 digits
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # 4 digits
    "CLF": 4, "UYW": 4,
}  # fmt: skip

_TWO_DIGIT_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP "
    "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR "
    "JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
    "MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR "
    "RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

MINOR_UNITS: dict[str, int] = {code: 2 for code in _TWO_DIGIT_CODES.split()}
MINOR_UNITS.update(_MINOR_UNITS_EXCEPTIONS)

ZERO = Fraction(0)


def minor_unit_digits(currency: str) -> int:
    """Digits after the decimal point for an ISO 4217 currency code."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise DomainError(f"unknown ISO 4217 currency {currency!r}") from None


def round_half_up(value: Fraction, digits: int) -> Fraction:
    """Round to `digits` decimal places, ties away from zero (ROUND_HALF_UP).

    Integer arithmetic on the numerator and denominator: one divmod instead of several
    Fraction operations (this runs for every action of every fold).
    """
    scale = 10**digits
    numerator, denominator = value.numerator, value.denominator
    units, remainder = divmod(abs(numerator) * scale, denominator)
    if 2 * remainder >= denominator:
        units += 1
    return Fraction(-units if numerator < 0 else units, scale)


def _fixed(value: Fraction, digits: int) -> str:
    """Exact decimal text of a value that has at most `digits` decimal places."""
    scale = 10**digits
    # Integer arithmetic, not a Fraction product: this formats every published amount.
    units, remainder = divmod(value.numerator * scale, value.denominator)
    if remainder:
        raise DomainError(f"{value} does not fit in {digits} decimal places")
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), scale)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one ISO 4217 currency; floats are refused (django-hordak's rule).

    Arithmetic keeps the currency and refuses to mix two; `rounded` rounds half-up to the
    minor unit. Build from wire decimals with `Money.of`.
    """

    amount: Fraction
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float):
            raise FloatRefusedError(
                f"refusing float {self.amount!r}: money must be exact (a Fraction)"
            )
        if not isinstance(self.amount, Fraction):
            raise DomainError(f"money amount {self.amount!r} is not a Fraction; use Money.of")
        minor_unit_digits(self.currency)  # an unknown currency is a bug upstream

    @classmethod
    def of(cls, value: Decimal | int | str | Fraction, currency: str) -> Money:
        return cls(exact(value), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(ZERO, currency)

    def rounded(self) -> Money:
        """Half-up (ties away from zero) to the currency's minor unit (SPEC §4.3)."""
        return Money(round_half_up(self.amount, minor_unit_digits(self.currency)), self.currency)

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _same(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise DomainError(f"cannot mix {self.currency} and {other.currency}")
        return other


def exact(value: Decimal | int | str | Fraction) -> Fraction:
    """An exact Fraction from a Decimal, int or decimal string; floats are refused."""
    if isinstance(value, float):
        raise FloatRefusedError(f"refusing float {value!r}: money and quantities must be exact")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str):
        return Fraction(Decimal(value))
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise DomainError(f"{value!r} is not an exact number")
    return Fraction(value)


def format_money(money: Money) -> str:
    """The one published form of money: rounded half-up, exactly the minor unit's digits.

    ("20.83", "1200.00", JPY "25000"); an amount that is already rounded is written as is.
    """
    digits = minor_unit_digits(money.currency)
    return _fixed(round_half_up(money.amount, digits), digits)


def format_rounded(value: Fraction, currency: str) -> str:
    """`format_money(Money(value, currency))`, kept for callers outside the domain."""
    return format_money(Money(value, currency))


def format_quantity(value: Fraction) -> str:
    """Published quantity: exact decimal text without trailing zeros ("5", "2.5", "-3")."""
    denominator = value.denominator
    digits = 0
    # Quantities come from decimals, so the denominator has only factors 2 and 5.
    while (10**digits) % denominator and digits <= 60:
        digits += 1
    if (10**digits) % denominator:
        raise DomainError(f"quantity {value} is not a finite decimal")
    text = _fixed(value, digits)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
