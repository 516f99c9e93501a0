"""Per-message steps shared by the worker and `assetstream replay`.

decode → (early rejection | decoded event) → one Delivery per asset it concerns.
Pure functions: the caller supplies the source coordinates and the clock.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from domain.ledger_types import DeadLetter, Delivery, Source
from schemas.decode import Decoded, Rejection, decode

# An order's bytes travel with each of its lines (a line may be dead-lettered later, with
# its payload). Past this size a 500-line order would copy ~1 MiB per line into the asset
# tables, so each line then carries its own excerpt: the envelope with only that line.
FULL_PAYLOAD_LIMIT = 64 * 1024

__all__ = ["Decoded", "Rejection", "dead_letter_for_rejection", "decode_message", "deliveries_for"]


def decode_message(raw: bytes | None, source: Source) -> Decoded | Rejection:
    """Decode one input message; a tombstone (no value) is not JSON either."""
    return decode(raw if raw is not None else b"")


def deliveries_for(decoded: Decoded, source: Source, received_at: datetime) -> list[Delivery]:
    """One delivery per asset event (an order fans out one per line), keyed by `event.asset_id`."""
    if len(decoded.events) > 1 and len(source.payload) > FULL_PAYLOAD_LIMIT:
        return [
            Delivery(event, decoded.fingerprint, _line_excerpt(decoded, source, index), received_at)
            for index, event in enumerate(decoded.events)
        ]
    return [Delivery(event, decoded.fingerprint, source, received_at) for event in decoded.events]


def _line_excerpt(decoded: Decoded, source: Source, index: int) -> Source:
    document = decoded.model.model_dump(mode="json")
    document["data"]["lines"] = [document["data"]["lines"][index]]
    return replace(
        source, payload=json.dumps(document, separators=(",", ":")), payload_encoding=None
    )


def dead_letter_for_rejection(rejection: Rejection, source: Source, now: datetime) -> DeadLetter:
    return DeadLetter(
        event_id=rejection.event_id,
        reason_code=rejection.reason_code,
        reason=rejection.reason,
        source=source,
        dead_lettered_at=now,
    )
