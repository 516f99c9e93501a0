"""The event-id registry: the one place that rules on `duplicate_conflict` (SPEC §3, §4.6).

The first content to reach the registry under an id wins. Every later claim with
other content is dead-lettered here, once, and each asset it named is told to
drop it (`Revoke`): an asset never dead-letters a conflict itself, so a message
whose id conflicts on several assets still ends in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.idempotency import Seen, classify
from domain.ledger_types import DeadLetter
from domain.reasons import ReasonCode
from service.messages import Claim, Effect, Revoke


@dataclass(frozen=True, slots=True)
class Ruling:
    """The registry's answer to one claim: what it now stores, what to send."""

    seen: Seen
    winner: str  # the fingerprint stored under the id after this claim
    effects: tuple[Effect, ...]


def rule(stored: str | None, claim: Claim) -> Ruling:
    """Judge `claim` against the fingerprint stored under its id (None: first sight)."""
    seen = classify(stored, claim.fingerprint)
    if seen is not Seen.CONFLICT:
        return Ruling(seen, claim.fingerprint, ())
    letter = DeadLetter(
        event_id=claim.event_id,
        reason_code=ReasonCode.DUPLICATE_CONFLICT,
        reason=f"event id {claim.event_id!r} was seen before with different content",
        source=claim.source,
        dead_lettered_at=claim.received_at,
    )
    revokes = tuple(Revoke(asset, claim.event_id, claim.fingerprint) for asset in claim.asset_ids)
    return Ruling(seen, stored or claim.fingerprint, (letter, *revokes))
