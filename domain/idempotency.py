"""Event-id idempotency (SPEC §3): same id + same content = duplicate, else conflict."""

from enum import StrEnum


class Seen(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


def classify(previous_fingerprint: str | None, fingerprint: str) -> Seen:
    """Compare a message's content digest with the one first seen under its id."""
    if previous_fingerprint is None:
        return Seen.NEW
    return Seen.DUPLICATE if previous_fingerprint == fingerprint else Seen.CONFLICT
