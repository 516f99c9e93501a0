"""The engine with no Kafka: what the worker does per message, in memory, in file order.

`assetstream replay` drives this; tests use it as the oracle the Kafka path
must match. The end of the input ends every grace period (SPEC §7).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from domain.idempotency import Seen, classify
from domain.ledger import AssetLedger, expire, new_ledger, receive
from domain.ledger_types import DeadLetter, Delivery, Source, Step
from domain.reasons import ReasonCode
from domain.snapshot_types import AssetSnapshot
from streams.pipeline import Rejection, dead_letter_for_rejection, decode_message, deliveries_for


@dataclass
class ReplayEngine:
    """In-memory ledgers, event-id fingerprints and outputs for one replay."""

    as_of: date
    source_name: str
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))
    ledgers: dict[str, AssetLedger] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    snapshots: dict[str, AssetSnapshot] = field(default_factory=dict)
    rejected: list[DeadLetter] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    messages: int = 0

    def feed(self, raw: bytes, line_number: int) -> None:
        """One input line: decode, check its id, fan out to its assets."""
        self.messages += 1
        source = Source.from_bytes(self.source_name, None, line_number, None, raw)
        decoded = decode_message(raw, source)
        if isinstance(decoded, Rejection):
            self._reject(dead_letter_for_rejection(decoded, source, self.clock))
            return
        seen = classify(self.fingerprints.get(decoded.event_id), decoded.fingerprint)
        if seen is Seen.CONFLICT:
            self._reject(
                DeadLetter(
                    event_id=decoded.event_id,
                    reason_code=ReasonCode.DUPLICATE_CONFLICT,
                    reason=f"event id {decoded.event_id!r} was seen before with different content",
                    source=source,
                    dead_lettered_at=self.clock,
                )
            )
            return
        self.fingerprints.setdefault(decoded.event_id, decoded.fingerprint)
        for delivery in deliveries_for(decoded, source, self.clock):
            self._deliver(delivery)

    def finish(self) -> None:
        """End of input: every grace period ends, so whatever is still pending is rejected."""
        for asset_id in sorted(self.ledgers):
            step = expire(self.ledgers[asset_id], as_of=self.as_of, now=self.clock, grace=None)
            for delivery in self._adopt(asset_id, step):
                self._deliver(delivery)

    def _deliver(self, first: Delivery) -> None:
        # Transfers fan out to their targets breadth-first, as the keyed topic would.
        queue: deque[Delivery] = deque([first])
        while queue:
            delivery = queue.popleft()
            asset_id = delivery.event.asset_id
            ledger = self.ledgers.get(asset_id) or new_ledger(asset_id)
            step = receive(ledger, delivery, as_of=self.as_of, now=self.clock)
            if step.outcome is not None and delivery.source is not None:
                self.outcomes[step.outcome.value] += 1
            queue.extend(self._adopt(asset_id, step))

    def _adopt(self, asset_id: str, step: Step) -> list[Delivery]:
        if isinstance(step.ledger, AssetLedger):
            self.ledgers[asset_id] = step.ledger
        snapshot = step.snapshot
        if snapshot is not None:
            self.snapshots[asset_id] = snapshot
        if step.retracted:
            self.snapshots.pop(asset_id, None)
        for letter in step.dead_letters:
            self._reject(letter)
        return [
            Delivery(t, f"transfer:{t.event_id}:{t.source_revision}", None, self.clock)
            for t in step.transfers
        ]

    def _reject(self, letter: DeadLetter) -> None:
        self.rejected.append(letter)
        self.outcomes[f"dead_lettered:{letter.reason_code.value}"] += 1
