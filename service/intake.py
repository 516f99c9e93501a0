"""Intake: one input message → its asset deliveries and its claim, or an early dead letter.

1. Decode (schemas.decode never raises): `invalid_json`, `schema_violation` and
   `unknown_type` end here, as dead letters with the original bytes.
2. One `Deliver` per asset the message concerns (an order fans out one per line),
   each carrying the message's source so a later dead letter has its bytes.
3. One `Claim` for the event-id registry, which rules on conflicts (SPEC §3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from domain.ledger_types import DeadLetter, Delivery, Source
from schemas.decode import Decoded, Rejection, decode
from service.messages import Claim, Deliver, Effect

# Every line of an order keeps the order's bytes for a possible later dead letter. Past
# this size each line keeps an excerpt instead — the envelope with only that line — so
# a 500-line order does not store its whole body 500 times.
FULL_PAYLOAD_LIMIT = 8 * 1024


@dataclass(frozen=True, slots=True)
class Intake:
    """What became of one input message at intake."""

    effects: tuple[Effect, ...]
    rejected: DeadLetter | None = None  # set when the message ended here


def intake(raw: bytes | None, source: Source, now: datetime) -> Intake:
    """Decode one input message (a tombstone, no value, is not JSON either)."""
    # Step 1
    decoded = decode(raw if raw is not None else b"")
    if isinstance(decoded, Rejection):
        letter = DeadLetter(
            event_id=decoded.event_id,
            reason_code=decoded.reason_code,
            reason=decoded.reason,
            source=source,
            dead_lettered_at=now,
        )
        return Intake((letter,), letter)
    # Step 2
    deliveries = tuple(Deliver(d) for d in deliveries_for(decoded, source, now))
    # Step 3
    assets = tuple(dict.fromkeys(d.asset_id for d in deliveries))
    claim = Claim(decoded.event_id, decoded.fingerprint, assets, source, now)
    return Intake((*deliveries, claim))


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
