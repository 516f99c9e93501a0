"""Corrections (SPEC §9.3): which voids apply, which events they take out, which are pending.

A void takes every event of the asset's set with its `voided_event_id` out of the
set, wherever it sorts and whether it applied or was pending. The rule is a
function of the set alone, so a void that arrives before its event applies the
moment the event arrives, and arrival order never matters:

- its event is in the set → applied, listed in `voided_events`;
- it names a void → pending `invalid_void`;
- otherwise → pending `unknown_event` (the event has not arrived, or is not one
  this asset received: a transfer target's creation, an automatic renewal).

Two voids of one event both apply and are both listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.events import EventVoided, FoldEvent, TransferReceived
from domain.reasons import ReasonCode
from domain.state import PendingEvent, VoidedEvent

VOID_TYPE = "asset.event_voided"


@dataclass(frozen=True, slots=True)
class VoidRuling:
    """What the voids of one asset do to its set of events."""

    voided_ids: frozenset[str]  # event ids taken out of the set
    listing: tuple[VoidedEvent, ...]  # applied voids, sorted by (event_id, voided_by)
    pending: tuple[PendingEvent, ...]  # voids that cannot apply, sorted by id


NO_VOIDS = VoidRuling(frozenset(), (), ())


def can_be_voided(event: FoldEvent) -> bool:
    """Only events the asset received: a transfer or swap target's creation is derived."""
    return not isinstance(event, TransferReceived)


def rule_voids(voids: Sequence[EventVoided], events: Iterable[FoldEvent]) -> VoidRuling:
    """Judge every void against the asset's other events (SPEC §9.3)."""
    if not voids:
        return NO_VOIDS
    present = {e.event_id for e in events if can_be_voided(e)}
    void_ids = {v.event_id for v in voids}
    voided: set[str] = set()
    listing: list[VoidedEvent] = []
    pending: list[PendingEvent] = []
    for void in sorted(voids, key=lambda v: v.event_id):
        target = void.voided_event_id
        if target in present:
            voided.add(target)
            listing.append(VoidedEvent(target, void.event_id, void.reason))
            continue
        if target in void_ids:
            code = ReasonCode.INVALID_VOID
            reason = f"event {target} is itself a void; a void cannot be voided"
        else:
            code = ReasonCode.UNKNOWN_EVENT
            reason = f"this asset has not received an event {target} that can be voided"
        pending.append(PendingEvent(void.action_id, void.event_id, VOID_TYPE, None, code, reason))
    listing.sort(key=lambda v: (v.event_id, v.voided_by))
    return VoidRuling(frozenset(voided), tuple(listing), tuple(pending))
