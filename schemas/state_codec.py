"""Deterministic JSON for the domain's frozen dataclasses: how a ledger lives in a Faust table.

JSON rather than pickle so a changelog topic stays readable, and safe to
decode across code versions: only dataclasses and enums defined in `domain`
are rebuilt (found by scanning every `domain` module, so a new one is picked
up without touching this file). A field added later with a default decodes
from older bytes.

Tags: {"$c": class, field: value, ...} dataclass, {"$e": enum, "v": value}
enum member, {"$f": "n/d"} Fraction, {"$d": ...} date, {"$t": ...} datetime
(RFC 3339 with its offset), {"$s": [...]} frozenset (items in a canonical
order), {"$m": {...}} dict with str keys (sorted). JSON arrays come back as
tuples (the domain uses tuples only). The same value always gives the same
bytes.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import json
import pkgutil
from datetime import date, datetime
from fractions import Fraction
from types import ModuleType
from typing import Any

import domain


class StateCodecError(ValueError):
    """The value cannot be stored, or the stored bytes do not describe a known domain value."""


def _domain_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{domain.__name__}.{info.name}")
        for info in pkgutil.iter_modules(domain.__path__)
    ]


def _registry(modules: list[ModuleType]) -> tuple[dict[str, type], frozenset[str]]:
    """Class name → class for every domain dataclass and enum; names defined twice are left out."""
    found: dict[str, type] = {}
    ambiguous: set[str] = set()
    for module in modules:
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ != module.__name__:
                continue  # imported, registered by its own module
            if not (dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum)):
                continue
            if name in found and found[name] is not obj:
                ambiguous.add(name)
            found[name] = obj
    for name in ambiguous:
        del found[name]
    return found, frozenset(ambiguous)


CLASSES, AMBIGUOUS = _registry(_domain_modules())


def _registered(name: str) -> type:
    if name in AMBIGUOUS:
        raise StateCodecError(f"{name} is defined in two domain modules; rename one of them")
    cls = CLASSES.get(name)
    if cls is None:
        raise StateCodecError(f"unknown class tag {name!r}: not a domain dataclass or enum")
    return cls


def _canonical(encoded: Any) -> str:
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _encode(value: Any) -> Any:
    # Enums first: a StrEnum is also a str and would otherwise lose its type.
    if isinstance(value, enum.Enum):
        if _registered(type(value).__name__) is not type(value):
            raise StateCodecError(f"{type(value).__qualname__} is not a domain enum")
        return {"$e": type(value).__name__, "v": value.value}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        raise StateCodecError(f"refusing float {value!r}: domain values are exact")
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
        if _registered(name) is not type(value):
            raise StateCodecError(f"{type(value).__qualname__} is not a domain dataclass")
        record: dict[str, Any] = {"$c": name}
        for field in dataclasses.fields(value):
            record[field.name] = _encode(getattr(value, field.name))
        return record
    if isinstance(value, frozenset):
        return {"$s": sorted((_encode(item) for item in value), key=_canonical)}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise StateCodecError("only dicts with str keys can be stored")
        return {"$m": {key: _encode(value[key]) for key in sorted(value)}}
    raise StateCodecError(f"cannot encode {type(value).__qualname__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(item) for item in value)
    if not isinstance(value, dict):
        return value
    if "$c" in value:
        cls = _registered(value["$c"])
        if not dataclasses.is_dataclass(cls):
            raise StateCodecError(f"{value['$c']!r} is not a dataclass")
        kwargs = {k: _decode(v) for k, v in value.items() if k != "$c"}
        try:
            return cls(**kwargs)
        except TypeError as exc:  # a field renamed or removed since the bytes were written
            raise StateCodecError(f"cannot rebuild {value['$c']}: {exc}") from exc
    if "$f" in value:
        return Fraction(value["$f"])
    if "$t" in value:
        return datetime.fromisoformat(value["$t"])
    if "$d" in value:
        return date.fromisoformat(value["$d"])
    if "$e" in value:
        enum_cls = _registered(value["$e"])
        if not issubclass(enum_cls, enum.Enum):
            raise StateCodecError(f"{value['$e']!r} is not an enum")
        return enum_cls(value["v"])
    if "$s" in value:
        return frozenset(_decode(item) for item in value["$s"])
    if "$m" in value:
        return {key: _decode(item) for key, item in value["$m"].items()}
    raise StateCodecError(f"untagged object with keys {sorted(value)}")


def encode_state(value: Any) -> bytes:
    """Compact UTF-8 JSON of a domain value; raises StateCodecError for anything unregistered."""
    return json.dumps(_encode(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_state(raw: bytes) -> Any:
    """The value `encode_state` wrote; StateCodecError for bytes it could not have written."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise StateCodecError(f"stored state is not JSON: {exc}") from exc
    try:
        return _decode(document)
    except StateCodecError:
        raise
    except (ValueError, TypeError, KeyError, ZeroDivisionError) as exc:
        raise StateCodecError(f"stored state is malformed: {exc}") from exc
