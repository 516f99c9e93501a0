"""Per-message steps shared by the worker and `assetstream replay`.

decode → (early rejection | decoded event) → one Delivery per asset it concerns.
Pure functions: the caller supplies the source coordinates and the clock.
"""

from __future__ import annotations

from datetime import datetime

from domain.ledger_types import DeadLetter, Delivery, Source
from schemas.decode import Decoded, Rejection, decode

__all__ = ["Decoded", "Rejection", "dead_letter_for_rejection", "decode_message", "deliveries_for"]


def decode_message(raw: bytes | None, source: Source) -> Decoded | Rejection:
    """Decode one input message; a tombstone (no value) is not JSON either."""
    return decode(raw if raw is not None else b"")


def deliveries_for(decoded: Decoded, source: Source, received_at: datetime) -> list[Delivery]:
    """One delivery per asset event (an order fans out one per line), keyed by `event.asset_id`."""
    return [Delivery(event, decoded.fingerprint, source, received_at) for event in decoded.events]


def dead_letter_for_rejection(rejection: Rejection, source: Source, now: datetime) -> DeadLetter:
    return DeadLetter(
        event_id=rejection.event_id,
        reason_code=rejection.reason_code,
        reason=rejection.reason,
        source=source,
        dead_lettered_at=now,
    )
