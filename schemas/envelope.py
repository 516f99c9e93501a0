"""The CloudEvents 1.0 structured-mode envelope every input message carries (SPEC §3).

Forward compatibility: unknown extra fields, in the envelope (CloudEvents
extensions such as `traceparent`) or inside `data`, are ignored and dropped,
so a producer may add fields before any consumer reads them. They are not
part of the fingerprint either: adding one does not turn a redelivery into
a `duplicate_conflict`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.types import NonEmptyStr, WireTime


class WireModel(BaseModel):
    """Base of every input model: frozen, extra fields ignored (see module docstring)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(WireModel):
    """The CloudEvents attributes; `time` is normalised to an aware UTC datetime."""

    specversion: Literal["1.0"]
    id: NonEmptyStr
    source: NonEmptyStr
    type: NonEmptyStr
    time: WireTime
