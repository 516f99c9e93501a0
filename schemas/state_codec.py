"""Deterministic JSON for the domain's frozen dataclasses: how a ledger lives in a Faust table.

JSON rather than pickle so a changelog topic stays readable, and safe to
decode across code versions: only registered domain classes are rebuilt.
Tags: {"$c": class} for dataclasses, "$f" Fraction, "$d" date, "$t" datetime,
"$e" StrEnum; JSON arrays come back as tuples (the domain uses tuples only).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
from datetime import date, datetime
from fractions import Fraction
from types import ModuleType
from typing import Any

from domain import events, ledger, ledger_types, reasons, snapshot_types, state


class StateCodecError(ValueError):
    """The stored bytes do not describe a known domain value."""


def _registry(*modules: ModuleType) -> dict[str, type]:
    found: dict[str, type] = {}
    for module in modules:
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ != module.__name__:
                continue
            if dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum):
                found[name] = obj
    return found


CLASSES = _registry(events, ledger, ledger_types, reasons, snapshot_types, state)


def _encode(value: Any) -> Any:
    # Enums first: a StrEnum is also a str and would otherwise lose its type.
    if isinstance(value, enum.Enum):
        return {"$e": type(value).__name__, "v": value.value}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Fraction):
        return {"$f": f"{value.numerator}/{value.denominator}"}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if CLASSES.get(name) is not type(value):
            raise StateCodecError(f"{name} is not a registered domain class")
        record: dict[str, Any] = {"$c": name}
        for field in dataclasses.fields(value):
            record[field.name] = _encode(getattr(value, field.name))
        return record
    raise StateCodecError(f"cannot encode {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(item) for item in value)
    if not isinstance(value, dict):
        return value
    if "$c" in value:
        cls = CLASSES.get(value["$c"])
        if cls is None or not dataclasses.is_dataclass(cls):
            raise StateCodecError(f"unknown class tag {value['$c']!r}")
        kwargs = {k: _decode(v) for k, v in value.items() if k != "$c"}
        return cls(**kwargs)
    if "$f" in value:
        return Fraction(value["$f"])
    if "$t" in value:
        return datetime.fromisoformat(value["$t"])
    if "$d" in value:
        return date.fromisoformat(value["$d"])
    if "$e" in value:
        enum_cls = CLASSES.get(value["$e"])
        if enum_cls is None or not issubclass(enum_cls, enum.Enum):
            raise StateCodecError(f"unknown enum tag {value['$e']!r}")
        return enum_cls(value["v"])
    raise StateCodecError(f"untagged object with keys {sorted(value)}")


def encode_state(value: Any) -> bytes:
    return json.dumps(_encode(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_state(raw: bytes) -> Any:
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise StateCodecError(f"stored state is not JSON: {exc}") from exc
    return _decode(document)
